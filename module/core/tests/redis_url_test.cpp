// SPDX-License-Identifier: Apache-2.0
#include "levqor/redis_url.h"

#include <gtest/gtest.h>

#include <string>

namespace levqor {
namespace {

RedisUrl parsed(std::string_view url) {
    auto result = parse_redis_url(url);
    EXPECT_TRUE(result) << url << ": " << result.error();
    return result ? std::move(result).value() : RedisUrl{};
}

std::string error_of(std::string_view url) {
    const auto result = parse_redis_url(url);
    EXPECT_FALSE(result) << url << " was accepted";
    return result ? std::string() : result.error();
}

void expect_error(std::string_view url, std::string_view says) {
    const std::string error = error_of(url);
    EXPECT_NE(error.find(says), std::string::npos) << url << ": " << error;
}

// ---- redis:// -------------------------------------------------------------------

TEST(RedisUrl, ServerDefaultsToPort6379AndDatabase0WithoutCredentials) {
    const RedisUrl u = parsed("redis://127.0.0.1");
    EXPECT_EQ(u.kind, RedisUrl::Kind::server);
    ASSERT_EQ(u.hosts.size(), 1u);
    EXPECT_EQ(u.hosts[0].host, "127.0.0.1");
    EXPECT_EQ(u.hosts[0].port, 6379);
    EXPECT_EQ(u.db, 0);
    EXPECT_TRUE(u.user.empty());
    EXPECT_TRUE(u.password.empty());
}

TEST(RedisUrl, ServerTakesPortAndDatabase) {
    const RedisUrl u = parsed("redis://cache.internal:6380/2");
    EXPECT_EQ(u.hosts[0].host, "cache.internal");
    EXPECT_EQ(u.hosts[0].port, 6380);
    EXPECT_EQ(u.db, 2);
}

TEST(RedisUrl, ATrailingSlashIsDatabase0) { EXPECT_EQ(parsed("redis://h:1/").db, 0); }

TEST(RedisUrl, ColonPasswordIsThePasswordOfTheDefaultUser) {
    const RedisUrl u = parsed("redis://:s3cret@h:6379");
    EXPECT_TRUE(u.user.empty());
    EXPECT_EQ(u.password, "s3cret");
}

TEST(RedisUrl, UserColonPasswordIsAnAclUser) {
    const RedisUrl u = parsed("redis://app:s3cret@h:6379/1");
    EXPECT_EQ(u.user, "app");
    EXPECT_EQ(u.password, "s3cret");
    EXPECT_EQ(u.db, 1);
}

TEST(RedisUrl, PasswordsMayContainAtColonSlashAndSpacesAndAreNotDecoded) {
    const RedisUrl u = parsed("redis://app:p@ss:w/rd x%40@h:1/3");
    EXPECT_EQ(u.user, "app");
    EXPECT_EQ(u.password, "p@ss:w/rd x%40");
    EXPECT_EQ(u.hosts[0].host, "h");
    EXPECT_EQ(u.db, 3);
}

TEST(RedisUrl, IPv6LiteralsLoseTheirBrackets) {
    RedisUrl u = parsed("redis://[::1]:7000");
    EXPECT_EQ(u.hosts[0].host, "::1");
    EXPECT_EQ(u.hosts[0].port, 7000);
    u = parsed("redis://user:pw@[fe80::1%25eth0]/4");
    EXPECT_EQ(u.hosts[0].host, "fe80::1%25eth0");
    EXPECT_EQ(u.hosts[0].port, 6379);
    EXPECT_EQ(u.db, 4);
}

TEST(RedisUrl, SchemesAreCaseInsensitive) {
    EXPECT_EQ(parsed("REDIS://h").kind, RedisUrl::Kind::server);
    EXPECT_EQ(parsed("Unix:/s").kind, RedisUrl::Kind::unix_socket);
    EXPECT_EQ(parsed("Redis-Cluster://h").kind, RedisUrl::Kind::cluster);
}

TEST(RedisUrl, DatabaseRange) {
    EXPECT_EQ(parsed("redis://h/1048576").db, 1 << 20);
    for (const char* bad :
         {"redis://h/1048577", "redis://h/x", "redis://h/-1", "redis://h/+1", "redis://h/1/2", "redis://h/ 1"}) {
        expect_error(bad, "invalid database number in redis url");
    }
}

TEST(RedisUrl, PortRange) {
    EXPECT_EQ(parsed("redis://h:65535").hosts[0].port, 65535);
    for (const char* bad : {"redis://h:0", "redis://h:65536", "redis://h:", "redis://h:x", "redis://h:+1",
                            "redis://[::1]:", "redis://h:99999999999"}) {
        expect_error(bad, "invalid port in redis url");
    }
    EXPECT_NE(error_of("redis://h:0").find("expected 1 to 65535"), std::string::npos);
}

// ---- unix: ----------------------------------------------------------------------

TEST(RedisUrl, UnixSocketWithOptionalDatabase) {
    RedisUrl u = parsed("unix:/run/redis.sock");
    EXPECT_EQ(u.kind, RedisUrl::Kind::unix_socket);
    EXPECT_EQ(u.socket_path, "/run/redis.sock");
    EXPECT_EQ(u.db, 0);
    EXPECT_TRUE(u.hosts.empty());
    u = parsed("unix:/run/redis.sock?db=3");
    EXPECT_EQ(u.db, 3);
}

TEST(RedisUrl, UnixSocketErrors) {
    expect_error("unix:relative.sock", "the socket path must be absolute in redis url \"unix:relative.sock\"");
    expect_error("unix:", "the socket path must be absolute");
    for (const char* bad : {"unix:/s?db=x", "unix:/s?database=1", "unix:/s?db=", "unix:/s?db=1048577"}) {
        expect_error(bad, "expected unix:/path[?db=N]");
    }
}

// ---- redis-sentinel:// ----------------------------------------------------------

TEST(RedisUrl, SentinelListsSentinelsAndNamesTheMaster) {
    const RedisUrl u = parsed("redis-sentinel://:pw@10.0.0.1:26380,10.0.0.2,[::1]:5000/mymaster/2");
    EXPECT_EQ(u.kind, RedisUrl::Kind::sentinel);
    ASSERT_EQ(u.hosts.size(), 3u);
    EXPECT_EQ(u.hosts[0].host, "10.0.0.1");
    EXPECT_EQ(u.hosts[0].port, 26380);
    EXPECT_EQ(u.hosts[1].host, "10.0.0.2");
    EXPECT_EQ(u.hosts[1].port, 26379) << "Sentinel's own default port";
    EXPECT_EQ(u.hosts[2].host, "::1");
    EXPECT_EQ(u.hosts[2].port, 5000);
    EXPECT_EQ(u.master_name, "mymaster");
    EXPECT_EQ(u.db, 2);
    EXPECT_EQ(u.password, "pw");
}

TEST(RedisUrl, SentinelDatabaseIsOptional) {
    const RedisUrl u = parsed("redis-sentinel://s1:26379/main");
    EXPECT_EQ(u.master_name, "main");
    EXPECT_EQ(u.db, 0);
}

TEST(RedisUrl, SentinelNeedsAMasterName) {
    for (const char* bad : {"redis-sentinel://s1:26379", "redis-sentinel://s1:26379/", "redis-sentinel://s1//1"}) {
        expect_error(bad, "no master name in redis url");
    }
    expect_error("redis-sentinel://s1/m/x", "invalid database number");
}

// ---- redis-cluster:// -----------------------------------------------------------

TEST(RedisUrl, ClusterListsSeedNodes) {
    const RedisUrl u = parsed("redis-cluster://app:pw@n1:7000,n2:7001");
    EXPECT_EQ(u.kind, RedisUrl::Kind::cluster);
    ASSERT_EQ(u.hosts.size(), 2u);
    EXPECT_EQ(u.hosts[1].host, "n2");
    EXPECT_EQ(u.hosts[1].port, 7001);
    EXPECT_EQ(u.user, "app");
    EXPECT_EQ(u.db, 0);
}

TEST(RedisUrl, ClusterHasNoDatabase) { expect_error("redis-cluster://n1:7000/1", "Redis Cluster has only database 0"); }

// ---- errors common to the network forms -----------------------------------------

TEST(RedisUrl, OneServerTakesOneHost) { expect_error("redis://h1:1,h2:2", "several hosts in redis url"); }

TEST(RedisUrl, EmptyHostsAreRefused) {
    for (const char* bad :
         {"redis://", "redis://:1", "redis://:pw@", "redis:///0", "redis-cluster://n1,,n2", "redis-sentinel://,s1/m"}) {
        expect_error(bad, "no host in redis url");
    }
}

TEST(RedisUrl, InvalidHostsAreRefused) {
    expect_error("redis://[::1", "invalid IPv6 address");
    expect_error("redis://[]:1", "invalid IPv6 address");
    expect_error("redis://[::1]x", "invalid IPv6 address");
    expect_error("redis://a b:1", "invalid host in redis url");
}

TEST(RedisUrl, QueriesAndFragmentsAreRefused) {
    expect_error("redis://h:1?db=2", "a query or fragment in redis url");
    expect_error("redis://h:1#x", "a query or fragment in redis url");
}

TEST(RedisUrl, UnknownSchemesListEveryForm) {
    const std::string error = error_of("http://127.0.0.1:6379");
    EXPECT_EQ(error.rfind("invalid redis url \"http://127.0.0.1:6379\", expected redis://[[user]:password@]host", 0),
              0u)
        << error;
    for (std::string_view form : {"unix:/path[?db=N]", "redis-sentinel://", "redis-cluster://"}) {
        EXPECT_NE(error.find(form), std::string::npos) << error;
    }
    expect_error("127.0.0.1:6379", "invalid redis url");
    expect_error("", "invalid redis url");
}

TEST(RedisUrl, TlsIsRefusedByName) { expect_error("rediss://h:6380", "TLS (rediss://) is not supported in redis url"); }

// A user without ':' is a password to some clients and a user to others.
TEST(RedisUrl, CredentialsWithoutAColonAreRefusedWithHowToWriteEach) {
    const std::string error = error_of("redis://app@h:6379");
    EXPECT_NE(error.find("credentials without ':' in redis url \"redis://***@h:6379\""), std::string::npos) << error;
    EXPECT_NE(error.find("redis://:password@host for a password"), std::string::npos) << error;
    EXPECT_NE(error.find("redis://user:password@host for an ACL user"), std::string::npos) << error;
    expect_error("redis://@h", "credentials without ':'");
}

TEST(RedisUrl, AnEmptyPasswordIsRefused) {
    expect_error("redis://app:@h", "an empty password in redis url");
    expect_error("redis://:@h", "an empty password in redis url");
}

TEST(RedisUrl, ErrorsNeverShowTheCredentials) {
    for (const char* bad : {"redis://:topsecret@h:99999", "redis://app:topsecret@h/x", "rediss://:topsecret@h",
                            "redis-sentinel://:topsecret@s1", "redis-cluster://:topsecret@n1/1",
                            "redis://:topsecret@h1,h2", "redis://:topsecret@h?x", "redis://app:topsecret@"}) {
        const std::string error = error_of(bad);
        EXPECT_FALSE(error.empty()) << bad;
        EXPECT_EQ(error.find("topsecret"), std::string::npos) << error;
        EXPECT_NE(error.find("***@"), std::string::npos) << error;
    }
    EXPECT_NE(error_of("redis://:topsecret@127.0.0.1:99999")
                  .find("invalid port in redis url \"redis://***@127.0.0.1:99999\""),
              std::string::npos);
}

TEST(RedisUrl, SchemeNamesForMessages) {
    EXPECT_EQ(redis_url_scheme(RedisUrl::Kind::server), "redis://");
    EXPECT_EQ(redis_url_scheme(RedisUrl::Kind::unix_socket), "unix:");
    EXPECT_EQ(redis_url_scheme(RedisUrl::Kind::sentinel), "redis-sentinel://");
    EXPECT_EQ(redis_url_scheme(RedisUrl::Kind::cluster), "redis-cluster://");
}

}  // namespace
}  // namespace levqor
