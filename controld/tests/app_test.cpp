// SPDX-License-Identifier: Apache-2.0
// The whole daemon in-process: routes, authentication, flags, reload.
#include "levqor/controld/app.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <filesystem>
#include <set>
#include <thread>

#include "fake_server.h"
#include "levqor/controld/core/files.h"
#include "levqor/controld/core/flag_set.h"
#include "levqor/controld/metrics/text_parser.h"
#include "levqor/controld/queue/executor.h"
#include "test_support.h"

namespace levqor::controld {
namespace {

using testing::kAdminToken;
using testing::kProducerToken;

using namespace std::chrono_literals;
using nlohmann::json;
using testing::CapturedLog;
using testing::TempDir;

class AppRoutes : public ::testing::Test {
protected:
    void SetUp() override {
        config_ = testing::app_config(dir_);
        config_.tokens.admin = dir_.write("admin.token", kAdminToken + "\n");
        config_.tokens.producer = dir_.write("producer.token", kProducerToken + "\n");
        config_.flags.configured.set(Flag::ratelimit, FlagState::shadow);
        config_.http.max_body_bytes = 4096;
        app_ = std::make_unique<App>(config_, log_.logger);
        bound_ = app_->start();
    }
    void TearDown() override {
        app_->stop();
        app_->wait_stopped(2s);
    }
    httplib::Result request(const std::string& method, const std::string& path, const std::string& token = "",
                            const std::string& body = "") {
        httplib::Client client(bound_.host, bound_.port);
        httplib::Request req;
        req.method = method;
        req.path = path;
        if (!token.empty()) req.set_header("Authorization", "Bearer " + token);
        if (!body.empty() || method == "PUT") {
            req.body = body;
            req.set_header("Content-Type", "application/json");
        }
        return client.send(req);
    }

    TempDir dir_;
    CapturedLog log_;
    Config config_;
    std::unique_ptr<App> app_;
    ListenAddress bound_;
};

TEST_F(AppRoutes, StartWritesTheFlagsFileFromTheConfig) {
    FlagSet expected;
    expected.set(Flag::ratelimit, FlagState::shadow);
    EXPECT_EQ(dir_.read("flags"), render_flags_file(expected));
}

TEST_F(AppRoutes, FlagsNeedAnAdminToken) {
    auto res = request("GET", "/ops/flags");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 401);
    EXPECT_EQ(res->get_header_value("WWW-Authenticate"), "Bearer realm=\"levqor-controld\"");
    EXPECT_EQ(json::parse(res->body)["error"], "unauthorized");

    res = request("GET", "/ops/flags", "wrong-token-0123456789abcdef");
    EXPECT_EQ(res->status, 401);
    EXPECT_NE(res->get_header_value("WWW-Authenticate").find("invalid_token"), std::string::npos);

    res = request("PUT", "/ops/flags", kProducerToken, "{}");
    EXPECT_EQ(res->status, 403);
    EXPECT_EQ(json::parse(res->body)["error"], "forbidden");

    for (const auto& header : std::vector<std::string>{"Basic " + kAdminToken, "Bearer", "Bearer  "}) {
        httplib::Client client(bound_.host, bound_.port);
        res = client.Get("/ops/flags", {{"Authorization", header}});
        EXPECT_EQ(res->status, 401) << header;
    }

    httplib::Client client(bound_.host, bound_.port);
    res = client.Get("/ops/flags", {{"Authorization", "bEaReR " + kAdminToken}});
    EXPECT_EQ(res->status, 200);
}

TEST_F(AppRoutes, GetAndPutFlags) {
    auto res = request("GET", "/ops/flags", kAdminToken);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
    EXPECT_EQ(res->get_header_value("Content-Type"), "application/json");
    EXPECT_EQ(json::parse(res->body)["RATELIMIT_ENABLED"], "shadow");
    EXPECT_EQ(json::parse(res->body).size(), 5u);

    res = request("PUT", "/ops/flags", kAdminToken, R"({"SECURITY_HEADERS_ENABLED":"on","RATELIMIT_ENABLED":"on"})");
    EXPECT_EQ(res->status, 200);
    const auto body = json::parse(res->body);
    EXPECT_EQ(body.size(), 5u);
    EXPECT_EQ(body["SECURITY_HEADERS_ENABLED"], "on");
    EXPECT_EQ(body["RATELIMIT_ENABLED"], "on");
    EXPECT_EQ(body["WEBHOOK_VERIFY_ALL"], "off");
    EXPECT_EQ(parse_flags_file(dir_.read("flags")).get(Flag::security_headers), FlagState::on);

    bool audited = false;
    for (const auto& line : log_.snapshot()) {
        if (line.value("msg", "") != "flags changed") continue;
        audited = line["audit"] == true && line["role"] == "admin" &&
                  line["changes"]["SECURITY_HEADERS_ENABLED"] == "off -> on" &&
                  line["changes"]["RATELIMIT_ENABLED"] == "shadow -> on" && line["changes"].size() == 2;
        EXPECT_EQ(line.dump().find(kAdminToken), std::string::npos);
    }
    EXPECT_TRUE(audited);
}

TEST_F(AppRoutes, BadFlagUpdatesChangeNothing) {
    const std::string before = dir_.read("flags");
    const std::vector<std::pair<std::string, std::string>> cases = {
        {R"({"RATELIMIT_ENABLED":"on","NOPE":"on"})", "unknown_flag"},
        {R"({"RATELIMIT_ENABLED":"yes"})", "invalid_flag_value"},
        {R"({"RATELIMIT_ENABLED":true})", "invalid_flag_value"},
        {R"({"RATELIMIT_ENABLED":"on")", "invalid_json"},
        {R"(["RATELIMIT_ENABLED"])", "invalid_json"},
        {"", "invalid_json"},
        // Deeper than 64 (security review, H1): the error path used to dump the value.
        {R"({"RATELIMIT_ENABLED":)" + std::string(64, '[') + std::string(64, ']') + "}", "invalid_json"},
    };
    for (const auto& [body, code] : cases) {
        auto res = request("PUT", "/ops/flags", kAdminToken, body);
        ASSERT_TRUE(res);
        EXPECT_EQ(res->status, 400) << body;
        EXPECT_EQ(json::parse(res->body)["error"], code) << body;
    }
    EXPECT_EQ(dir_.read("flags"), before);
    EXPECT_EQ(json::parse(request("GET", "/ops/flags", kAdminToken)->body)["RATELIMIT_ENABLED"], "shadow");
}

TEST_F(AppRoutes, UnwritableFlagsFileIs500AndChangesNothing) {
    std::filesystem::remove_all(dir_.path());  // the directory is gone
    auto res = request("PUT", "/ops/flags", kAdminToken, R"({"RATELIMIT_ENABLED":"on"})");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 500);
    EXPECT_EQ(json::parse(res->body)["error"], "flags_file_error");
    EXPECT_EQ(json::parse(request("GET", "/ops/flags", kAdminToken)->body)["RATELIMIT_ENABLED"], "shadow");
    EXPECT_TRUE(log_.has("cannot write the flags file; the flags were not changed"));
}

TEST_F(AppRoutes, MethodsAndSizes) {
    auto res = request("PATCH", "/ops/flags", kAdminToken, "{}");
    EXPECT_EQ(res->status, 405);
    EXPECT_EQ(res->get_header_value("Allow"), "GET, HEAD, PUT, OPTIONS");
    res = request("POST", "/metrics");
    EXPECT_EQ(res->status, 405);
    res = request("GET", "/ops/nothing", kAdminToken);
    EXPECT_EQ(res->status, 404);
    res = request("PUT", "/ops/flags", kAdminToken, std::string(5000, ' '));
    EXPECT_EQ(res->status, 413);
    EXPECT_EQ(json::parse(res->body)["error"], "payload_too_large");
}

TEST_F(AppRoutes, HealthAndMetricsNeedNoToken) {
    auto res = request("GET", "/healthz");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
    const auto health = json::parse(res->body);
    EXPECT_EQ(health["status"], "ok");
    EXPECT_EQ(health["checks"]["redis"], "not_configured");
    EXPECT_EQ(health["checks"]["postgres"], "not_configured");
    EXPECT_TRUE(health["checks"]["nginx"].empty());

    request("GET", "/ops/flags");  // one auth failure to count
    res = request("GET", "/metrics");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
    EXPECT_EQ(res->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
    const auto families = metrics::parse_exposition(res->body);
    std::set<std::string> names;
    for (const auto& f : families) names.insert(f.name);
    for (const char* name :
         {"levqor_auth_failures_total", "levqor_controld_requests_total", "levqor_build_info",
          "levqor_controld_flag_state", "levqor_api_latency_p95_seconds", "levqor_flag_changes_total"}) {
        EXPECT_TRUE(names.count(name)) << name;
    }
    EXPECT_NE(res->body.find("levqor_auth_failures_total{reason=\"missing\"} 1"), std::string::npos);
    // Requests are counted once the response is sent, so the count may lag
    // the client by a moment.
    const std::string counted = "levqor_controld_requests_total{route=\"/ops/flags\",method=\"GET\",code=\"4xx\"} 1";
    for (int i = 0; i < 100 && res->body.find(counted) == std::string::npos; ++i) {
        std::this_thread::sleep_for(20ms);
        res = request("GET", "/metrics");
    }
    EXPECT_NE(res->body.find(counted), std::string::npos);
    EXPECT_NE(res->body.find("levqor_controld_flag_state{flag=\"RATELIMIT_ENABLED\",state=\"shadow\"} 1"),
              std::string::npos);
}

TEST_F(AppRoutes, ReloadRotatesTokensAndKeepsThemOnAnError) {
    const std::string next = "admin-token-next-0123456789abcdef";
    dir_.write("admin.token", next + "\n");
    app_->reload(config_);
    EXPECT_EQ(request("GET", "/ops/flags", kAdminToken)->status, 401);
    EXPECT_EQ(request("GET", "/ops/flags", next)->status, 200);

    dir_.write("admin.token", "short\n");
    app_->reload(config_);
    EXPECT_EQ(request("GET", "/ops/flags", next)->status, 200);  // kept
    EXPECT_TRUE(log_.has("cannot reload the token files; the previous tokens stay valid"));
}

TEST_F(AppRoutes, ReloadKeepsRuntimeFlagsAndResetAppliesTheNewConfiguredOnes) {
    request("PUT", "/ops/flags", kAdminToken, R"({"RATELIMIT_ENABLED":"off"})");
    auto next = config_;
    next.flags.configured.set(Flag::ratelimit, FlagState::on);
    app_->reload(next);
    EXPECT_EQ(json::parse(request("GET", "/ops/flags", kAdminToken)->body)["RATELIMIT_ENABLED"], "off");
    EXPECT_TRUE(
        log_.has("the configured flags changed; runtime flags are not reset by a reload "
                 "(levqorctl flags reset applies the configured flags; flags set changes "
                 "one)"));
    auto res = request("POST", "/ops/flags/reset", kAdminToken);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
    EXPECT_EQ(json::parse(res->body)["RATELIMIT_ENABLED"], "on");
    EXPECT_EQ(parse_flags_file(dir_.read("flags")).get(Flag::ratelimit), FlagState::on);
    EXPECT_EQ(parse_flags_file(dir_.read("flags.state")).get(Flag::ratelimit), FlagState::on);
}

// ---- runtime flags across restarts (security review H2) ---------------------------

TEST_F(AppRoutes, FirstStartPersistsTheConfiguredFlagsInAPrivateStateFile) {
    EXPECT_EQ(dir_.read("flags.state"), dir_.read("flags"));
    struct stat st {};
    ASSERT_EQ(::stat(dir_.file("flags.state").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    EXPECT_TRUE(log_.has("flags set from the configuration"));
}

TEST_F(AppRoutes, RuntimeFlagsSurviveARestartAndDifferencesAreLogged) {
    request("PUT", "/ops/flags", kAdminToken, R"({"WEBHOOK_VERIFY_ALL":"on"})");
    app_->stop();
    app_->wait_stopped(2s);
    app_.reset();
    // Someone removed the flags file meanwhile; the state file still knows.
    std::filesystem::remove(dir_.file("flags"));

    CapturedLog second;
    app_ = std::make_unique<App>(config_, second.logger);
    bound_ = app_->start();
    const auto flags = json::parse(request("GET", "/ops/flags", kAdminToken)->body);
    EXPECT_EQ(flags["WEBHOOK_VERIFY_ALL"], "on");
    EXPECT_EQ(flags["RATELIMIT_ENABLED"], "shadow");
    EXPECT_EQ(parse_flags_file(dir_.read("flags")).get(Flag::webhook_verify), FlagState::on);
    int warnings = 0;
    for (const auto& line : second.snapshot()) {
        if (line.value("level", "") != "warn" || !line.contains("flag")) continue;
        ++warnings;
        EXPECT_EQ(line["flag"], "WEBHOOK_VERIFY_ALL");
        EXPECT_EQ(line["persisted"], "on");
        EXPECT_EQ(line["configured"], "off");
    }
    EXPECT_EQ(warnings, 1);
    EXPECT_TRUE(second.has("flags restored from the state file"));

    auto res = request("POST", "/ops/flags/reset", kProducerToken);
    EXPECT_EQ(res->status, 403);
    res = request("POST", "/ops/flags/reset", kAdminToken);
    EXPECT_EQ(res->status, 200);
    EXPECT_EQ(json::parse(res->body)["WEBHOOK_VERIFY_ALL"], "off");
    bool audited = false;
    for (const auto& line : second.snapshot()) {
        if (line.value("msg", "") != "flags reset to the configured values") continue;
        audited =
            line["audit"] == true && line["role"] == "admin" && line["changes"]["WEBHOOK_VERIFY_ALL"] == "on -> off";
    }
    EXPECT_TRUE(audited);
}

TEST_F(AppRoutes, AFailedFlagsFileWritePutsTheStateBack) {
    const std::string state_before = dir_.read("flags.state");
    std::filesystem::remove(dir_.file("flags"));
    std::filesystem::create_directory(dir_.file("flags"));  // rename() over it fails
    auto res = request("PUT", "/ops/flags", kAdminToken, R"({"RATELIMIT_ENABLED":"on"})");
    EXPECT_EQ(res->status, 500);
    EXPECT_EQ(dir_.read("flags.state"), state_before);
    EXPECT_EQ(json::parse(request("GET", "/ops/flags", kAdminToken)->body)["RATELIMIT_ENABLED"], "shadow");
}

TEST(App, AnUnreadableStateFileStopsTheStart) {
    TempDir dir;
    CapturedLog log;
    auto config = testing::app_config(dir);
    dir.write("flags.state", "WEBHOOK_VERIFY_ALL=maybe\n");
    App app(config, log.logger);
    try {
        app.start();
        FAIL() << "started";
    } catch (const FileError& e) {
        EXPECT_NE(std::string(e.what()).find("flags.state: "), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("remove it to start from the configured flags"), std::string::npos)
            << e.what();
    }
    EXPECT_EQ(dir.read("flags.state"), "WEBHOOK_VERIFY_ALL=maybe\n");
}

TEST(App, MissingTokenFileDisablesTheRole) {
    TempDir dir;
    CapturedLog log;
    auto config = testing::app_config(dir);
    config.tokens.admin = dir.file("absent.token");
    App app(config, log.logger);
    const auto bound = app.start();
    httplib::Client client(bound.host, bound.port);
    auto res = client.Get("/ops/flags", {{"Authorization", "Bearer " + kAdminToken}});
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 401);
    EXPECT_NE(res->body.find("no admin token is configured"), std::string::npos) << res->body;
    app.stop();
    app.wait_stopped(2s);
}

TEST(App, BadTokenFileIsAConfigError) {
    TempDir dir;
    CapturedLog log;
    auto config = testing::app_config(dir);
    config.tokens.admin = dir.write("admin.token", "short");
    EXPECT_THROW(App(config, log.logger), ConfigError);
}

TEST_F(AppRoutes, HealthzDetailsAreForTheAdminOnly) {
    Config config = config_;
    config.metrics.nginx_instances = {metrics::NginxInstance{"edge", "http://127.0.0.1:1/levqor/status"}};
    app_->reload(config);
    const auto anonymous = json::parse(request("GET", "/healthz")->body);
    EXPECT_EQ(anonymous["checks"]["nginx"]["edge"], (json{{"status", "down"}})) << anonymous;
    const auto producer = json::parse(request("GET", "/healthz", kProducerToken)->body);
    EXPECT_EQ(producer["checks"]["nginx"]["edge"], (json{{"status", "down"}})) << producer;
    const auto admin = json::parse(request("GET", "/healthz", kAdminToken)->body);
    EXPECT_EQ(admin["checks"]["nginx"]["edge"]["url"], "http://127.0.0.1:1/levqor/status");
    EXPECT_TRUE(admin["checks"]["nginx"]["edge"].contains("error")) << admin;
}

TEST_F(AppRoutes, TheFrontKnowsTheTokens) {
    // A body without a valid token is refused before it is read...
    auto res = request("POST", "/jobs", "", R"({"type":"noop","payload":{}})");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 401);
    res = request("PUT", "/ops/flags", "not-a-token-0123456789abcdef", "{}");
    EXPECT_EQ(res->status, 401);
    // ...and a valid one reaches the route, whose guard checks the role.
    res = request("PUT", "/ops/flags", kProducerToken, "{}");
    EXPECT_EQ(res->status, 403);
    // A Host that is not ours is refused before any route.
    httplib::Client client(bound_.host, bound_.port);
    res = client.Get("/healthz", {{"Host", "rebound.example"}});
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 421);
    EXPECT_EQ(json::parse(res->body)["error"], "misdirected_request");
}

TEST_F(AppRoutes, RequestMetricsKeepLabelsBounded) {
    for (const char* method : {"BREW", "X-ANY-TOKEN-IS-A-METHOD"}) {
        auto res = request(method, "/healthz");
        ASSERT_TRUE(res);
        EXPECT_EQ(res->status, 405);
    }
    const std::string counted = "levqor_controld_requests_total{route=\"/healthz\",method=\"other\",code=\"4xx\"} 2";
    std::string body;
    for (int i = 0; i < 100 && body.find(counted) == std::string::npos; ++i) {
        if (i > 0) std::this_thread::sleep_for(20ms);
        body = request("GET", "/metrics")->body;
    }
    EXPECT_NE(body.find(counted), std::string::npos);
    EXPECT_EQ(body.find("BREW"), std::string::npos);
}

// A built-in job type (backups will be one) plugs into the queue's executor
// registry and is validated and run like the configured types.
class CountingExecutor : public queue::Executor {
public:
    void validate(const nlohmann::json& payload) const override {
        if (payload.contains("fail")) throw queue::InvalidJob("invalid_job", "payload.fail: not for this type");
    }
    queue::ExecutionResult run_one(const queue::Delivery&) const override {
        ++runs;
        queue::ExecutionResult r;
        r.result = {{"ran", true}};
        return r;
    }
    std::chrono::milliseconds max_duration(const queue::Delivery&) const override { return 1s; }
    mutable std::atomic<int> runs{0};
};

TEST(AppQueue, BuiltInJobTypesPlugIntoTheRegistry) {
    TempDir dir;
    CapturedLog log;
    Config config = testing::app_config(dir);
    config.tokens.producer = dir.write("producer.token", kProducerToken + "\n");
    App app(config, log.logger);
    auto executor = std::make_shared<CountingExecutor>();
    app.queue().register_executor("test_builtin", executor);
    const auto bound = app.start();

    httplib::Client client(bound.host, bound.port);
    const httplib::Headers auth{{"Authorization", "Bearer " + kProducerToken}};
    // NEW_QUEUE_ENABLED is off (the default): the job runs in the request.
    auto res = client.Post("/jobs", auth, R"({"type":"test_builtin","payload":{}})", "application/json");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200) << res->body;
    EXPECT_EQ(json::parse(res->body)["status"], "succeeded") << res->body;
    EXPECT_EQ(executor->runs.load(), 1);

    res = client.Post("/jobs", auth, R"({"type":"test_builtin","payload":{"fail":1}})", "application/json");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 400) << res->body;
    EXPECT_EQ(json::parse(res->body)["error"], "invalid_job") << res->body;
    EXPECT_EQ(executor->runs.load(), 1);

    app.stop();
    EXPECT_TRUE(app.wait_stopped(2s));
}

}  // namespace
}  // namespace levqor::controld
