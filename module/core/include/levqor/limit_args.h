// SPDX-License-Identifier: Apache-2.0
// The arguments of levqor_limit_zone (after <name>:<size>) and levqor_limit,
// parsed and checked without nginx: every key, bound and message of the two
// directives lives here (the glue then compiles the values that hold nginx
// variables and finds the zones). Messages name the bad argument as written.
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "levqor/address_prefix.h"
#include "levqor/limit_headers.h"
#include "levqor/parsed.h"
#include "levqor/limit_redis.h"

namespace levqor::limit {

// A zone whose buckets live in Redis: redis=<url> [redis_timeout=<ms>]
// [on_backend_error=local|allow|deny] [nodes=<n>] key_secret_file=<path>
// [sentinel_auth_file=<path>].
struct RedisOptions {
    enum class OnError : std::uint8_t { Local, Allow, Deny };
    redis::Endpoint endpoint;  // one server, or Sentinels and a master name
    std::uint32_t timeout_ms = 5;
    OnError on_error = OnError::Local;
    std::uint64_t nodes = 1;        // nginx nodes sharing the zone: the local fallback gets 1/nodes of each plan
    redis::KeySecret key_secret{};  // set by the glue from key_secret_file=
};
inline constexpr std::uint32_t kMaxRedisTimeoutMs = 60000;
inline constexpr std::uint64_t kMaxNodes = 10000;

struct ZoneArgs {
    std::optional<RedisOptions> redis;    // nullopt: a local zone
    std::string_view key_secret_file;     // a view into params; required with redis= (read by the glue)
    std::string_view sentinel_auth_file;  // a view into params; only with redis=redis-sentinel:// (read by the glue)
};
// levqor_limit_zone <name>:<size> [redis=<url> ...]: the parameters after
// <name>:<size>. Resolves the Redis host (configuration time only). A redis=
// zone without key_secret_file= is refused (fail closed): a secret made up
// per node would give every node buckets of its own in Redis.
Parsed<ZoneArgs> parse_zone_args(const std::vector<std::string_view>& params);

// levqor_limit zone=<name> key=<value> plan=<value> [ip=<value>|off]
// [ip_prefix6=<bits>] [cost=<n>] [dry_run]. Values are views into params;
// key, plan and ip may hold nginx variables (compiled by the caller).
struct RuleArgs {
    std::string_view zone;
    std::string_view key;
    std::string_view plan;
    std::optional<std::string_view> ip;  // nullopt: not given ($binary_remote_addr)
    bool ip_off = false;                 // ip=off: no per-address bucket
    unsigned ip_prefix6 = kDefaultIpPrefix6;
    std::uint64_t cost = 1;
    bool dry_run = false;
};
Parsed<RuleArgs> parse_rule_args(const std::vector<std::string_view>& params);

// levqor_limit_status <code>: 400 to 599.
Parsed<unsigned> parse_limit_status(std::string_view value);
// levqor_limit_headers draft|legacy|both|off
Parsed<HeaderMode> parse_header_mode(std::string_view value);
// levqor_limit_log_level info|notice|warn|error (the glue maps it to nginx's levels)
enum class LogLevel : std::uint8_t { Info, Notice, Warn, Error };
Parsed<LogLevel> parse_log_level(std::string_view value);

}  // namespace levqor::limit
