// SPDX-License-Identifier: Apache-2.0
// levqorctl's client for controld's API (one call: the parsed JSON or a
// sentence saying what went wrong) and the exit codes of its commands.
// ApiClient is not shared: one per thread.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "levqor/controld/ctl/base_url.h"

namespace levqor::controld::ctl {

// What a levqorctl command prints and how it exits: 0 success, 1 the
// command failed (unreachable, refused, unhealthy), 2 usage error.
struct CommandResult {
    int exit_code = 0;
    std::string out;  // for stdout
    std::string err;  // for stderr
};
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

// The first token of a token file (same format as controld's: one token per
// line, '#' comments). Throws std::invalid_argument naming the file.
std::string read_token_file(const std::string& path);

// One call to controld's API. Either `error` is set (unreachable, timeout,
// a non-2xx answer: "GET http://.../ops/flags: HTTP 401 unauthorized: the
// bearer token is not valid") or `json` holds the parsed 2xx body.
struct ApiResult {
    std::optional<std::string> error;
    int status = 0;
    std::string body;
    nlohmann::json json;
    std::string date;  // the answer's Date header ("" if none): controld's clock
};

// Talks to controld: base URL, timeout, and the bearer token if any (sent
// only when set). Thread-safety: one per thread.
class ApiClient {
public:
    ApiClient(BaseUrl base, std::chrono::milliseconds timeout, std::optional<std::string> token);

    ApiResult get(const std::string& path) const;
    ApiResult put(const std::string& path, const nlohmann::json& body) const;
    ApiResult post(const std::string& path, const nlohmann::json& body) const;
    const BaseUrl& base() const { return base_; }

private:
    ApiResult call(const std::string& method, const std::string& path, const std::string& body) const;

    BaseUrl base_;
    std::chrono::milliseconds timeout_;
    std::optional<std::string> token_;
};

}  // namespace levqor::controld::ctl
