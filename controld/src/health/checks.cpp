// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/health/checks.h"

#include <libpq-fe.h>

#include <algorithm>
#include <stdexcept>

#include "levqor/controld/core/dependency_error.h"
#include "levqor/controld/core/urls.h"
#include "levqor/controld/net/redis_connection.h"

namespace levqor::controld::health {

CheckResult check_redis(const std::optional<std::string>& url, std::chrono::milliseconds timeout) {
    if (!url) return {"not_configured", ""};
    try {
        // Connects as the queue does: AUTH [user] password, SELECT db.
        net::RedisConnection redis(redis_server_url(*url), timeout, timeout);
        const auto pong = redis.command({"PING"});
        // The reply text is Redis's (e.g. WRONGPASS ...), never the password.
        if (net::reply_is_error(pong.get())) return {"down", net::reply_string(pong.get())};
        if (net::reply_string(pong.get()) != "PONG") return {"down", "unexpected reply to PING"};
    } catch (const std::invalid_argument& e) {
        return {"down", e.what()};
    } catch (const DependencyError& e) {
        return {"down", e.what()};
    }
    return {"ok", ""};
}

CheckResult check_postgres(const std::optional<std::string>& url, std::chrono::milliseconds timeout) {
    if (!url) return {"not_configured", ""};
    const auto seconds = std::max<long>(2, static_cast<long>((timeout.count() + 999) / 1000));
    const std::string connect_timeout = std::to_string(seconds);
    // expand_dbname: the "dbname" value is the whole URL or conninfo string;
    // the keywords after it override what it says.
    const char* keywords[] = {"dbname", "connect_timeout", nullptr};
    const char* values[] = {url->c_str(), connect_timeout.c_str(), nullptr};
    switch (PQpingParams(keywords, values, /*expand_dbname=*/1)) {
        case PQPING_OK:
            return {"ok", ""};
        case PQPING_REJECT:
            return {"down", "the server rejects connections (starting up or shutting down)"};
        case PQPING_NO_RESPONSE:
            return {"down", "no response from the server"};
        case PQPING_NO_ATTEMPT:
            return {"down", "invalid connection parameters"};
    }
    return {"down", "unknown PQping result"};
}

}  // namespace levqor::controld::health
