// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <thread>

#include "fake_server.h"
#include "levqor/controld/tracking/scrubber.h"
#include "levqor/controld/tracking/sinks.h"
#include "levqor/controld/tracking/tracker.h"
#include "levqor/controld/version.h"
#include "test_support.h"

namespace levqor::controld::tracking {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::CapturedLog;
using testing::FakeServer;
using testing::TempDir;

const std::string kToken = "tok-0123456789abcdef0123456789abcdef";

Scrubber scrubber() {
    return Scrubber({"dsnkey123", "redispw99"}, [](std::string_view word) { return word == kToken; });
}

TEST(Scrubber, SensitiveKeysKnownSecretsTokensBearerAndUrlCredentials) {
    json event = {
        {"authorization", "Bearer xyz"},
        {"admin_token_file_contents", "abc"},
        {"Sentry-DSN", "https://dsnkey123@h/1"},
        {"message", "failed with token " + kToken + " and key dsnkey123"},
        {"header", "Authorization: bearer " + kToken},
        {"url", "redis://:redispw99@10.0.0.1:6379/0 and postgresql://u:pw@db/x"},
        {"nested", {{"list", {"redispw99 here", 3, true}}, {"password", "p"}}},
        {"harmless", "zone api, 5 requests"},
    };
    scrubber().scrub(event);
    const auto text = event.dump();
    EXPECT_EQ(text.find(kToken), std::string::npos) << text;
    EXPECT_EQ(text.find("dsnkey123"), std::string::npos) << text;
    EXPECT_EQ(text.find("redispw99"), std::string::npos) << text;
    EXPECT_EQ(text.find("u:pw@"), std::string::npos) << text;
    EXPECT_EQ(event["authorization"], "[Filtered]");
    EXPECT_EQ(event["admin_token_file_contents"], "[Filtered]");
    EXPECT_EQ(event["Sentry-DSN"], "[Filtered]");
    EXPECT_EQ(event["message"], "failed with token [Filtered] and key [Filtered]");
    EXPECT_EQ(event["header"], "Authorization: bearer [Filtered]");
    EXPECT_EQ(event["url"], "redis://***@10.0.0.1:6379/0 and postgresql://***@db/x");
    EXPECT_EQ(event["nested"]["password"], "[Filtered]");
    EXPECT_EQ(event["nested"]["list"][1], 3);
    EXPECT_EQ(event["harmless"], "zone api, 5 requests");
}

// ---- security review L12 ------------------------------------------------------------

std::vector<std::string> secrets_for(const std::string& database_url) {
    CoreSettings core;
    core.database_url = database_url;
    return ErrorTracker::settings_from({}, core).secrets;
}

bool has(const std::vector<std::string>& list, const std::string& item) {
    return std::find(list.begin(), list.end(), item) != list.end();
}

TEST(Scrubber, LibpqKeyValuePasswordsAreSecrets) {
    EXPECT_TRUE(has(secrets_for("host=db user=levqor password=s3cretpw dbname=x"), "s3cretpw"));
    EXPECT_TRUE(has(secrets_for("password = s3cretpw host=db"), "s3cretpw"));
    // Quoted, with libpq's escapes: as written and as libpq reads it.
    const auto quoted = secrets_for(R"(host=db password='se cr\'et \\x' dbname=x)");
    EXPECT_TRUE(has(quoted, R"(se cr\'et \\x)"));
    EXPECT_TRUE(has(quoted, R"(se cr'et \x)"));
    EXPECT_TRUE(has(secrets_for(R"(password=unquo\ ted host=db)"), "unquo ted"));
    // URLs: userinfo and ?password=, percent-encoded too.
    const auto url = secrets_for("postgresql://u:p%40ssw0rd@db/x");
    EXPECT_TRUE(has(url, "p%40ssw0rd"));
    EXPECT_TRUE(has(url, "p@ssw0rd"));
    EXPECT_TRUE(has(secrets_for("postgresql://db/x?sslmode=require&password=qu3rypw"), "qu3rypw"));
    EXPECT_TRUE(secrets_for("host=db user=levqor dbname=x").empty());
    EXPECT_TRUE(secrets_for("postgresql://u@db/x").empty());
}

TEST(Scrubber, PasswordValuesAnywhereInAMessage) {
    const Scrubber plain({}, nullptr);
    EXPECT_EQ(plain.scrub("connect to host=db password=s3cretpw dbname=x failed"),
              "connect to host=db password=[Filtered] dbname=x failed");
    EXPECT_EQ(plain.scrub(R"(PASSWORD = 'se cr\'et' user=u)"), "PASSWORD = [Filtered] user=u");
    EXPECT_EQ(plain.scrub("GET /x?password=abc&user=u"), "GET /x?password=[Filtered]&user=u");
    EXPECT_EQ(plain.scrub("password=a password=b"), "password=[Filtered] password=[Filtered]");
    EXPECT_EQ(plain.scrub("the password is wrong"), "the password is wrong");
    // The configured DATABASE_URL's password, wherever it shows.
    CoreSettings core;
    core.database_url = "host=db password='p w0rd!x' dbname=x";
    const Scrubber from_config(ErrorTracker::settings_from({}, core).secrets, nullptr);
    EXPECT_EQ(from_config.scrub("auth failed for 'p w0rd!x'"), "auth failed for '[Filtered]'");
}

TEST(Scrubber, TokensThatContainQuotes) {
    const std::string quoted_token = R"(tok"en'0123456789abcdef)";  // a valid token file line
    const Scrubber scrubber({}, [&](std::string_view word) { return word == quoted_token; });
    EXPECT_EQ(scrubber.scrub("bad token " + quoted_token + " here"), "bad token [Filtered] here");
    EXPECT_EQ(scrubber.scrub("bad token \"" + quoted_token + "\"."), "bad token \"[Filtered]\".");
    EXPECT_EQ(scrubber.scrub("'" + quoted_token + "','" + quoted_token + "'"), "'[Filtered]','[Filtered]'");
    EXPECT_EQ(scrubber.scrub("Authorization: Bearer " + quoted_token), "Authorization: Bearer [Filtered]");
    json event = {{"note", "x=" + quoted_token}};
    scrubber.scrub(event);
    EXPECT_EQ(event.dump().find("0123456789abcdef"), std::string::npos) << event.dump();
}

TEST(RateLimiter, AllowsPerMinuteThenRefills) {
    const auto t0 = RateLimiter::Clock::time_point{} + 100s;
    RateLimiter limiter(10, t0);
    int allowed = 0;
    for (int i = 0; i < 50; ++i) allowed += limiter.allow(t0);
    EXPECT_EQ(allowed, 10);
    EXPECT_FALSE(limiter.allow(t0 + 5s));  // half a token
    EXPECT_TRUE(limiter.allow(t0 + 6s));   // one token after 6 s
    allowed = 0;
    for (int i = 0; i < 50; ++i) allowed += limiter.allow(t0 + 600s);
    EXPECT_EQ(allowed, 10);  // never more than a minute's worth
}

TEST(SentryEnvelope, HeaderItemAndPayloadOnTheirOwnLines) {
    const json event = {{"event_id", "0123456789abcdef0123456789abcdef"}, {"message", {{"formatted", "x"}}}};
    const auto envelope = build_envelope(event, "2024-05-01T00:00:00.000Z");
    std::vector<std::string> lines;
    std::size_t start = 0;
    for (std::size_t nl; (nl = envelope.find('\n', start)) != std::string::npos; start = nl + 1) {
        lines.push_back(envelope.substr(start, nl - start));
    }
    ASSERT_EQ(lines.size(), 3u);
    const auto header = json::parse(lines[0]);
    EXPECT_EQ(header["event_id"], "0123456789abcdef0123456789abcdef");
    EXPECT_EQ(header["sent_at"], "2024-05-01T00:00:00.000Z");
    EXPECT_EQ(header["sdk"]["name"], "levqor-controld");
    EXPECT_FALSE(header.contains("dsn"));  // the key stays in X-Sentry-Auth only
    const auto item = json::parse(lines[1]);
    EXPECT_EQ(item["type"], "event");
    EXPECT_EQ(item["length"], lines[2].size());
    EXPECT_EQ(json::parse(lines[2]), event);
}

TEST(SentryAuth, CarriesVersionClientAndKey) {
    const auto dsn = parse_sentry_dsn("https://pubkey@o1.ingest.sentry.io/42");
    EXPECT_EQ(sentry_auth_header(dsn), "Sentry sentry_version=7, sentry_client=levqor-controld/" +
                                           std::string(kVersion) + ", sentry_key=pubkey");
}

struct TrackerFixture {
    CapturedLog log;
    metrics::Registry registry;
    TempDir dir;
    ErrorTracker tracker(std::optional<std::string> dsn, unsigned per_minute = 10, std::uint64_t jsonl_max = 1 << 20) {
        ErrorTracker::Settings settings{dir.path(), {}, {"dsnkey123"}};
        settings.tracking.sentry_dsn = dsn;
        settings.tracking.max_events_per_minute = per_minute;
        settings.tracking.jsonl_max_bytes = jsonl_max;
        settings.tracking.jsonl_files = 2;
        settings.tracking.environment = "test";
        return ErrorTracker(
            registry, log.logger, [](std::string_view word) { return word == kToken; }, settings);
    }
    std::string metrics_text() {
        std::string out;
        metrics::render(registry.collect(), out);
        return out;
    }
};

TEST(ErrorTracker, SendsScrubbedEnvelopesToSentry) {
    FakeServer sentry;
    sentry.record_posts("/api/7/envelope/");
    TrackerFixture f;
    auto tracker = f.tracker("http://dsnkey123@127.0.0.1:" + std::to_string(sentry.port()) + "/7");
    tracker.capture("flags", "cannot write the flags file for " + kToken,
                    {{"error", "EACCES"}, {"authorization", "Bearer " + kToken}});
    tracker.flush(5s);
    const auto received = sentry.received();
    ASSERT_EQ(received.size(), 1u);
    const auto& post = received[0];
    EXPECT_EQ(post.headers.find("Content-Type")->second, "application/x-sentry-envelope");
    EXPECT_EQ(post.headers.find("X-Sentry-Auth")->second,
              "Sentry sentry_version=7, sentry_client=levqor-controld/0.1.0, sentry_key=dsnkey123");
    EXPECT_EQ(post.body.find(kToken), std::string::npos) << post.body;
    EXPECT_EQ(post.body.find("dsnkey123"), std::string::npos) << post.body;
    const auto payload = json::parse(post.body.substr(post.body.find('\n', post.body.find('\n') + 1) + 1));
    EXPECT_EQ(payload["level"], "error");
    EXPECT_EQ(payload["platform"], "native");
    EXPECT_EQ(payload["environment"], "test");
    EXPECT_EQ(payload["release"], "levqor-controld@0.1.0");
    EXPECT_EQ(payload["tags"]["component"], "flags");
    EXPECT_EQ(payload["message"]["formatted"], "cannot write the flags file for [Filtered]");
    EXPECT_EQ(payload["extra"]["error"], "EACCES");
    EXPECT_EQ(payload["event_id"].get<std::string>().size(), 32u);
    EXPECT_NE(f.metrics_text().find("levqor_errors_total{component=\"flags\"} 1"), std::string::npos);
    EXPECT_NE(f.metrics_text().find("levqor_error_reports_total{sink=\"sentry\",result=\"sent\"} 1"),
              std::string::npos);
    // The log line is scrubbed too.
    for (const auto& line : f.log.snapshot()) EXPECT_EQ(line.dump().find(kToken), std::string::npos);
}

TEST(ErrorTracker, RateLimitsSentryEvents) {
    FakeServer sentry;
    sentry.record_posts("/api/7/envelope/");
    TrackerFixture f;
    auto tracker = f.tracker("http://k@127.0.0.1:" + std::to_string(sentry.port()) + "/7", 3);
    for (int i = 0; i < 10; ++i) tracker.capture("api", "boom " + std::to_string(i));
    tracker.flush(5s);
    EXPECT_EQ(sentry.received().size(), 3u);
    EXPECT_NE(f.metrics_text().find("result=\"dropped_rate_limit\"} 7"), std::string::npos) << f.metrics_text();
    EXPECT_NE(f.metrics_text().find("levqor_errors_total{component=\"api\"} 10"), std::string::npos);
}

TEST(ErrorTracker, PausesAfterA429) {
    FakeServer sentry;
    sentry.record_posts("/api/7/envelope/", 429, "30");
    TrackerFixture f;
    auto tracker = f.tracker("http://k@127.0.0.1:" + std::to_string(sentry.port()) + "/7");
    tracker.capture("api", "first");
    tracker.flush(5s);
    tracker.capture("api", "second");
    tracker.flush(5s);
    EXPECT_EQ(sentry.received().size(), 1u);
    EXPECT_NE(f.metrics_text().find("result=\"dropped_server_backoff\"} 1"), std::string::npos);
}

TEST(ErrorTracker, UnreachableSentryIsLoggedWithoutTheKey) {
    TrackerFixture f;
    auto tracker = f.tracker(std::string("http://dsnkey123@127.0.0.1:1/7"));
    tracker.capture("api", "x");
    tracker.flush(6s);
    EXPECT_NE(f.metrics_text().find("result=\"failed\"} 1"), std::string::npos) << f.metrics_text();
    bool warned = false;
    for (const auto& line : f.log.snapshot()) {
        EXPECT_EQ(line.dump().find("dsnkey123"), std::string::npos) << line.dump();
        warned |= line["msg"] == "cannot send an error event to Sentry";
    }
    EXPECT_TRUE(warned);
}

TEST(ErrorTracker, WithoutADsnWritesJsonlAndRotates) {
    TrackerFixture f;
    auto tracker = f.tracker(std::nullopt, 10, 4096);
    EXPECT_EQ(tracker.destination(), "jsonl " + f.dir.file("errors.jsonl"));
    for (int i = 0; i < 60; ++i) {
        tracker.capture("metrics", "nginx instance is down " + std::to_string(i), {{"error", std::string(100, 'x')}});
    }
    namespace fs = std::filesystem;
    ASSERT_TRUE(fs::exists(f.dir.file("errors.jsonl")));
    EXPECT_TRUE(fs::exists(f.dir.file("errors.jsonl.1")));
    EXPECT_TRUE(fs::exists(f.dir.file("errors.jsonl.2")));
    EXPECT_FALSE(fs::exists(f.dir.file("errors.jsonl.3")));  // jsonl_files = 2
    EXPECT_LE(fs::file_size(f.dir.file("errors.jsonl")), 4096u);
    EXPECT_EQ(fs::status(f.dir.file("errors.jsonl")).permissions() & fs::perms::all,
              fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);
    // Every line is a whole event; the newest is last.
    std::ifstream in(f.dir.file("errors.jsonl"));
    std::string line, last;
    while (std::getline(in, line)) {
        const auto event = json::parse(line);
        EXPECT_EQ(event["tags"]["component"], "metrics");
        last = line;
    }
    EXPECT_NE(last.find("nginx instance is down 59"), std::string::npos);
}

TEST(ErrorTracker, ReconfigureSwitchesTheDestination) {
    FakeServer sentry;
    sentry.record_posts("/api/7/envelope/");
    TrackerFixture f;
    auto tracker = f.tracker(std::nullopt);
    tracker.capture("api", "to the file");
    ErrorTracker::Settings to_sentry{f.dir.path(), {}, {}};
    to_sentry.tracking.sentry_dsn = "http://k@127.0.0.1:" + std::to_string(sentry.port()) + "/7";
    tracker.reconfigure(to_sentry);
    EXPECT_EQ(tracker.destination(), "sentry http://***@127.0.0.1:" + std::to_string(sentry.port()) + "/7");
    tracker.capture("api", "to sentry");
    tracker.flush(5s);
    EXPECT_EQ(sentry.received().size(), 1u);
    EXPECT_NE(f.dir.read("errors.jsonl").find("to the file"), std::string::npos);
}

}  // namespace
}  // namespace levqor::controld::tracking
