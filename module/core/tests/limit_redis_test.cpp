// SPDX-License-Identifier: Apache-2.0
#include "levqor/limit_redis.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include <cstdio>
#include <initializer_list>
#include <iterator>
#include <string>

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

TEST(RedisEndpoint, ClusterIsRefusedAsNotSupportedYet) {
    const auto e = parse_url("redis-cluster://:pw@127.0.0.1:7000");
    ASSERT_FALSE(e);
    EXPECT_NE(e.error().find("is not supported by levqor_limit_zone yet"), std::string::npos) << e.error();
    EXPECT_EQ(e.error().find("pw@"), std::string::npos) << e.error();
}

TEST(RedisEndpoint, SentinelUrlResolvesEverySentinelAndKeepsTheMasterName) {
    auto e = parse_url("redis-sentinel://app:s3cret@127.0.0.1:26379,localhost,[::1]:26400/my-master.1/3");
    ASSERT_TRUE(e) << e.error();
    const Endpoint& ep = e.value();
    EXPECT_TRUE(ep.sentinel());
    EXPECT_EQ(ep.master_name, "my-master.1");
    EXPECT_EQ(ep.db, 3);
    EXPECT_EQ(ep.user, "app");  // the data nodes' credentials
    EXPECT_EQ(ep.password, "s3cret");
    ASSERT_EQ(ep.sentinels.size(), 3u);
    EXPECT_EQ(ep.sentinels[0].host, "127.0.0.1");
    EXPECT_EQ(ep.sentinels[0].port, 26379);
    EXPECT_TRUE(ep.sentinels[1].host == "127.0.0.1" || ep.sentinels[1].host == "::1") << ep.sentinels[1].host;
    EXPECT_EQ(ep.sentinels[1].port, 26379);  // the Sentinel default port
    EXPECT_EQ(ep.sentinels[2].host, "::1");
    EXPECT_EQ(ep.display().find("s3cret"), std::string::npos);
    EXPECT_NE(ep.display().find("my-master.1"), std::string::npos) << ep.display();
}

TEST(RedisEndpoint, SentinelUrlLimits) {
    std::string many = "redis-sentinel://:pw@";
    for (int i = 0; i < 17; ++i) many += (i != 0 ? "," : "") + std::string("127.0.0.1:") + std::to_string(26000 + i);
    many += "/m";
    auto e = parse_url(many);
    ASSERT_FALSE(e);
    EXPECT_NE(e.error().find("17 sentinels, expected at most 16"), std::string::npos) << e.error();
    EXPECT_EQ(e.error().find("pw@"), std::string::npos) << e.error();
    e = parse_url("redis-sentinel://:pw@127.0.0.1/bad*name");
    ASSERT_FALSE(e);
    EXPECT_NE(e.error().find("invalid master name"), std::string::npos) << e.error();
    EXPECT_EQ(e.error().find("pw@"), std::string::npos) << e.error();
    e = parse_url("redis-sentinel://127.0.0.1/" + std::string(65, 'm'));
    EXPECT_FALSE(e);
    EXPECT_TRUE(parse_url("redis-sentinel://127.0.0.1/" + std::string(64, 'm')));
    e = parse_url("redis-sentinel://:pw@127.0.0.1,no-such-host.invalid/m");
    ASSERT_FALSE(e);
    EXPECT_NE(e.error().find("sentinel cannot resolve \"no-such-host.invalid\""), std::string::npos) << e.error();
    EXPECT_EQ(e.error().find("pw@"), std::string::npos) << e.error();
}

TEST(SentinelReply, AcceptsOnlyAnIpLiteralAndAPort) {
    MasterAddr a{};
    ASSERT_TRUE(parse_master_addr(2, true, "127.0.0.1", "6380", a));
    EXPECT_STREQ(a.host, "127.0.0.1");
    EXPECT_EQ(a.port, 6380);
    ASSERT_TRUE(parse_master_addr(2, true, "::1", "65535", a));
    EXPECT_STREQ(a.host, "::1");
    EXPECT_EQ(a.port, 65535);
    const MasterAddr before = a;
    struct Bad {
        std::size_t n;
        bool strings;
        const char *ip, *port;
    };
    for (const Bad& b : std::initializer_list<Bad>{
             {0, false, "", ""},                  // nil: master unknown
             {2, false, "127.0.0.1", "6379"},     // not two strings
             {3, true, "127.0.0.1", "6379"},      // longer
             {1, true, "127.0.0.1", ""},          // shorter
             {2, true, "redis.example", "6379"},  // a host name (announce-hostnames)
             {2, true, "", "6379"},               // empty
             {2, true, "127.0.0.1 ", "6379"},     // trailing space
             {2, true, "127.0.0.1", "0"},         // port 0
             {2, true, "127.0.0.1", "65536"},     // port too large
             {2, true, "127.0.0.1", "-1"},        // sign
             {2, true, "127.0.0.1", "0006379"},   // too long
             {2, true, "127.0.0.1", ""},          // no port
         }) {
        EXPECT_FALSE(parse_master_addr(b.n, b.strings, b.ip, b.port, a)) << b.n << " " << b.ip << " " << b.port;
        EXPECT_STREQ(a.host, before.host);
        EXPECT_EQ(a.port, before.port);
    }
    EXPECT_FALSE(parse_master_addr(2, true, std::string_view("127.0.0.1\0x", 11), "6379", a));
    EXPECT_FALSE(parse_master_addr(2, true, std::string(60, '1'), "6379", a));  // too long for an address
}

TEST(SentinelAuth, PasswordOrUserAndPasswordOnOneLine) {
    auto a = sentinel_auth("s3cret\n", "/f");
    ASSERT_TRUE(a) << a.error();
    EXPECT_EQ(a.value().user, "");
    EXPECT_EQ(a.value().password, "s3cret");
    a = sentinel_auth("ops:pa:ss@x\r\n", "/f");
    ASSERT_TRUE(a) << a.error();
    EXPECT_EQ(a.value().user, "ops");
    EXPECT_EQ(a.value().password, "pa:ss@x");  // the user ends at the first ':'
    for (const std::string& bad : {std::string(""), std::string("\n"), std::string("ops:\n"), std::string("pw\nmore"),
                                   std::string("p\tw"), std::string(513, 'x')}) {
        a = sentinel_auth(bad, "/etc/levqor/sentinel.auth");
        ASSERT_FALSE(a) << bad;
        EXPECT_NE(a.error().find("sentinel_auth_file \"/etc/levqor/sentinel.auth\""), std::string::npos) << a.error();
        if (bad.size() > 3) {
            EXPECT_EQ(a.error().find(bad), std::string::npos) << a.error();
        }
    }
    EXPECT_TRUE(sentinel_auth(std::string(512, 'x'), "/f"));
}

TEST(SentinelReply, RoleMustBeMaster) {
    EXPECT_TRUE(role_is_master("master"));
    EXPECT_FALSE(role_is_master("slave"));
    EXPECT_FALSE(role_is_master("sentinel"));
    EXPECT_FALSE(role_is_master(""));
    EXPECT_FALSE(role_is_master("masterx"));
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
    auto idx = [](char i) { return std::string{i, '\0'}; };  // the key's place in KEYS, from 1
    const std::string blob = std::string("\x01", 1) + bucket + std::string("\x00", 1) + idx(1) +  // decision 1
                             std::string("\x02", 1) + bucket + std::string("\x00", 1) + idx(2) + bucket +
                             std::string("\x01", 1) + idx(3);  // decision 2: the second bucket observe-only
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

// A reply as the script packs it: per decision a 16-bit flags word, then one
// little-endian double (debt in microseconds) per bucket.
std::string reply_part(unsigned flags, std::initializer_list<double> debts_us) {
    std::string out{static_cast<char>(flags & 0xff), static_cast<char>(flags >> 8)};
    for (double d : debts_us) {
        std::uint64_t bits;
        std::memcpy(&bits, &d, sizeof bits);
        for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>(bits >> (8 * i)));
    }
    return out;
}

// A key that several decisions of a batch share (their address bucket) is
// in KEYS once; every bucket names its key by index. The same value under
// another kind or plan is another key.
TEST(Batch, SendsEachDistinctKeyOnce) {
    const KeySecret secret = test_secret();
    limit::BucketRequest reqs[2] = {};
    reqs[0].limit = {1000000, 5};
    reqs[0].cost = 1;
    reqs[1] = reqs[0];
    const std::string_view ip("\x7f\x00\x00\x01", 4);
    const BucketName first[2] = {{'k', "free", "key-a"}, {'i', "free", ip}};
    const BucketName second[2] = {{'k', "free", "key-b"}, {'i', "free", ip}};
    const BucketName other_plan[2] = {{'k', "free", "key-a"}, {'i', "pro", ip}};
    BatchCommand batch;
    ASSERT_TRUE(batch.add("api", first, reqs, 2, secret));
    ASSERT_TRUE(batch.add("api", second, reqs, 2, secret));
    ASSERT_TRUE(batch.add("api", other_plan, reqs, 2, secret));
    std::string cmd;
    ASSERT_TRUE(batch.format(cmd, "EVALSHA", "abc"));
    auto bulk = [](std::string_view v) { return "$" + std::to_string(v.size()) + "\r\n" + std::string(v) + "\r\n"; };
    const std::string keys = bulk("4") + bulk(bucket_key("api", 'k', "free", "key-a", secret)) +
                             bulk(bucket_key("api", 'i', "free", ip, secret)) +
                             bulk(bucket_key("api", 'k', "free", "key-b", secret)) +
                             bulk(bucket_key("api", 'i', "pro", ip, secret));
    EXPECT_NE(cmd.find(keys), std::string::npos) << "KEYS: key-a, the address, key-b, the address under pro";
    EXPECT_EQ(cmd.rfind("*9\r\n", 0), 0u);  // EVALSHA sha numkeys, 4 keys, decisions, argument string
    // Each bucket's index: the argument string's last 2 bytes of each bucket.
    const std::size_t at = cmd.find(bulk("3"), cmd.find(keys) + keys.size());
    ASSERT_NE(at, std::string::npos);
    const std::string blob_head = "$" + std::to_string(3 * (1 + 2 * 27)) + "\r\n";
    const std::size_t b = cmd.find(blob_head, at);
    ASSERT_NE(b, std::string::npos);
    const std::string blob = cmd.substr(b + blob_head.size(), 3 * (1 + 2 * 27));
    auto index_of = [&](int decision, int bucket) {
        const std::size_t end = static_cast<std::size_t>(decision) * 55 + 1 + static_cast<std::size_t>(bucket + 1) * 27;
        return static_cast<unsigned char>(blob[end - 2]) | static_cast<unsigned char>(blob[end - 1]) << 8;
    };
    EXPECT_EQ(index_of(0, 0), 1);
    EXPECT_EQ(index_of(0, 1), 2);
    EXPECT_EQ(index_of(1, 0), 3);
    EXPECT_EQ(index_of(1, 1), 2);  // the shared address: sent once
    EXPECT_EQ(index_of(2, 0), 1);  // key-a again
    EXPECT_EQ(index_of(2, 1), 4);
    // clear() forgets the keys: the next batch starts its KEYS afresh.
    batch.clear();
    ASSERT_TRUE(batch.add("api", second, reqs, 2, secret));
    ASSERT_TRUE(batch.format(cmd, "EVALSHA", "abc"));
    EXPECT_NE(cmd.find(bulk("2") + bulk(bucket_key("api", 'k', "free", "key-b", secret))), std::string::npos);
}

TEST(Batch, DecodesEachDecisionInTurn) {
    // decision 1: one bucket, admitted, debt 1 ms; decision 2: two buckets,
    // the second refuses (enforced_ok 0, observed_ok 1, bucket 0 admits).
    const std::string reply = reply_part(1 | 2 | 4, {1000}) + reply_part(2 | 4, {0, 59999999.5});
    const auto* bytes = reinterpret_cast<const unsigned char*>(reply.data());
    ScriptResult r{};
    std::size_t at = 0;
    ASSERT_TRUE(decode_next(bytes, reply.size(), at, 1, r));
    EXPECT_TRUE(r.enforced_ok);
    EXPECT_TRUE(r.allowed[0]);
    EXPECT_EQ(r.debt_ns[0], 1000000u);
    EXPECT_EQ(at, 10u);
    ASSERT_TRUE(decode_next(bytes, reply.size(), at, 2, r));
    EXPECT_FALSE(r.enforced_ok);
    EXPECT_TRUE(r.observed_ok);
    EXPECT_TRUE(r.allowed[0]);
    EXPECT_FALSE(r.allowed[1]);
    EXPECT_EQ(r.debt_ns[1], 59999999500u);  // rounded to whole ns
    EXPECT_EQ(at, reply.size());
    EXPECT_FALSE(decode_next(bytes, reply.size(), at, 1, r));  // nothing left
    std::size_t short_at = 10;
    EXPECT_FALSE(decode_next(bytes, reply.size(), short_at, 3, r));  // 18 bytes left, 26 needed
    EXPECT_EQ(short_at, 10u);
}

TEST(Batch, RefusesWhatTheScriptCannotHaveSent) {
    ScriptResult r{};
    auto decodes = [&](const std::string& part, std::size_t buckets) {
        std::size_t at = 0;
        return decode_next(reinterpret_cast<const unsigned char*>(part.data()), part.size(), at, buckets, r);
    };
    EXPECT_TRUE(decodes(reply_part(1 | 2 | 4, {0}), 1));
    EXPECT_FALSE(decodes(reply_part(1 | 2 | 8, {0}), 1));  // a flag for a bucket it does not have
    EXPECT_FALSE(decodes(reply_part(3, {-1}), 1));         // negative debt
    EXPECT_FALSE(decodes(reply_part(3, {std::nan("")}), 1));
    EXPECT_FALSE(decodes(reply_part(3, {1e300}), 1));
    EXPECT_FALSE(decodes(reply_part(3, {}), 0));
    EXPECT_FALSE(decodes(reply_part(3, {0, 0, 0, 0, 0, 0, 0, 0, 0}), kMaxScriptBuckets + 1));
}

// finish() gives what the local limiter gives for the same bucket states:
// gcra::decide on the debt, describe_uncharged for buckets not charged.
TEST(Batch, FinishUsesTheLocalLimitersArithmetic) {
    limit::BucketRequest reqs[2] = {};
    reqs[0].limit = {6000000000ULL, 10};  // 10r/m: 6 s per token, burst 10
    reqs[0].cost = 1;
    reqs[1].limit = {60000000000ULL, 1};  // 1r/m
    reqs[1].cost = 1;
    // Fresh key bucket admits; the IP bucket (1 token used 0.5 ms ago) refuses.
    ScriptResult r{};
    r.n = 2;
    r.enforced_ok = false;
    r.observed_ok = true;
    r.allowed[0] = true;
    r.allowed[1] = false;
    r.debt_ns[0] = 0;
    r.debt_ns[1] = 59999500000ULL;
    gcra::Decision d[2];
    finish(r, reqs, d);
    const std::uint64_t now = 1000000000000ULL;
    gcra::Decision want[2] = {gcra::decide(0, now, reqs[0].limit, 1),
                              gcra::decide(now + r.debt_ns[1], now, reqs[1].limit, 1)};
    gcra::describe_uncharged(want[0], 0, now, reqs[0].limit);  // not charged: the decision was refused
    gcra::describe_uncharged(want[1], now + r.debt_ns[1], now, reqs[1].limit);
    for (int i = 0; i < 2; ++i) {
        EXPECT_EQ(d[i].allowed, want[i].allowed) << i;
        EXPECT_EQ(d[i].remaining, want[i].remaining) << i;
        EXPECT_EQ(d[i].retry_after_ns, want[i].retry_after_ns) << i;
        EXPECT_EQ(d[i].reset_after_ns, want[i].reset_after_ns) << i;
    }
    EXPECT_EQ(d[0].remaining, 10u);
    EXPECT_EQ(gcra::ceil_seconds(d[1].retry_after_ns), 60u);
    // Admitted and charged: remaining after the charge, reset = the new debt.
    r.enforced_ok = true;
    r.allowed[1] = true;
    r.debt_ns[1] = 0;
    finish(r, reqs, d);
    EXPECT_TRUE(d[0].allowed && d[1].allowed);
    EXPECT_EQ(d[0].remaining, 9u);
    EXPECT_EQ(d[0].reset_after_ns, 6000000000ULL);
    EXPECT_EQ(d[1].remaining, 0u);
    EXPECT_EQ(d[1].retry_after_ns, 0u);
    // The script's answer stands at the edge where integer arithmetic differs.
    r.allowed[0] = false;
    finish(r, reqs, d);
    EXPECT_FALSE(d[0].allowed);
    EXPECT_GT(d[0].retry_after_ns, 0u);
}

}  // namespace
}  // namespace levqor::redis
