// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/api/auth.h"

#include <cctype>
#include <optional>
#include <string_view>

#include "levqor/controld/api/errors.h"

namespace levqor::controld::api {
namespace {

constexpr const char* kChallenge = "Bearer realm=\"levqor-controld\"";

// The token of "Bearer <token>" (scheme case-insensitive), or nullopt.
std::optional<std::string_view> bearer_token(std::string_view header) {
    constexpr std::string_view kScheme = "bearer";
    if (header.size() <= kScheme.size() || header[kScheme.size()] != ' ') return std::nullopt;
    for (std::size_t i = 0; i < kScheme.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(header[i])) != kScheme[i]) return std::nullopt;
    }
    auto token = header.substr(kScheme.size() + 1);
    while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
    while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
    if (token.empty()) return std::nullopt;
    return token;
}

metrics::Family<metrics::Counter>& failures(metrics::Registry& registry) {
    return registry.counter("levqor_auth_failures_total",
                            "Requests refused by the bearer-token check: missing (no token), "
                            "invalid (no such token), forbidden (the wrong role).",
                            {"reason"});
}

}  // namespace

Guard::Guard(const auth::TokenStore& tokens, metrics::Registry& registry)
    : tokens_(tokens),
      missing_(failures(registry).labels({"missing"})),
      invalid_(failures(registry).labels({"invalid"})),
      forbidden_(failures(registry).labels({"forbidden"})) {}

std::optional<auth::Role> Guard::role_of(const httplib::Request& req) const {
    const std::string authorization = req.get_header_value("Authorization");
    const auto token = bearer_token(authorization);
    if (!token) return std::nullopt;
    return tokens_.authenticate(*token);
}

Router::Handler Guard::require(auth::Role role, Handler handler) const {
    return [this, role, handler = std::move(handler)](const httplib::Request& req, httplib::Response& res) {
        const auto needed = std::string(auth::to_string(role));
        const std::string authorization = req.get_header_value("Authorization");
        const auto token = bearer_token(authorization);
        if (!token) {
            missing_.inc();
            res.set_header("WWW-Authenticate", kChallenge);
            set_error(res, 401, "unauthorized", "this route needs Authorization: Bearer <" + needed + " token>");
            return;
        }
        const auto found = tokens_.authenticate(*token);
        if (!found) {
            invalid_.inc();
            res.set_header("WWW-Authenticate", std::string(kChallenge) + ", error=\"invalid_token\"");
            std::string message = "the bearer token is not valid";
            if (!tokens_.enabled(role) && !tokens_.enabled(auth::Role::admin)) {
                message += " (no " + needed + " token is configured on this controld)";
            }
            set_error(res, 401, "unauthorized", message);
            return;
        }
        if (role == auth::Role::admin && *found != auth::Role::admin) {
            forbidden_.inc();
            set_error(res, 403, "forbidden",
                      "this route needs the admin token; the " + std::string(auth::to_string(*found)) +
                          " token is not enough");
            return;
        }
        handler(req, res, *found);
    };
}

}  // namespace levqor::controld::api
