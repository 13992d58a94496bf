// SPDX-License-Identifier: Apache-2.0
#include "levqor/limit_args.h"

#include <charconv>
#include <string>

#include "levqor/rate_plan.h"
#include "levqor/url_credentials.h"

namespace levqor::limit {
namespace {

// A decimal from lo to hi (digits only, as nginx's ngx_atoi reads them).
bool parse_in(std::string_view s, std::uint64_t lo, std::uint64_t hi, std::uint64_t& out) {
    if (s.empty()) return false;
    const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && p == s.data() + s.size() && out >= lo && out <= hi;
}

struct KeyValue {
    std::string_view key, value;
    bool has_value;
};
KeyValue split(std::string_view param) {
    const auto eq = param.find('=');
    if (eq == std::string_view::npos) return {param, {}, false};
    return {param.substr(0, eq), param.substr(eq + 1), true};
}

std::string quoted(std::string_view v) { return "\"" + std::string(v) + "\""; }

}  // namespace

Parsed<ZoneArgs> parse_zone_args(const std::vector<std::string_view>& params) {
    using P = Parsed<ZoneArgs>;
    RedisOptions redis;
    bool have_redis = false, have_backend_params = false;
    std::string_view key_secret_file, sentinel_auth_file;
    for (const std::string_view a : params) {
        const auto [k, v, has_value] = split(a);
        std::uint64_t n = 0;
        if (k == "redis" && !v.empty()) {
            auto endpoint = redis::parse_url(v);
            if (!endpoint) return P::failure(endpoint.error());
            redis.endpoint = std::move(endpoint).value();
            have_redis = true;
        } else if (k == "key_secret_file") {
            if (v.empty()) return P::failure("key_secret_file= needs a path");
            key_secret_file = v;
            have_backend_params = true;
        } else if (k == "sentinel_auth_file") {
            if (v.empty()) return P::failure("sentinel_auth_file= needs a path");
            sentinel_auth_file = v;
            have_backend_params = true;
        } else if (k == "redis_timeout") {
            if (!parse_in(v, 1, kMaxRedisTimeoutMs, n)) {
                return P::failure("invalid " + std::string(a) + ", expected 1 to " +
                                  std::to_string(kMaxRedisTimeoutMs) + " (ms)");
            }
            redis.timeout_ms = static_cast<std::uint32_t>(n);
            have_backend_params = true;
        } else if (k == "on_backend_error") {
            if (v == "local") redis.on_error = RedisOptions::OnError::Local;
            else if (v == "allow") redis.on_error = RedisOptions::OnError::Allow;
            else if (v == "deny") redis.on_error = RedisOptions::OnError::Deny;
            else return P::failure("invalid " + std::string(a) + ", expected local, allow or deny");
            have_backend_params = true;
        } else if (k == "nodes") {
            if (!parse_in(v, 1, kMaxNodes, n)) {
                return P::failure("invalid " + std::string(a) + ", expected 1 to " + std::to_string(kMaxNodes));
            }
            redis.nodes = n;
            have_backend_params = true;
        } else {
            return P::failure("invalid parameter " + quoted(mask_url_credentials(a)));
        }
    }
    if (have_backend_params && !have_redis) {
        return P::failure(
            "redis_timeout=, on_backend_error=, nodes=, key_secret_file= and sentinel_auth_file= need redis=<url>");
    }
    if (have_redis && key_secret_file.empty()) {
        return P::failure(
            "redis= needs key_secret_file=<path>: a secret (at least 16 bytes) that names the zone's buckets in Redis, "
            "the same file on every nginx node sharing the zone");
    }
    if (!sentinel_auth_file.empty() && !redis.endpoint.sentinel()) {
        return P::failure("sentinel_auth_file= needs redis=redis-sentinel://...: the other forms ask no Sentinel");
    }
    ZoneArgs args;
    args.key_secret_file = key_secret_file;
    args.sentinel_auth_file = sentinel_auth_file;
    if (have_redis) args.redis = std::move(redis);
    return args;
}

Parsed<RuleArgs> parse_rule_args(const std::vector<std::string_view>& params) {
    using P = Parsed<RuleArgs>;
    RuleArgs rule;
    bool have_key = false, have_plan = false, have_prefix = false;
    for (const std::string_view a : params) {
        const auto [name, value, has_value] = split(a);
        std::uint64_t n = 0;
        if (a == "dry_run") {
            rule.dry_run = true;
        } else if (!has_value) {
            return P::failure("invalid parameter " + quoted(a));
        } else if (name == "zone") {
            if (value.empty()) return P::failure("invalid parameter " + quoted(a));
            rule.zone = value;
        } else if (name == "key") {
            rule.key = value;
            have_key = true;
        } else if (name == "plan") {
            if (value.empty()) return P::failure("invalid parameter " + quoted(a) + ", plan is empty");
            rule.plan = value;
            have_plan = true;
        } else if (name == "ip") {
            // ip=off: no per-IP bucket, the key limit alone (requests without
            // a key then share the plan's anonymous bucket).
            if (value.empty()) return P::failure("invalid parameter \"ip=\", expected ip=<value> or ip=off");
            rule.ip_off = value == "off";
            rule.ip = value;
        } else if (name == "ip_prefix6") {
            if (!parse_in(value, kMinIpPrefix6, kMaxIpPrefix6, n)) {
                return P::failure("invalid " + quoted(a) + ", expected " + std::to_string(kMinIpPrefix6) + " to " +
                                  std::to_string(kMaxIpPrefix6) + " (bits of an IPv6 address)");
            }
            rule.ip_prefix6 = static_cast<unsigned>(n);
            have_prefix = true;
        } else if (name == "cost") {
            if (!parse_in(value, 1, kMaxCost, n)) {
                return P::failure("invalid cost " + quoted(a) + ", expected 1 to " + std::to_string(kMaxCost));
            }
            rule.cost = n;
        } else {
            return P::failure("invalid parameter " + quoted(a));
        }
    }
    if (rule.zone.empty() || !have_key || !have_plan) return P::failure("needs zone=<name> key=<value> plan=<value>");
    if (rule.ip_off && have_prefix) return P::failure("has ip_prefix6= with ip=off (no address is limited)");
    return rule;
}

Parsed<unsigned> parse_limit_status(std::string_view value) {
    std::uint64_t status = 0;
    if (!parse_in(value, 400, 599, status)) {
        return Parsed<unsigned>::failure("invalid status " + quoted(value) + ", expected 400 to 599");
    }
    return static_cast<unsigned>(status);
}

Parsed<HeaderMode> parse_header_mode(std::string_view v) {
    if (v == "draft") return HeaderMode::Draft;
    if (v == "legacy") return HeaderMode::Legacy;
    if (v == "both") return HeaderMode::Both;
    if (v == "off") return HeaderMode::Off;
    return Parsed<HeaderMode>::failure("invalid value " + quoted(v) + ", expected draft, legacy, both or off");
}

Parsed<LogLevel> parse_log_level(std::string_view v) {
    if (v == "info") return LogLevel::Info;
    if (v == "notice") return LogLevel::Notice;
    if (v == "warn") return LogLevel::Warn;
    if (v == "error") return LogLevel::Error;
    return Parsed<LogLevel>::failure("invalid value " + quoted(v) + ", expected info, notice, warn or error");
}

}  // namespace levqor::limit
