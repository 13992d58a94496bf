// SPDX-License-Identifier: Apache-2.0
// levqorctl verify's checks as pure functions (t/verify.t runs the command
// against real controld and nginx).
#include <gtest/gtest.h>

#include "levqor/controld/ctl/verify.h"
#include "levqor/controld/metrics/text_parser.h"

namespace levqor::controld::ctl {
namespace {

using VerifyHeaderMap = std::map<std::string, std::string>;
using namespace std::chrono_literals;

const std::string kVerifyPage = "http://10.0.0.1/";

TEST(VerifyNginxTarget, UrlAndOptionalStatusUrl) {
    auto t = parse_nginx_target("http://10.0.0.1:8080/app");
    EXPECT_EQ(t.url, "http://10.0.0.1:8080/app");
    EXPECT_EQ(t.status_url, "");
    t = parse_nginx_target("http://10.0.0.1/,status=http://10.0.0.1:9000/levqor/status");
    EXPECT_EQ(t.url, "http://10.0.0.1/");
    EXPECT_EQ(t.status_url, "http://10.0.0.1:9000/levqor/status");
    EXPECT_THROW(parse_nginx_target("http://10.0.0.1/,status="), std::invalid_argument);
    try {
        parse_nginx_target("10.0.0.1");
        FAIL() << "no scheme accepted";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("--nginx \"10.0.0.1\": invalid URL"), std::string::npos) << e.what();
    }
}

TEST(VerifyHeaders, OnNeedsACspAndNosniff) {
    const VerifyHeaderMap strict{{"content-security-policy", "default-src 'none'"},
                                 {"x-content-type-options", "nosniff"}};
    EXPECT_EQ(check_security_headers(kVerifyPage, "on", "controld's flag", 200, strict).outcome, Outcome::pass);
    const VerifyHeaderMap relaxed{{"content-security-policy-report-only", "x"}, {"x-content-type-options", "nosniff"}};
    EXPECT_EQ(check_security_headers(kVerifyPage, "on", "s", 200, relaxed).outcome, Outcome::pass);
    const auto none = check_security_headers(kVerifyPage, "on", "controld's flag", 200, {});
    EXPECT_EQ(none.outcome, Outcome::fail);
    EXPECT_EQ(
        none.detail,
        "SECURITY_HEADERS_ENABLED is on (controld's flag): no Content-Security-Policy; no X-Content-Type-Options");
    const auto error = check_security_headers(kVerifyPage, "on", "s", 502, strict);
    EXPECT_EQ(error.outcome, Outcome::fail);
    EXPECT_NE(error.detail.find("answered HTTP 502"), std::string::npos);
}

TEST(VerifyHeaders, ShadowSendsOnlyReportOnlyAndOffNothing) {
    const VerifyHeaderMap report_only{{"content-security-policy-report-only", "x"},
                                      {"cross-origin-opener-policy-report-only", "same-origin"}};
    EXPECT_EQ(check_security_headers(kVerifyPage, "shadow", "s", 200, report_only).outcome, Outcome::pass);
    VerifyHeaderMap enforcing = report_only;
    enforcing["x-frame-options"] = "DENY";
    const auto shadow = check_security_headers(kVerifyPage, "shadow", "s", 200, enforcing);
    EXPECT_EQ(shadow.outcome, Outcome::fail);
    EXPECT_NE(shadow.detail.find("X-Frame-Options is sent"), std::string::npos) << shadow.detail;
    EXPECT_EQ(check_security_headers(kVerifyPage, "shadow", "s", 200, {}).outcome, Outcome::fail);

    EXPECT_EQ(check_security_headers(kVerifyPage, "off", "s", 404, {{"server", "nginx"}}).outcome, Outcome::pass);
    const auto off = check_security_headers(kVerifyPage, "off", "s", 200, {{"content-security-policy", "x"}});
    EXPECT_EQ(off.outcome, Outcome::fail);
    EXPECT_EQ(off.detail, "SECURITY_HEADERS_ENABLED is off (s): Content-Security-Policy is sent");
}

TEST(VerifyFlags, AppliedFlagsByInstanceAndDrift) {
    const auto families = metrics::parse_exposition(
        "# TYPE levqor_flag_state gauge\n"
        "levqor_flag_state{instance=\"a\",flag=\"SECURITY_HEADERS_ENABLED\",state=\"on\"} 1\n"
        "levqor_flag_state{instance=\"a\",flag=\"SECURITY_HEADERS_ENABLED\",state=\"off\"} 0\n"
        "levqor_flag_state{instance=\"b\",flag=\"SECURITY_HEADERS_ENABLED\",state=\"off\"} 1\n");
    EXPECT_EQ(applied_flags(families, std::string("a")), (VerifyHeaderMap{{"SECURITY_HEADERS_ENABLED", "on"}}));
    EXPECT_EQ(applied_flags(families, std::string("b")), (VerifyHeaderMap{{"SECURITY_HEADERS_ENABLED", "off"}}));
    EXPECT_TRUE(applied_flags(families, std::string("c")).empty());

    nlohmann::json controld = {{"SECURITY_HEADERS_ENABLED", "on"},
                               {"RATELIMIT_ENABLED", "off"},
                               {"WEBHOOK_VERIFY_ALL", "off"},
                               {"ABUSE_GUARDS_ENABLED", "off"},
                               {"NEW_QUEUE_ENABLED", "off"}};
    VerifyHeaderMap applied;
    for (const auto& [name, state] : controld.items()) applied[name] = state.get<std::string>();
    EXPECT_EQ(compare_flags(kVerifyPage, controld, applied, "src").outcome, Outcome::pass);
    applied["SECURITY_HEADERS_ENABLED"] = "off";
    const auto drift = compare_flags(kVerifyPage, controld, applied, "src");
    EXPECT_EQ(drift.outcome, Outcome::fail);
    EXPECT_EQ(drift.detail, "SECURITY_HEADERS_ENABLED is off in this nginx, on in controld (from src)");
    EXPECT_EQ(compare_flags(kVerifyPage, controld, {}, "src").outcome, Outcome::fail);
}

TEST(VerifyDlq, OnlyJobsDeadWithinTheWindowFail) {
    // 2026-11-29T12:00:00Z
    const std::int64_t now = 1795953600;
    const nlohmann::json old = {
        {"total", 1}, {"jobs", {{{"id", "x"}, {"type", "http"}, {"finished_at", "2026-11-29T11:49:59.900Z"}}}}};
    EXPECT_EQ(check_dlq_growth(old, now, 600s).outcome, Outcome::pass);
    const nlohmann::json fresh = {{"total", 2},
                                  {"jobs",
                                   {{{"id", "y"},
                                     {"type", "exec"},
                                     {"finished_at", "2026-11-29T11:55:00.000Z"},
                                     {"last_error", "exited with status 1"}},
                                    old["jobs"][0]}}};
    const auto grew = check_dlq_growth(fresh, now, 600s);
    EXPECT_EQ(grew.outcome, Outcome::fail);
    EXPECT_EQ(grew.detail,
              "the DLQ grew: 1 job(s) dead-lettered in the last 600 s (it holds 2); newest: exec job y: exited with "
              "status 1 (levqorctl dlq list)");
}

TEST(VerifyDlq, AnAnswerOfAnotherShapeFailsTheRow) {
    const auto odd = check_dlq_growth({{"total", "many"}, {"jobs", nlohmann::json::array()}}, 0, 600s);
    EXPECT_EQ(odd.outcome, Outcome::fail);
    EXPECT_EQ(odd.detail.rfind("unexpected answer: ", 0), 0u) << odd.detail;
    EXPECT_EQ(check_backup("main", {{{"status", 7}}}, 0, 26h).outcome, Outcome::fail);
}

TEST(VerifyBackup, TheNewestVerifiedBackupMustBeRecent) {
    const std::int64_t now = 1795953600;  // 2026-11-29T12:00:00Z
    EXPECT_EQ(check_backup("main", nlohmann::json::array(), now, 26h).detail,
              "no verified backup at all (levqorctl backup run main --wait)");
    const nlohmann::json failed = {{{"id", "b2"},
                                    {"status", "failed"},
                                    {"finished_at", "2026-11-29T11:00:00Z"},
                                    {"verify", {{"ok", false}, {"error", "drill failed"}}}}};
    EXPECT_EQ(check_backup("main", failed, now, 26h).detail, "no verified backup; newest b2 is failed: drill failed");
    nlohmann::json both = failed;
    both.push_back({{"id", "b1"}, {"status", "verified"}, {"finished_at", "2026-11-28T09:00:00Z"}});
    const auto stale = check_backup("main", both, now, 26h);
    EXPECT_EQ(stale.outcome, Outcome::fail);
    EXPECT_EQ(stale.detail, "the newest verified backup, b1, finished 27.0 h ago (more than 26 h)");
    EXPECT_EQ(check_backup("main", both, now, 28h).outcome, Outcome::pass);
}

TEST(VerifyBackup, TargetsFromTheMetrics) {
    const auto families = metrics::parse_exposition(
        "# TYPE levqor_backup_last_success_timestamp_seconds gauge\n"
        "levqor_backup_last_success_timestamp_seconds{target=\"main\"} 0\n"
        "levqor_backup_last_success_timestamp_seconds{target=\"local\"} 1.7e9\n");
    EXPECT_EQ(backup_targets(families), (std::vector<std::string>{"main", "local"}));
    EXPECT_TRUE(backup_targets({}).empty());
}

}  // namespace
}  // namespace levqor::controld::ctl
