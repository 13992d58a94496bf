// SPDX-License-Identifier: Apache-2.0
// The Redis URL grammar that nginx (`levqor_limit_zone ... redis=<url>`) and
// levqor-controld (REDIS_URL, redis_url) share, so one URL means the same
// thing to both (design.md, "Redis deployments"):
//
//   redis://[[user]:password@]host[:port][/db]                  one server
//   unix:/path[?db=N]                                           one server, local socket
//   redis-sentinel://[[user]:password@]host[:port][,host[:port]...]/<master>[/db]
//   redis-cluster://[[user]:password@]host[:port][,host[:port]...]
//
// Parsing only: no name resolution, no connection. A program that does not
// implement a form refuses it at configuration time (kind() says which
// form). Pure functions on values; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "levqor/parsed.h"

namespace levqor {

struct RedisHost {
    std::string host;  // a name or an address; an IPv6 literal without its brackets
    int port = 6379;
};

struct RedisUrl {
    enum class Kind { server, unix_socket, sentinel, cluster };
    Kind kind = Kind::server;
    // Credentials, as written (no percent-decoding). An empty password
    // means no AUTH; a user means AUTH <user> <password> (a Redis 6 ACL
    // user), no user AUTH <password> (the default user).
    std::string user;
    std::string password;
    // server: one; sentinel: the Sentinels to ask; cluster: the seed nodes.
    std::vector<RedisHost> hosts;
    std::string socket_path;  // unix_socket: absolute
    std::string master_name;  // sentinel
    int db = 0;               // cluster: always 0
};

inline constexpr int kRedisMaxDb = 1 << 20;

// Errors name the URL with its credentials masked and say what to write.
Parsed<RedisUrl> parse_redis_url(std::string_view url);

// "redis://", "unix:", "redis-sentinel://", "redis-cluster://": for
// "... is not supported" messages.
std::string_view redis_url_scheme(RedisUrl::Kind kind);

}  // namespace levqor
