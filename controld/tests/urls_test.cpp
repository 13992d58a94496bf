// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/core/urls.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace levqor::controld {
namespace {

TEST(HttpUrl, Parses) {
    auto url = parse_http_url("http://127.0.0.1:8080/levqor/status");
    EXPECT_EQ(url.scheme, "http");
    EXPECT_EQ(url.host, "127.0.0.1");
    EXPECT_EQ(url.port, 8080);
    EXPECT_EQ(url.path, "/levqor/status");
    EXPECT_EQ(url.authority(), "127.0.0.1:8080");

    url = parse_http_url("HTTPS://edge.example.com?x=1");
    EXPECT_EQ(url.scheme, "https");
    EXPECT_EQ(url.port, 443);
    EXPECT_EQ(url.path, "/?x=1");
    EXPECT_EQ(url.authority(), "edge.example.com");

    url = parse_http_url("http://[::1]:81/s");
    EXPECT_EQ(url.host, "[::1]");
    EXPECT_EQ(url.authority(), "[::1]:81");
}

TEST(HttpUrl, Rejects) {
    for (const char* bad : {"127.0.0.1:8080/s", "ftp://a/b", "http://", "http://:80/", "http://a:0/", "http://a:99999/",
                            "http://u:p@a/", "http://a/#x", "http://a b/"}) {
        EXPECT_THROW(parse_http_url(bad), std::invalid_argument) << bad;
    }
}

TEST(SentryDsn, ParsesAndBuildsTheEnvelopeUrl) {
    auto dsn = parse_sentry_dsn("https://abc123@o1.ingest.sentry.io/42");
    EXPECT_EQ(dsn.public_key, "abc123");
    EXPECT_EQ(dsn.project_id, "42");
    EXPECT_EQ(dsn.envelope_url(), "https://o1.ingest.sentry.io/api/42/envelope/");
    EXPECT_EQ(dsn.redacted(), "https://***@o1.ingest.sentry.io/42");

    dsn = parse_sentry_dsn("http://key:legacysecret@127.0.0.1:9000/sub/path/7/");
    EXPECT_EQ(dsn.public_key, "key");
    EXPECT_EQ(dsn.envelope_url(), "http://127.0.0.1:9000/sub/path/api/7/envelope/");
}

TEST(SentryDsn, Rejects) {
    for (const char* bad : {"o1.ingest.sentry.io/42", "https://o1.ingest.sentry.io/42", "https://@host/1",
                            "https://k@host/abc", "https://k@host", "ftp://k@host/1", "https://k@host/1?x=1"}) {
        EXPECT_THROW(parse_sentry_dsn(bad), std::invalid_argument) << bad;
    }
}

// The grammar is levqor/redis_url.h's (module/core/tests/redis_url_test.cpp);
// this checks what controld accepts of it.
TEST(RedisServerUrl, TakesOneServerWithCredentialsAndDatabase) {
    auto url = redis_server_url("redis://127.0.0.1");
    ASSERT_EQ(url.hosts.size(), 1u);
    EXPECT_EQ(url.hosts[0].host, "127.0.0.1");
    EXPECT_EQ(url.hosts[0].port, 6379);
    EXPECT_EQ(url.db, 0);
    url = redis_server_url("redis://user:p%40ss@[::1]:6380/3");
    EXPECT_EQ(url.hosts[0].host, "::1");
    EXPECT_EQ(url.hosts[0].port, 6380);
    EXPECT_EQ(url.user, "user");
    EXPECT_EQ(url.password, "p%40ss");
    EXPECT_EQ(url.db, 3);
}

TEST(RedisServerUrl, RefusesWhatTheGrammarRefuses) {
    for (const char* bad : {"rediss://h", "redis://h/x", "redis://user@h", "http://h"}) {
        EXPECT_THROW(redis_server_url(bad), std::invalid_argument) << bad;
    }
}

TEST(RedisServerUrl, RefusesFormsControldDoesNotSupportYet) {
    for (const char* url : {"unix:/run/redis.sock", "redis-sentinel://:pw@s1/main", "redis-cluster://:pw@n1:7000"}) {
        try {
            redis_server_url(url);
            ADD_FAILURE() << url << " was accepted";
        } catch (const std::invalid_argument& e) {
            const std::string what = e.what();
            EXPECT_NE(what.find("not supported by levqor-controld yet"), std::string::npos) << what;
            EXPECT_EQ(what.find("pw"), std::string::npos) << what;
        }
    }
}

TEST(DatabaseUrl, ChecksTheShape) {
    EXPECT_NO_THROW(check_database_url("postgresql://u:p@h/db"));
    EXPECT_NO_THROW(check_database_url("postgres://h"));
    EXPECT_NO_THROW(check_database_url("host=h dbname=x"));
    EXPECT_THROW(check_database_url("mysql://h"), std::invalid_argument);
    EXPECT_THROW(check_database_url("just words"), std::invalid_argument);
}

}  // namespace
}  // namespace levqor::controld
