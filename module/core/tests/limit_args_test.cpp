// SPDX-License-Identifier: Apache-2.0
#include "levqor/limit_args.h"
#include "levqor/rate_plan.h"

#include <gtest/gtest.h>

namespace levqor::limit {
namespace {

std::string zone_error(std::vector<std::string_view> params) {
    const auto z = parse_zone_args(params);
    EXPECT_FALSE(z);
    return z ? std::string() : z.error();
}

std::string rule_error(std::vector<std::string_view> params) {
    const auto r = parse_rule_args(params);
    EXPECT_FALSE(r);
    return r ? std::string() : r.error();
}

TEST(ZoneArgs, NoParametersIsALocalZone) {
    const auto z = parse_zone_args({});
    ASSERT_TRUE(z) << z.error();
    EXPECT_FALSE(z.value().redis);
}

TEST(ZoneArgs, RedisWithDefaults) {
    const auto z = parse_zone_args({"redis=redis://127.0.0.1:6380/2", "key_secret_file=k"});
    ASSERT_TRUE(z) << z.error();
    ASSERT_TRUE(z.value().redis);
    const RedisOptions& r = *z.value().redis;
    EXPECT_EQ(r.endpoint.host, "127.0.0.1");
    EXPECT_EQ(r.endpoint.port, 6380);
    EXPECT_EQ(r.endpoint.db, 2);
    EXPECT_EQ(r.timeout_ms, 5u);
    EXPECT_EQ(r.on_error, RedisOptions::OnError::Local);
    EXPECT_EQ(r.nodes, 1u);
}

TEST(ZoneArgs, EveryBackendParameterInAnyOrder) {
    const auto z = parse_zone_args(
        {"nodes=3", "on_backend_error=deny", "redis_timeout=60000", "redis=unix:/run/r.sock", "key_secret_file=k"});
    ASSERT_TRUE(z) << z.error();
    const RedisOptions& r = *z.value().redis;
    EXPECT_TRUE(r.endpoint.unix_socket);
    EXPECT_EQ(r.timeout_ms, 60000u);
    EXPECT_EQ(r.on_error, RedisOptions::OnError::Deny);
    EXPECT_EQ(r.nodes, 3u);
    EXPECT_EQ(parse_zone_args({"redis=unix:/r", "key_secret_file=k", "on_backend_error=allow"}).value().redis->on_error,
              RedisOptions::OnError::Allow);
    EXPECT_EQ(parse_zone_args({"redis=unix:/r", "key_secret_file=k", "on_backend_error=local"}).value().redis->on_error,
              RedisOptions::OnError::Local);
}

TEST(ZoneArgs, TimeoutIsOneTo60000Milliseconds) {
    EXPECT_EQ(parse_zone_args({"redis=unix:/r", "key_secret_file=k", "redis_timeout=1"}).value().redis->timeout_ms, 1u);
    for (const char* bad : {"redis_timeout=0", "redis_timeout=60001", "redis_timeout=", "redis_timeout",
                            "redis_timeout=-1", "redis_timeout=5ms", "redis_timeout=99999999999999999999999"}) {
        EXPECT_EQ(zone_error({"redis=unix:/r", "key_secret_file=k", bad}),
                  "invalid " + std::string(bad) + ", expected 1 to 60000 (ms)");
    }
}

TEST(ZoneArgs, NodesIsOneTo10000) {
    EXPECT_EQ(parse_zone_args({"redis=unix:/r", "key_secret_file=k", "nodes=10000"}).value().redis->nodes, 10000u);
    EXPECT_EQ(parse_zone_args({"redis=unix:/r", "key_secret_file=k", "nodes=1"}).value().redis->nodes, 1u);
    for (const char* bad : {"nodes=0", "nodes=10001", "nodes=", "nodes=two"}) {
        EXPECT_EQ(zone_error({"redis=unix:/r", "key_secret_file=k", bad}),
                  "invalid " + std::string(bad) + ", expected 1 to 10000");
    }
}

TEST(ZoneArgs, OnBackendErrorIsLocalAllowOrDeny) {
    EXPECT_EQ(zone_error({"redis=unix:/r", "key_secret_file=k", "on_backend_error=open"}),
              "invalid on_backend_error=open, expected local, allow or deny");
}

TEST(ZoneArgs, BackendParametersNeedRedis) {
    for (const char* p :
         {"redis_timeout=10", "on_backend_error=deny", "nodes=2", "key_secret_file=k", "sentinel_auth_file=a"}) {
        EXPECT_EQ(
            zone_error({p}),
            "redis_timeout=, on_backend_error=, nodes=, key_secret_file= and sentinel_auth_file= need redis=<url>");
    }
}

TEST(ZoneArgs, SentinelAuthFileOnlyWithASentinelUrl) {
    const auto z = parse_zone_args(
        {"redis=redis-sentinel://:pw@127.0.0.1:26379/main", "key_secret_file=k", "sentinel_auth_file=/etc/s.auth"});
    ASSERT_TRUE(z) << z.error();
    EXPECT_EQ(z.value().sentinel_auth_file, "/etc/s.auth");
    EXPECT_TRUE(z.value().redis->endpoint.sentinel());
    EXPECT_EQ(z.value().redis->endpoint.master_name, "main");
    EXPECT_EQ(zone_error({"redis=unix:/r", "key_secret_file=k", "sentinel_auth_file=/etc/s.auth"}),
              "sentinel_auth_file= needs redis=redis-sentinel://...: the other forms ask no Sentinel");
    EXPECT_EQ(zone_error({"redis=redis-sentinel://127.0.0.1/m", "key_secret_file=k", "sentinel_auth_file="}),
              "sentinel_auth_file= needs a path");
}

// Fail closed: a per-node secret would split the cluster's buckets.
TEST(ZoneArgs, RedisNeedsAKeySecretFile) {
    const std::string e = zone_error({"redis=unix:/r"});
    EXPECT_EQ(e.rfind("redis= needs key_secret_file=<path>", 0), 0u) << e;
    EXPECT_EQ(zone_error({"redis=unix:/r", "key_secret_file="}), "key_secret_file= needs a path");
    const auto z = parse_zone_args({"key_secret_file=/etc/levqor/redis.key", "redis=unix:/r"});
    ASSERT_TRUE(z) << z.error();
    EXPECT_EQ(z.value().key_secret_file, "/etc/levqor/redis.key");
}

TEST(ZoneArgs, UnknownParametersAreNamedWithTheirPasswordMasked) {
    EXPECT_EQ(zone_error({"size=10m"}), "invalid parameter \"size=10m\"");
    EXPECT_EQ(zone_error({"redis="}), "invalid parameter \"redis=\"");
    EXPECT_EQ(zone_error({"redis://:secret@127.0.0.1:6379"}), "invalid parameter \"redis://***@127.0.0.1:6379\"");
}

TEST(ZoneArgs, BadUrlsReportTheUrlParsersMessage) {
    const std::string e = zone_error({"redis=redis://:secret@127.0.0.1:99999"});
    EXPECT_NE(e.find("invalid port in redis url"), std::string::npos) << e;
    EXPECT_EQ(e.find("secret"), std::string::npos) << e;
}

TEST(RuleArgs, TheThreeRequiredValues) {
    const auto r = parse_rule_args({"zone=api", "key=$http_x_api_key", "plan=$plan"});
    ASSERT_TRUE(r) << r.error();
    EXPECT_EQ(r.value().zone, "api");
    EXPECT_EQ(r.value().key, "$http_x_api_key");
    EXPECT_EQ(r.value().plan, "$plan");
    EXPECT_FALSE(r.value().ip);
    EXPECT_FALSE(r.value().ip_off);
    EXPECT_EQ(r.value().ip_prefix6, kDefaultIpPrefix6);
    EXPECT_EQ(r.value().cost, 1u);
    EXPECT_FALSE(r.value().dry_run);
}

TEST(RuleArgs, EveryOptionalParameter) {
    const auto r = parse_rule_args(
        {"dry_run", "cost=1000000", "ip_prefix6=128", "ip=$http_x_forwarded_for", "plan=free", "key=", "zone=z"});
    ASSERT_TRUE(r) << r.error();
    EXPECT_TRUE(r.value().dry_run);
    EXPECT_EQ(r.value().cost, kMaxCost);
    EXPECT_EQ(r.value().ip_prefix6, 128u);
    EXPECT_EQ(r.value().ip.value_or(""), "$http_x_forwarded_for");
    EXPECT_FALSE(r.value().ip_off);
    EXPECT_EQ(r.value().key, "");  // an empty key is allowed: every request is anonymous
    EXPECT_EQ(parse_rule_args({"zone=z", "key=k", "plan=p", "ip_prefix6=32"}).value().ip_prefix6, 32u);
    EXPECT_EQ(parse_rule_args({"zone=z", "key=k", "plan=p", "cost=1"}).value().cost, 1u);
}

TEST(RuleArgs, IpOffHasNoAddressBucket) {
    const auto r = parse_rule_args({"zone=z", "key=k", "plan=p", "ip=off"});
    ASSERT_TRUE(r) << r.error();
    EXPECT_TRUE(r.value().ip_off);
    EXPECT_EQ(rule_error({"zone=z", "key=k", "plan=p", "ip=off", "ip_prefix6=56"}),
              "has ip_prefix6= with ip=off (no address is limited)");
    EXPECT_EQ(rule_error({"zone=z", "key=k", "plan=p", "ip="}),
              "invalid parameter \"ip=\", expected ip=<value> or ip=off");
}

TEST(RuleArgs, ZoneKeyAndPlanAreRequired) {
    const std::string needs = "needs zone=<name> key=<value> plan=<value>";
    EXPECT_EQ(rule_error({"key=k", "plan=p"}), needs);
    EXPECT_EQ(rule_error({"zone=z", "plan=p"}), needs);
    EXPECT_EQ(rule_error({"zone=z", "key=k"}), needs);
    EXPECT_EQ(rule_error({}), needs);
    EXPECT_EQ(rule_error({"zone=", "key=k", "plan=p"}), "invalid parameter \"zone=\"");
    EXPECT_EQ(rule_error({"zone=z", "key=k", "plan="}), "invalid parameter \"plan=\", plan is empty");
}

TEST(RuleArgs, BoundsAndUnknownParameters) {
    for (const char* bad : {"ip_prefix6=31", "ip_prefix6=129", "ip_prefix6=", "ip_prefix6=x"}) {
        EXPECT_EQ(rule_error({"zone=z", "key=k", "plan=p", bad}),
                  "invalid \"" + std::string(bad) + "\", expected 32 to 128 (bits of an IPv6 address)");
    }
    for (const char* bad : {"cost=0", "cost=1000001", "cost=", "cost=-1"}) {
        EXPECT_EQ(rule_error({"zone=z", "key=k", "plan=p", bad}),
                  "invalid cost \"" + std::string(bad) + "\", expected 1 to 1000000");
    }
    EXPECT_EQ(rule_error({"zone=z", "key=k", "plan=p", "burst=5"}), "invalid parameter \"burst=5\"");
    EXPECT_EQ(rule_error({"zone=z", "key=k", "plan=p", "dry_run=on"}), "invalid parameter \"dry_run=on\"");
    EXPECT_EQ(rule_error({"zone=z", "key=k", "plan=p", "nodelay"}), "invalid parameter \"nodelay\"");
}

TEST(LimitStatus, Is400To599) {
    EXPECT_EQ(parse_limit_status("400").value(), 400u);
    EXPECT_EQ(parse_limit_status("429").value(), 429u);
    EXPECT_EQ(parse_limit_status("599").value(), 599u);
    for (const char* bad : {"399", "600", "200", "", "4x9", "-429"}) {
        const auto s = parse_limit_status(bad);
        ASSERT_FALSE(s) << bad;
        EXPECT_EQ(s.error(), "invalid status \"" + std::string(bad) + "\", expected 400 to 599");
    }
}

TEST(LimitHeaderMode, EveryWord) {
    EXPECT_EQ(parse_header_mode("draft").value(), HeaderMode::Draft);
    EXPECT_EQ(parse_header_mode("legacy").value(), HeaderMode::Legacy);
    EXPECT_EQ(parse_header_mode("both").value(), HeaderMode::Both);
    EXPECT_EQ(parse_header_mode("off").value(), HeaderMode::Off);
    EXPECT_EQ(parse_header_mode("ietf").error(), "invalid value \"ietf\", expected draft, legacy, both or off");
}

TEST(LimitLogLevel, EveryWord) {
    EXPECT_EQ(parse_log_level("info").value(), LogLevel::Info);
    EXPECT_EQ(parse_log_level("notice").value(), LogLevel::Notice);
    EXPECT_EQ(parse_log_level("warn").value(), LogLevel::Warn);
    EXPECT_EQ(parse_log_level("error").value(), LogLevel::Error);
    EXPECT_EQ(parse_log_level("debug").error(), "invalid value \"debug\", expected info, notice, warn or error");
}

}  // namespace
}  // namespace levqor::limit
