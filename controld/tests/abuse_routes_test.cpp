// SPDX-License-Identifier: Apache-2.0
// The abuse routes in the whole daemon (in-process App, SQLite store under
// the temp data_dir): answers, modes, errors, metrics, reload.
#include <gtest/gtest.h>
#include <httplib.h>

#include <filesystem>

#include <nlohmann/json.hpp>

#include "levqor/controld/app.h"
#include "levqor/controld/core/flag_set.h"
#include "test_support.h"

namespace levqor::controld {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::kAdminToken;
using testing::kProducerToken;

class AbuseRoutes : public ::testing::Test {
protected:
    void start(bool with_pepper) {
        config_ = testing::app_config(dir_);
        config_.tokens.admin = dir_.write("admin.token", kAdminToken + "\n");
        config_.tokens.producer = dir_.write("producer.token", kProducerToken + "\n");
        config_.flags.configured.set(Flag::abuse_guards, FlagState::on);
        if (with_pepper) config_.abuse.pepper_file = dir_.write("pepper", std::string(64, 'a') + "\n");
        config_.abuse.email_deny_patterns = {"@mailinator\\.com$"};
        app_ = std::make_unique<App>(config_, log_.logger);
        bound_ = app_->start();
    }
    void TearDown() override {
        if (!app_) return;
        app_->stop();
        app_->wait_stopped(2s);
    }
    httplib::Result post(const std::string& path, const std::string& body, const std::string& token = kProducerToken) {
        httplib::Client client(bound_.host, bound_.port);
        return client.Post(path, {{"Authorization", "Bearer " + token}}, body, "application/json");
    }
    httplib::Result get(const std::string& path, httplib::Headers headers) {
        headers.emplace("Authorization", "Bearer " + kProducerToken);
        httplib::Client client(bound_.host, bound_.port);
        return client.Get(path, headers);
    }
    httplib::Result device(const std::string& dev, const std::string& ip = "198.51.100.7") {
        return post("/abuse/device", json{{"account", "acct-1"}, {"plan", "free"}, {"device", dev}, {"ip", ip}}.dump());
    }
    void set_mode(const std::string& mode) {
        httplib::Client client(bound_.host, bound_.port);
        auto res = client.Put("/ops/flags", {{"Authorization", "Bearer " + kAdminToken}},
                              json{{"ABUSE_GUARDS_ENABLED", mode}}.dump(), "application/json");
        ASSERT_TRUE(res);
        ASSERT_EQ(res->status, 200) << res->body;
    }
    std::string metrics() {
        httplib::Client client(bound_.host, bound_.port);
        return client.Get("/metrics")->body;
    }

    testing::TempDir dir_;
    testing::CapturedLog log_;
    Config config_;
    std::unique_ptr<App> app_;
    ListenAddress bound_;
};

TEST_F(AbuseRoutes, WithoutAPepperEveryRouteIs503AndHealthzSaysSo) {
    start(false);
    auto res = device("d0");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 503);
    EXPECT_EQ(json::parse(res->body)["error"], "abuse_unconfigured");
    res = get("/abuse/signup", {{"X-Levqor-Email", "a@example.com"}, {"X-Real-IP", "198.51.100.7"}});
    EXPECT_EQ(res->status, 503);  // auth_request: nginx denies (fail closed)
    httplib::Client client(bound_.host, bound_.port);
    const auto health = json::parse(client.Get("/healthz")->body);
    EXPECT_EQ(health["checks"]["abuse"], json::parse(R"({"status":"not_configured"})"));
    EXPECT_EQ(health["status"], "ok");  // optional: not a degradation
}

TEST_F(AbuseRoutes, TheFourthChangeIsDeniedPostAndGet) {
    start(true);
    auto res = post("/abuse/device", R"({"account":"a","plan":"free","device":"d","ip":"198.51.100.7"})", "");
    EXPECT_EQ(res->status, 401);
    for (int i = 0; i <= 3; ++i) {
        res = device("d" + std::to_string(i));
        ASSERT_EQ(res->status, 200) << res->body;
        EXPECT_EQ(json::parse(res->body), json::parse(R"({"decision":"allow","reason":"ok","changes_24h":)" +
                                                      std::to_string(i) + R"(,"limit":3})"));
    }
    res = device("d4");
    EXPECT_EQ(res->status, 200);
    EXPECT_EQ(json::parse(res->body),
              json::parse(R"({"decision":"deny","reason":"device_changes_exceeded","changes_24h":3,"limit":3})"));
    const httplib::Headers headers{{"X-Levqor-Account", "acct-1"},
                                   {"X-Levqor-Plan", "free"},
                                   {"X-Levqor-Device", "d5"},
                                   {"X-Real-IP", "198.51.100.7"}};
    res = get("/abuse/device", headers);
    EXPECT_EQ(res->status, 403);
    EXPECT_EQ(res->get_header_value("X-Levqor-Abuse-Reason"), "device_changes_exceeded");
    EXPECT_EQ(json::parse(res->body)["decision"], "deny");
    auto reused = headers;
    reused.find("X-Levqor-Device")->second = "d2";  // a pair in the window always passes
    res = get("/abuse/device", reused);
    EXPECT_EQ(res->status, 204);
    EXPECT_EQ(res->get_header_value("X-Levqor-Abuse-Reason"), "ok");
    const auto m = metrics();
    EXPECT_NE(m.find(R"(levqor_abuse_decisions_total{check="device",decision="allow"} 5)"), std::string::npos) << m;
    EXPECT_NE(m.find(R"(levqor_abuse_decisions_total{check="device",decision="deny"} 2)"), std::string::npos);
    EXPECT_NE(m.find(R"(levqor_abuse_decisions_total{check="signup",decision="shadow_deny"} 0)"), std::string::npos);
}

TEST_F(AbuseRoutes, ModesOffAndShadow) {
    start(true);
    set_mode("off");
    auto res = device("x");
    EXPECT_EQ(json::parse(res->body)["reason"], "guards_off");
    for (int i = 0; i <= 3; ++i) device("d" + std::to_string(i));  // off records nothing: d0 is the first pair
    set_mode("shadow");
    for (int i = 0; i <= 3; ++i) EXPECT_EQ(json::parse(device("d" + std::to_string(i))->body)["decision"], "allow");
    res = device("d4");
    EXPECT_EQ(json::parse(res->body),
              json::parse(R"({"decision":"allow","reason":"device_changes_exceeded","changes_24h":3,"limit":3})"));
    EXPECT_NE(metrics().find(R"(levqor_abuse_decisions_total{check="device",decision="shadow_deny"} 1)"),
              std::string::npos);
    set_mode("on");
    EXPECT_EQ(json::parse(device("d4")->body)["decision"], "deny");  // shadow recorded what on would
}

TEST_F(AbuseRoutes, SignupsDenyListAndBadInput) {
    start(true);
    for (int i = 0; i < 5; ++i) {
        auto res =
            post("/abuse/signup",
                 json{{"email", "u" + std::to_string(i) + "@example.com"}, {"ip", "203.0.113.9"}, {"referrer", "ref"}}
                     .dump());
        EXPECT_EQ(json::parse(res->body)["signups_today"], i + 1);
    }
    auto res = get("/abuse/signup",
                   {{"X-Levqor-Email", "u9@example.com"}, {"X-Real-IP", "203.0.113.10"}, {"X-Levqor-Referrer", "r"}});
    EXPECT_EQ(res->status, 403);
    EXPECT_EQ(res->get_header_value("X-Levqor-Abuse-Reason"), "referral_signups_exceeded");
    res = post("/abuse/signup", R"({"email":"bot@mailinator.com","ip":"192.0.2.1"})");
    EXPECT_EQ(json::parse(res->body)["reason"], "email_denied");
    EXPECT_EQ(json::parse(res->body)["decision"], "deny");

    res = post("/abuse/signup", R"(["not","an","object"])");
    EXPECT_EQ(res->status, 400);
    EXPECT_EQ(json::parse(res->body)["error"], "invalid_request");
    EXPECT_EQ(json::parse(res->body)["field"], "body");
    res = post("/abuse/device", R"({"account":"a","plan":"free","device":"d","ip":"999.1.1.1"})");
    EXPECT_EQ(res->status, 400);
    EXPECT_EQ(json::parse(res->body)["field"], "ip");
    res = get("/abuse/device", {{"X-Levqor-Account", "a"}, {"X-Levqor-Plan", "free"}, {"X-Real-IP", "192.0.2.1"}});
    EXPECT_EQ(res->status, 400);
    EXPECT_EQ(json::parse(res->body)["field"], "X-Levqor-Device");
}

TEST_F(AbuseRoutes, AStoreThatCannotOpenIs503ButOffStillAnswers) {
    std::filesystem::create_directories(dir_.file("abuse.db"));  // SQLite cannot open a directory
    start(true);
    auto res = device("d0");
    EXPECT_EQ(res->status, 503);
    EXPECT_EQ(json::parse(res->body)["error"], "store_unavailable") << res->body;
    EXPECT_TRUE(log_.has("the abuse store is unavailable"));
    set_mode("off");
    res = device("d0");
    EXPECT_EQ(res->status, 200);
    EXPECT_EQ(json::parse(res->body)["reason"], "guards_off");
}

TEST_F(AbuseRoutes, ABadPepperOnReloadKeepsTheOldInputSide) {
    start(true);
    auto next = config_;
    next.abuse.pepper_file = dir_.file("missing-pepper");
    app_->reload(next);
    EXPECT_EQ(device("d0")->status, 200);
    EXPECT_TRUE(log_.has("cannot reload the abuse settings; the previous ones stay"));
}

}  // namespace
}  // namespace levqor::controld
