// SPDX-License-Identifier: Apache-2.0
// Bearer-token authorization for routes: api::Guard wraps a route handler so
// that it runs only for a token of the role it requires (401 without a valid
// token, 403 for the wrong role) and counts the failures. The handlers it
// builds run concurrently; the TokenStore they read must outlive them.
#pragma once

#include <functional>
#include <optional>

#include <httplib.h>

#include "levqor/controld/api/router.h"
#include "levqor/controld/auth/token_store.h"
#include "levqor/controld/metrics/registry.h"

namespace levqor::controld::api {

// Bearer-token checks in front of route handlers (docs/api.md,
// "Authentication"):
// - no `Authorization: Bearer <token>` header, or a token that matches no
//   role: 401 {"error":"unauthorized",...} with WWW-Authenticate: Bearer;
// - a valid token of a role the route does not accept (a producer token on
//   an admin route): 403 {"error":"forbidden",...}.
// The admin role is accepted wherever the producer role is. Failures are
// counted in levqor_auth_failures_total{reason="missing|invalid|forbidden"};
// the token itself is never logged.
//
// Thread-safety: require() builds handlers once; the handlers run
// concurrently. The TokenStore must outlive the handlers.
class Guard {
public:
    using Handler = std::function<void(const httplib::Request&, httplib::Response&, auth::Role role)>;

    Guard(const auth::TokenStore& tokens, metrics::Registry& registry);

    Router::Handler require(auth::Role role, Handler handler) const;

    // The role of the request's bearer token, or nullopt (no token, or one
    // that matches no role). Counts nothing: for the front's classification
    // and for routes that show more to a token holder.
    std::optional<auth::Role> role_of(const httplib::Request& req) const;

private:
    const auth::TokenStore& tokens_;
    metrics::Counter& missing_;
    metrics::Counter& invalid_;
    metrics::Counter& forbidden_;
};

}  // namespace levqor::controld::api
