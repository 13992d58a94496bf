// SPDX-License-Identifier: Apache-2.0
// levqorctl's commands against a real controld in-process.
#include <gtest/gtest.h>

#include <memory>

#include "levqor/controld/app.h"
#include "levqor/controld/ctl/client.h"
#include "levqor/controld/ctl/commands.h"
#include "fake_server.h"
#include "test_support.h"

namespace levqor::controld::ctl {
namespace {

using testing::kAdminToken;
using testing::kProducerToken;

using namespace std::chrono_literals;
using testing::TempDir;

class Ctl : public ::testing::Test {
protected:
    void SetUp() override {
        auto config = testing::app_config(dir_);
        config.tokens.admin = dir_.write("admin.token", kAdminToken + "\n");
        config.tokens.producer = dir_.write("producer.token", kProducerToken + "\n");
        config.flags.configured.set(Flag::ratelimit, FlagState::shadow);
        queue::ExecCommand fail;
        fail.path = "/bin/false";
        config.queue.exec["fail"] = fail;
        config.queue.retry_delays["exec"] = {};  // dead after one attempt
        app_ = std::make_unique<App>(config, quiet_);
        base_ = parse_base_url("http://127.0.0.1:" + std::to_string(app_->start().port));
    }
    void TearDown() override {
        app_->stop();
        app_->wait_stopped(2s);
    }
    ApiClient client(std::optional<std::string> token = kAdminToken) const {
        return ApiClient(base_, 2s, std::move(token));
    }

    TempDir dir_;
    const Logger quiet_{LogLevel::error, [](std::string_view) {}};
    std::unique_ptr<App> app_;
    BaseUrl base_;
};

TEST_F(Ctl, HealthPrintsTheBodyAndExitsZero) {
    const auto result = run_health(client(std::nullopt));
    EXPECT_EQ(result.exit_code, 0) << result.err;
    EXPECT_NE(result.out.find(R"("status":"ok")"), std::string::npos) << result.out;
    EXPECT_EQ(result.out.back(), '\n');
    EXPECT_TRUE(result.err.empty());
}

TEST_F(Ctl, DlqListRetryAndJobsGet) {
    // NEW_QUEUE_ENABLED is off: the job runs in the request and fails for good.
    const auto posted = client(kProducerToken).post("/jobs", {{"type", "exec"}, {"payload", {{"command", "fail"}}}});
    ASSERT_FALSE(posted.error) << *posted.error;
    const auto id = posted.json.value("id", "");
    EXPECT_EQ(posted.json.value("status", ""), "dead");

    auto list = run_dlq_list(client(), 10, false);
    EXPECT_EQ(list.exit_code, 0) << list.err;
    EXPECT_NE(list.out.find("1 dead job(s)"), std::string::npos) << list.out;
    EXPECT_NE(list.out.find(id), std::string::npos) << list.out;
    EXPECT_NE(list.out.find("exited with status 1"), std::string::npos) << list.out;

    auto job = run_jobs_get(client(), id, false);
    EXPECT_EQ(job.exit_code, 0) << job.err;
    EXPECT_NE(job.out.find("status          dead"), std::string::npos) << job.out;

    EXPECT_EQ(run_dlq_retry(client(), {}, false, false).exit_code, kExitUsage);
    EXPECT_EQ(run_dlq_retry(client(), {id}, true, false).exit_code, kExitUsage);
    EXPECT_EQ(run_dlq_retry(client(), {"not-an-id"}, false, false).exit_code, kExitUsage);
    EXPECT_EQ(run_jobs_get(client(), "../ops", false).exit_code, kExitUsage);
    const auto retried = run_dlq_retry(client(), {id}, false, false);
    EXPECT_EQ(retried.exit_code, 0) << retried.err;
    EXPECT_EQ(retried.out, "retried 1 job(s)\n");
    EXPECT_EQ(run_dlq_retry(client(kProducerToken), {}, true, false).exit_code, kExitFailure);
}

TEST_F(Ctl, HealthOnAWrongPrefixExitsOne) {
    const ApiClient elsewhere(parse_base_url(base_.origin() + "/elsewhere"), 2s, std::nullopt);
    const auto result = run_health(elsewhere);
    EXPECT_EQ(result.exit_code, 1);
    EXPECT_NE(result.err.find("HTTP 404"), std::string::npos) << result.err;
}

TEST_F(Ctl, FlagsGetPrintsATable) {
    const auto result = run_flags_get(client(), false);
    EXPECT_EQ(result.exit_code, 0) << result.err;
    EXPECT_EQ(result.out,
              "FLAG                      STATE\n"
              "SECURITY_HEADERS_ENABLED  off\n"
              "RATELIMIT_ENABLED         shadow\n"
              "WEBHOOK_VERIFY_ALL        off\n"
              "ABUSE_GUARDS_ENABLED      off\n"
              "NEW_QUEUE_ENABLED         off\n");
    const auto json = run_flags_get(client(), true);
    EXPECT_EQ(nlohmann::json::parse(json.out)["RATELIMIT_ENABLED"], "shadow");
}

TEST_F(Ctl, FlagsSetChangesOneFlag) {
    const auto result = run_flags_set(client(), "SECURITY_HEADERS_ENABLED", "on", false);
    EXPECT_EQ(result.exit_code, 0) << result.err;
    EXPECT_NE(result.out.find("SECURITY_HEADERS_ENABLED  on\n"), std::string::npos) << result.out;
    EXPECT_NE(result.out.find("RATELIMIT_ENABLED         shadow\n"), std::string::npos);
    EXPECT_EQ(parse_flags_file(dir_.read("flags")).get(Flag::security_headers), FlagState::on);
}

TEST_F(Ctl, FlagsSetChecksNameAndValueFirst) {
    auto result = run_flags_set(client(), "RATELIMIT", "on", false);
    EXPECT_EQ(result.exit_code, 2);
    EXPECT_NE(result.err.find("unknown flag \"RATELIMIT\""), std::string::npos) << result.err;
    result = run_flags_set(client(), "RATELIMIT_ENABLED", "enabled", false);
    EXPECT_EQ(result.exit_code, 2);
    EXPECT_NE(result.err.find("use off, shadow or on"), std::string::npos) << result.err;
}

TEST_F(Ctl, RollbackTurnsEverythingOffAndSaysWhat) {
    run_flags_set(client(), "WEBHOOK_VERIFY_ALL", "on", false);
    auto result = run_rollback(client(), false);
    EXPECT_EQ(result.exit_code, 0) << result.err;
    EXPECT_NE(result.out.find("rollback: every flag is off (RATELIMIT_ENABLED shadow -> off, "
                              "WEBHOOK_VERIFY_ALL on -> off)"),
              std::string::npos)
        << result.out;
    EXPECT_EQ(parse_flags_file(dir_.read("flags")), FlagSet{});
    result = run_rollback(client(), false);
    EXPECT_NE(result.out.find("(it already was)"), std::string::npos) << result.out;
}

TEST_F(Ctl, RollbackIsPersistedAndFlagsResetAppliesTheConfiguredFlags) {
    run_flags_set(client(), "WEBHOOK_VERIFY_ALL", "on", false);
    EXPECT_EQ(run_rollback(client(), false).exit_code, 0);
    EXPECT_EQ(parse_flags_file(dir_.read("flags.state")), FlagSet{});  // survives a restart

    auto result = run_flags_reset(client(), false);
    EXPECT_EQ(result.exit_code, 0) << result.err;
    EXPECT_NE(result.out.find("flags reset: the configured flags apply (RATELIMIT_ENABLED off -> "
                              "shadow)\nFLAG"),
              std::string::npos)
        << result.out;
    EXPECT_EQ(parse_flags_file(dir_.read("flags.state")).get(Flag::ratelimit), FlagState::shadow);
    EXPECT_EQ(parse_flags_file(dir_.read("flags")).get(Flag::ratelimit), FlagState::shadow);
    result = run_flags_reset(client(), false);
    EXPECT_NE(result.out.find("(they already did)"), std::string::npos) << result.out;
    result = run_flags_reset(client(kProducerToken), false);
    EXPECT_EQ(result.exit_code, kExitFailure);
    EXPECT_NE(result.err.find("flags reset failed: POST"), std::string::npos) << result.err;
}

TEST_F(Ctl, WrongTokensAreFailuresWithAHint) {
    auto result = run_flags_get(client("not-the-token-0123456789abcdef"), false);
    EXPECT_EQ(result.exit_code, 1);
    EXPECT_NE(result.err.find("HTTP 401 unauthorized"), std::string::npos) << result.err;
    EXPECT_NE(result.err.find("--token-file"), std::string::npos) << result.err;
    result = run_rollback(client(kProducerToken), false);
    EXPECT_EQ(result.exit_code, 1);
    EXPECT_NE(result.err.find("rollback failed"), std::string::npos) << result.err;
    EXPECT_NE(result.err.find("HTTP 403 forbidden"), std::string::npos) << result.err;
}

TEST_F(Ctl, StatusShowsHealthAndFlags) {
    auto result = run_status(client(), false);
    EXPECT_EQ(result.exit_code, 0) << result.err;
    EXPECT_NE(result.out.find("controld  " + base_.url_for("") + "  ok"), std::string::npos) << result.out;
    EXPECT_NE(result.out.find("nginx     no instances configured"), std::string::npos);
    EXPECT_NE(result.out.find("redis     not_configured"), std::string::npos);
    EXPECT_NE(result.out.find("abuse     not_configured"), std::string::npos) << result.out;
    EXPECT_NE(result.out.find("RATELIMIT_ENABLED         shadow"), std::string::npos);
    result = run_status(client(), true);
    const auto json = nlohmann::json::parse(result.out);
    EXPECT_EQ(json["health"]["status"], "ok");
    EXPECT_EQ(json["flags"]["RATELIMIT_ENABLED"], "shadow");
}

TEST(CtlUnreachable, ExitsOneWithAHint) {
    // Bind and stop a server to find a port that is (very likely) closed.
    const TempDir dir;
    const Logger quiet(LogLevel::error, [](std::string_view) {});
    std::uint16_t port = 0;
    {
        App app(testing::app_config(dir), quiet);
        port = app.start().port;
    }
    const ApiClient client(parse_base_url("http://127.0.0.1:" + std::to_string(port)), 2s, std::nullopt);
    const auto result = run_health(client);
    EXPECT_EQ(result.exit_code, 1);
    EXPECT_NE(result.err.find("is levqor-controld running there?"), std::string::npos) << result.err;
}

TEST(CtlAnswers, ADeeplyNestedAnswerIsRefusedNotPrinted) {
    // --json pretty-prints the answer, which recurses once per level: a
    // hostile or broken server must not be able to crash levqorctl.
    testing::FakeServer server;
    server.serve("/ops/flags", std::string(300000, '[') + std::string(300000, ']'));
    const ApiClient client(parse_base_url("http://127.0.0.1:" + std::to_string(server.port())), 2s, kAdminToken);
    const auto result = run_flags_get(client, /*json=*/true);
    EXPECT_EQ(result.exit_code, kExitFailure);
    EXPECT_NE(result.err.find("the answer is refused: nesting deeper than 64 levels"), std::string::npos) << result.err;
}

TEST(TokenFile, ReadsTheFirstToken) {
    const TempDir dir;
    EXPECT_EQ(read_token_file(dir.write("t", "# c\n" + kAdminToken + "\nsecond-0123456789abcdef\n")), kAdminToken);
    EXPECT_THROW(read_token_file(dir.file("absent")), std::invalid_argument);
    EXPECT_THROW(read_token_file(dir.write("t", "short")), std::invalid_argument);
}

}  // namespace
}  // namespace levqor::controld::ctl
