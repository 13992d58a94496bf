// SPDX-License-Identifier: Apache-2.0
#include "levqor/limit_redis.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <iterator>

namespace levqor::redis {
namespace {

// The grammar itself is tested in redis_url_test.cpp; these check what the
// module makes of it.
TEST(RedisEndpoint, ResolvesTheServerAndKeepsCredentialsAndDatabase) {
    auto e = parse_url("redis://127.0.0.1:6380/2");
    ASSERT_TRUE(e) << e.error();
    EXPECT_FALSE(e.value().unix_socket);
    EXPECT_EQ(e.value().host, "127.0.0.1");
    EXPECT_EQ(e.value().port, 6380);
    EXPECT_EQ(e.value().db, 2);
    EXPECT_TRUE(e.value().password.empty());
    e = parse_url("redis://app:s3cret@localhost");
    ASSERT_TRUE(e) << e.error();
    EXPECT_EQ(e.value().user, "app");
    EXPECT_EQ(e.value().password, "s3cret");
    EXPECT_EQ(e.value().port, 6379);
    EXPECT_TRUE(e.value().host == "127.0.0.1" || e.value().host == "::1") << e.value().host;
    EXPECT_EQ(e.value().display().find("s3cret"), std::string::npos);
    EXPECT_EQ(e.value().display().find("app"), std::string::npos);
    e = parse_url("redis://[::1]:7000");
    ASSERT_TRUE(e) << e.error();
    EXPECT_EQ(e.value().host, "::1");
    EXPECT_EQ(e.value().display(), "[::1]:7000");
}

TEST(RedisEndpoint, UnixSocketsAreNotResolved) {
    const auto e = parse_url("unix:/run/redis.sock?db=3");
    ASSERT_TRUE(e) << e.error();
    EXPECT_TRUE(e.value().unix_socket);
    EXPECT_EQ(e.value().host, "/run/redis.sock");
    EXPECT_EQ(e.value().db, 3);
    EXPECT_EQ(e.value().display(), "unix:/run/redis.sock?db=3");
}

TEST(RedisEndpoint, SentinelAndClusterAreRefusedAsNotSupportedYet) {
    for (const char* url : {"redis-sentinel://:pw@127.0.0.1:26379/main", "redis-cluster://:pw@127.0.0.1:7000"}) {
        const auto e = parse_url(url);
        ASSERT_FALSE(e) << url;
        EXPECT_NE(e.error().find("is not supported by levqor_limit_zone yet"), std::string::npos) << e.error();
        EXPECT_EQ(e.error().find("pw@"), std::string::npos) << e.error();
    }
}

TEST(RedisEndpoint, RejectsAndNeverPrintsThePassword) {
    for (const char* bad :
         {"http://x", "redis://", "redis://127.0.0.1:99999", "redis://127.0.0.1/x", "unix:relative.sock",
          "unix:/x?db=z", "redis://:pw@no-such-host.invalid:1", "redis://pw@127.0.0.1"}) {
        const auto e = parse_url(bad);
        EXPECT_FALSE(e) << bad;
        EXPECT_EQ(e.error().find("pw@"), std::string::npos) << e.error();
    }
    EXPECT_NE(parse_url("redis://no-such-host.invalid").error().find("cannot resolve \"no-such-host.invalid\""),
              std::string::npos);
}

TEST(CircuitBreaker, OpensAfterThresholdAndProbes) {
    CircuitBreaker b(3, 100, 400);
    EXPECT_TRUE(b.allow(0));
    b.failure(0);
    b.failure(0);
    EXPECT_FALSE(b.open());
    b.failure(0);
    EXPECT_TRUE(b.open());
    EXPECT_FALSE(b.allow(50));
    EXPECT_TRUE(b.allow(100));   // the probe
    EXPECT_FALSE(b.allow(101));  // only one
    b.failure(101);              // probe failed: pause doubles
    EXPECT_FALSE(b.allow(300));
    EXPECT_TRUE(b.allow(301));
    b.success();
    EXPECT_FALSE(b.open());
    EXPECT_TRUE(b.allow(302));
}

TEST(CircuitBreaker, TripOpensAtOnceAndPauseIsCapped) {
    CircuitBreaker b(3, 100, 250);
    b.trip(0);
    EXPECT_TRUE(b.open());
    EXPECT_TRUE(b.allow(100));
    b.failure(100);  // 200
    EXPECT_TRUE(b.allow(300));
    b.failure(300);  // capped at 250
    EXPECT_FALSE(b.allow(549));
    EXPECT_TRUE(b.allow(550));
}

TEST(Script, ShaIsTheLowercaseHexSha1OfTheScript) {
    const std::string sha = script_sha1();
    ASSERT_EQ(sha.size(), 40u);
    EXPECT_EQ(sha.find_first_not_of("0123456789abcdef"), std::string::npos) << sha;
    EXPECT_EQ(sha, script_sha1());
}

TEST(Script, DecodesResult) {
    ScriptResult r;
    const long long ok[] = {1, 1, 1, 59, 0, 1000000, 0, 0, 1500000, 60000000};
    ASSERT_TRUE(decode_result(ok, 10, 2, r));
    EXPECT_TRUE(r.enforced_ok);
    ASSERT_EQ(r.n, 2u);
    EXPECT_EQ(r.decisions[0].remaining, 59u);
    EXPECT_EQ(r.decisions[0].reset_after_ns, 1000000000ULL);
    EXPECT_FALSE(r.decisions[1].allowed);
    EXPECT_EQ(r.decisions[1].retry_after_ns, 1500000000ULL);
    const long long short_reply[] = {1, 1, 1};
    EXPECT_FALSE(decode_result(short_reply, 3, 1, r));
    const long long negative[] = {1, 1, 1, -1, 0, 0};
    EXPECT_FALSE(decode_result(negative, 6, 1, r));
}

KeySecret test_secret(std::string_view text = "0123456789abcdef0123456789abcdef") {
    auto s = key_secret(text, "test.key");
    EXPECT_TRUE(s) << s.error();
    return s ? s.value() : KeySecret{};
}

TEST(BucketKey, HashTagAndNoRawKey) {
    const KeySecret secret = test_secret();
    const std::string k = bucket_key("api", 'k', "free", "sk_live_secret", secret);
    EXPECT_EQ(k.rfind("levqor:{api}:k:free:", 0), 0u);
    EXPECT_EQ(k.find("sk_live_secret"), std::string::npos);
    EXPECT_EQ(k.size(), std::string("levqor:{api}:k:free:").size() + 32);  // 128 bits, hex
    // A fixed vector: the format is a contract between nginx nodes of
    // different versions (a change resets every bucket in Redis once).
    EXPECT_EQ(
        k, "levqor:{api}:k:free:" + [&] {
            char hex[33];
            std::snprintf(hex, sizeof hex, "%016llx%016llx",
                          static_cast<unsigned long long>(siphash13(secret.a, "sk_live_secret", 14)),
                          static_cast<unsigned long long>(siphash13(secret.b, "sk_live_secret", 14)));
            return std::string(hex);
        }());
    EXPECT_EQ(k, "levqor:{api}:k:free:87e82560e0a4e3ea88312fe2ac62b584");  // computed independently (Python)
    EXPECT_NE(k, bucket_key("api", 'i', "free", "sk_live_secret", secret));
}

TEST(BucketKey, KeyedBySecret) {
    const KeySecret one = test_secret(), two = test_secret("fedcba9876543210fedcba9876543210");
    // An IPv4 address cannot be found by hashing all 2^32 without the secret.
    EXPECT_NE(bucket_key("api", 'i', "free", "\x0a\x00\x00\x01", one),
              bucket_key("api", 'i', "free", "\x0a\x00\x00\x01", two));
    // Every node reading the same file names the same bucket; one trailing
    // newline (echo) is not part of the secret.
    EXPECT_EQ(bucket_key("api", 'k', "p", "k1", one),
              bucket_key("api", 'k', "p", "k1", test_secret("0123456789abcdef0123456789abcdef\n")));
    EXPECT_EQ(bucket_key("api", 'k', "p", "k1", one),
              bucket_key("api", 'k', "p", "k1", test_secret("0123456789abcdef0123456789abcdef\r\n")));
}

TEST(BucketKey, ShortSecretsAreRefused) {
    const auto s = key_secret("too short\n", "/etc/levqor/redis.key");
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().rfind("key_secret_file \"/etc/levqor/redis.key\" holds 9 bytes, expected at least 16", 0), 0u)
        << s.error();
    EXPECT_EQ(s.error().find("too short"), std::string::npos);  // never the secret itself
    EXPECT_TRUE(key_secret("0123456789abcdef", "k"));
}

TEST(Resp, FormatsCommands) {
    std::string tail;
    append_bulk(tail, "1");
    append_bulk(tail, "k");
    EXPECT_EQ(format_command("EVALSHA", "abc", tail, 2), "*4\r\n$7\r\nEVALSHA\r\n$3\r\nabc\r\n$1\r\n1\r\n$1\r\nk\r\n");
    std::string key;
    const KeySecret secret = test_secret();
    append_bucket_key(key, "api", 'k', "free", "secret", secret);
    EXPECT_EQ(key, "$" + std::to_string(bucket_key("api", 'k', "free", "secret", secret).size()) + "\r\n" +
                       bucket_key("api", 'k', "free", "secret", secret) + "\r\n");
}

// The batch encoder: KEYS of every decision in order, then ARGV = decision
// count and one binary string: per decision its bucket count, then per
// bucket interval (us), burst, cost as little-endian doubles and the
// observe-only byte.
TEST(Batch, EncodesDecisionsInOneCommand) {
    const KeySecret secret = test_secret();
    limit::BucketRequest reqs[2] = {};
    reqs[0].limit.interval_ns = 1000000;  // 1 ms
    reqs[0].limit.burst = 5;
    reqs[0].cost = 1;
    reqs[1] = reqs[0];
    reqs[1].observe_only = true;
    const BucketName one[1] = {{'k', "free", "key-a"}};
    const BucketName two[2] = {{'k', "pro", "key-b"}, {'i', "pro", "\x7f\x00\x00\x01"}};
    BatchCommand batch;
    ASSERT_TRUE(batch.add("api", one, reqs, 1, secret));
    ASSERT_TRUE(batch.add("api", two, reqs, 2, secret));
    EXPECT_EQ(batch.decisions(), 2u);
    std::string cmd;
    ASSERT_TRUE(batch.format(cmd, "EVALSHA", "abc"));
    auto bulk = [](std::string_view v) { return "$" + std::to_string(v.size()) + "\r\n" + std::string(v) + "\r\n"; };
    // Little-endian doubles: 1000 us = 0x408F400000000000, 5 = 0x4014..., cost 1 = 0x3FF0...
    const std::string us1000("\x00\x00\x00\x00\x00\x40\x8f\x40", 8), five("\0\0\0\0\0\0\x14\x40", 8),
        unit("\0\0\0\0\0\0\xf0\x3f", 8);
    const std::string bucket = us1000 + five + unit;
    const std::string blob = std::string("\x01", 1) + bucket + std::string("\x00", 1) +  // decision 1
                             std::string("\x02", 1) + bucket + std::string("\x00", 1) + bucket +
                             std::string("\x01", 1);  // decision 2: the second bucket observe-only
    const std::string expected =
        "*8\r\n" + bulk("EVALSHA") + bulk("abc") + bulk("3") + bulk(bucket_key("api", 'k', "free", "key-a", secret)) +
        bulk(bucket_key("api", 'k', "pro", "key-b", secret)) +
        bulk(bucket_key("api", 'i', "pro", "\x7f\x00\x00\x01", secret)) + bulk("2") +  // decisions
        bulk(blob);
    EXPECT_EQ(cmd, expected);
    // Reused: clear() empties it; the next batch starts from scratch.
    batch.clear();
    EXPECT_EQ(batch.decisions(), 0u);
    EXPECT_EQ(batch.bytes(), 0u);
    EXPECT_FALSE(batch.add("api", one, reqs, 0, secret));
    EXPECT_FALSE(batch.add("api", one, reqs, kMaxScriptBuckets + 1, secret));
    EXPECT_EQ(batch.decisions(), 0u);
}

TEST(Batch, DecodesEachDecisionInTurn) {
    // decision 1: one bucket allowed; decision 2: two buckets, the second refused
    const long long v[] = {1, 1, 1, 4, 0, 1000, 0, 1, 1, 3, 0, 2000, 0, 0, 1500, 60000};
    ScriptResult r{};
    std::size_t at = 0;
    ASSERT_TRUE(decode_next(v, std::size(v), at, 1, r));
    EXPECT_TRUE(r.enforced_ok);
    EXPECT_EQ(r.decisions[0].remaining, 4u);
    EXPECT_EQ(at, 6u);
    ASSERT_TRUE(decode_next(v, std::size(v), at, 2, r));
    EXPECT_FALSE(r.enforced_ok);
    EXPECT_TRUE(r.decisions[0].allowed);
    EXPECT_FALSE(r.decisions[1].allowed);
    EXPECT_EQ(r.decisions[1].retry_after_ns, 1500000u);
    EXPECT_EQ(at, std::size(v));
    EXPECT_FALSE(decode_next(v, std::size(v), at, 1, r));  // nothing left
    std::size_t short_at = 10;
    EXPECT_FALSE(decode_next(v, std::size(v), short_at, 2, r));  // 6 values left, 10 needed
    EXPECT_EQ(short_at, 10u);
}

// The script's reply: one string of little-endian signed 64-bit integers.
TEST(Batch, UnpacksTheReplyString) {
    const unsigned char bytes[16] = {1, 0, 0, 0, 0, 0, 0, 0, 0x40, 0x42, 0x0f, 0, 0, 0, 0, 0};
    long long values[4];
    std::size_t count = 0;
    ASSERT_TRUE(unpack_values(reinterpret_cast<const char*>(bytes), 16, values, 4, count));
    EXPECT_EQ(count, 2u);
    EXPECT_EQ(values[0], 1);
    EXPECT_EQ(values[1], 1000000);
    EXPECT_FALSE(unpack_values(reinterpret_cast<const char*>(bytes), 15, values, 4, count));  // not whole integers
    EXPECT_FALSE(unpack_values(reinterpret_cast<const char*>(bytes), 16, values, 1, count));  // does not fit
}

}  // namespace
}  // namespace levqor::redis
