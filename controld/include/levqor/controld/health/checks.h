// SPDX-License-Identifier: Apache-2.0
// The dependency probes behind /healthz: Redis (PING) and PostgreSQL (PQping),
// each bounded by a timeout and saying why a dependency is down without
// showing credentials. Free functions; concurrent calls are independent.
#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace levqor::controld::health {

// The state of one backend dependency as /healthz reports it.
struct CheckResult {
    std::string state;  // "ok", "down" or "not_configured"
    std::string error;  // why, when down (no credentials in it)
};

// Connects to Redis with net::RedisConnection, as the queue does (AUTH
// [user] password if the URL has credentials, SELECT db), and sends PING;
// "ok" on PONG. Unset URL: "not_configured". Bounded by `timeout`.
CheckResult check_redis(const std::optional<std::string>& url, std::chrono::milliseconds timeout);

// libpq's PQping on the URL (the server accepts connections; no login is
// attempted), with a connect timeout of `timeout` rounded up to whole
// seconds (at least 2, libpq's minimum). Unset URL: "not_configured".
CheckResult check_postgres(const std::optional<std::string>& url, std::chrono::milliseconds timeout);

}  // namespace levqor::controld::health
