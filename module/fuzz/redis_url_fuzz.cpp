// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for the Redis URL grammar (levqor::parse_redis_url),
// which nginx (levqor_limit_zone redis=) and levqor-controld (REDIS_URL) read:
// operator input that carries a password.
//
// Invariants: a parse either succeeds or says why, quoting the URL as
// mask_url() shows it; what the parser takes as the credentials is exactly
// what that masking hides; an accepted URL has the shape its kind
// promises (one host for a server, a master name for Sentinel, ports in
// 1..65535, an absolute socket path, a database in range).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "levqor/redis_url.h"
#include "levqor/url_credentials.h"

namespace {

void check(bool ok) {
    if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using levqor::RedisUrl;
    const std::string_view url(reinterpret_cast<const char*>(data), size);
    const auto parsed = levqor::parse_redis_url(url);
    const std::string masked = levqor::mask_url(url);
    if (!parsed) {
        check(parsed.error().find("\"" + masked + "\"") != std::string::npos);
        return 0;
    }
    const RedisUrl& u = parsed.value();
    if (!u.password.empty()) {
        // The parser's credentials are exactly the span the masking hides.
        const auto start = url.find("://") + 3;
        const auto at = url.rfind('@');
        check(at != std::string_view::npos && url.substr(start, at - start) == u.user + ":" + u.password);
        check(masked == std::string(url.substr(0, start)) + "***" + std::string(url.substr(at)));
    }
    check(u.db >= 0 && u.db <= levqor::kRedisMaxDb);
    for (const auto& host : u.hosts) check(!host.host.empty() && host.port >= 1 && host.port <= 65535);
    switch (u.kind) {
        case RedisUrl::Kind::server:
            check(u.hosts.size() == 1);
            break;
        case RedisUrl::Kind::unix_socket:
            check(u.hosts.empty() && !u.socket_path.empty() && u.socket_path[0] == '/');
            break;
        case RedisUrl::Kind::sentinel:
            check(!u.hosts.empty() && !u.master_name.empty());
            break;
        case RedisUrl::Kind::cluster:
            check(!u.hosts.empty() && u.db == 0);
            break;
    }
    return 0;
}
