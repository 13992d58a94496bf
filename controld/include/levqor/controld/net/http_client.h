// SPDX-License-Identifier: Apache-2.0
// controld's outgoing HTTP (libcurl): requests performed one at a time or
// concurrently, each within a deadline, never through environment proxies nor
// following redirects; and the process-wide libcurl initialisation. perform()
// and perform_all() are thread-safe; CurlGlobal is constructed once in main().
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace levqor::controld::net {

// libcurl's global state. Construct one in main() before any thread starts
// (curl_global_init is not thread-safe on every platform) and keep it for
// the process's lifetime. Tests that use the client do the same.
class CurlGlobal {
public:
    CurlGlobal();
    ~CurlGlobal();
    CurlGlobal(const CurlGlobal&) = delete;
    CurlGlobal& operator=(const CurlGlobal&) = delete;
};

struct HttpRequest {
    std::string method = "GET";
    std::string url;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    // The whole exchange, connect to last byte.
    std::chrono::milliseconds timeout{1000};
    // A longer response is cut off and reported as an error.
    std::size_t max_response_bytes = 16 * 1024 * 1024;
};

struct HttpResponse {
    std::string error;  // empty when an HTTP response arrived
    long status = 0;    // the HTTP status when error is empty
    std::string body;
    std::map<std::string, std::string> headers;  // lower-case names; the last value wins
    std::chrono::duration<double> elapsed{0};

    bool transport_ok() const { return error.empty(); }
};

// Performs the requests concurrently (one curl multi handle) and returns the
// responses in the same order. Never throws for network problems: they are
// in HttpResponse::error ("timed out after 1000 ms", "connection refused").
// Proxies from the environment are ignored (controld talks to its own
// infrastructure) and redirects are not followed.
// Thread-safety: a free function; concurrent calls are independent.
std::vector<HttpResponse> perform_all(const std::vector<HttpRequest>& requests);

HttpResponse perform(const HttpRequest& request);

}  // namespace levqor::controld::net
