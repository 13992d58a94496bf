// SPDX-License-Identifier: Apache-2.0
// The JSON error body every controld error response carries
// ({"error":"<code>","message":"..."}, design.md) and the helpers that put it,
// or any other JSON body, on a response. Pure functions, thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace httplib {
struct Response;
}

namespace levqor::controld::api {

// Every controld error response has this body (design.md, "controld HTTP API"):
//   {"error":"<code>","message":"<human text>"}
// code is a stable snake_case identifier clients may switch on; message is
// for people and may change.
std::string error_body(std::string_view code, std::string_view message);

// The code used when a response has an error status but no body of its own
// (a handler that set only res.status): "not_found", "method_not_allowed", ...
// Falls back to "client_error" / "server_error".
std::string_view error_code_for_status(int status);

// Sets status, Content-Type: application/json and the error body.
void set_error(httplib::Response& res, int status, std::string_view code, std::string_view message);

// Sets a JSON body (already serialised) with Content-Type: application/json.
void set_json(httplib::Response& res, int status, std::string body);

}  // namespace levqor::controld::api
