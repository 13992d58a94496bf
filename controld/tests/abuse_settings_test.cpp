// SPDX-License-Identifier: Apache-2.0
// The "abuse" section of the config file and its environment variables.
#include <gtest/gtest.h>

#include "levqor/controld/abuse/settings.h"
#include "test_support.h"

namespace levqor::controld::abuse {
namespace {

AbuseSettings load_abuse(const testing::TempDir& dir, const std::string& text,
                         std::map<std::string, std::string> env = {}) {
    const auto file = dir.write("config.json", text);
    AbuseSettings out;
    load_parts(file, testing::env_of(std::move(env)), {config_part(out)});
    return out;
}

std::string abuse_config_error(const std::string& text) {
    testing::TempDir dir;
    try {
        load_abuse(dir, text);
    } catch (const ConfigError& e) {
        const std::string what = e.what();
        const auto prefix = "config file \"" + dir.file("config.json") + "\": ";
        return what.rfind(prefix, 0) == 0 ? what.substr(prefix.size()) : what;
    }
    return "";
}

TEST(AbuseSettings, DefaultsAreTheContractsLimits) {
    const AbuseSettings s;
    EXPECT_EQ(s.device_changes_per_24h, (std::map<std::string, std::int64_t>{{"free", 3}}));
    EXPECT_EQ(s.referral_signups_per_asn_per_day, 5);
    EXPECT_EQ(s.retention_days, 30);
    EXPECT_FALSE(s.pepper_file);
    EXPECT_FALSE(s.asn_mmdb);
    EXPECT_TRUE(s.email_deny_patterns.empty());
}

TEST(AbuseSettings, EveryKeyIsRead) {
    testing::TempDir dir;
    const auto s = load_abuse(dir, R"({"abuse": {
        "pepper_file": "/etc/levqor/pepper", "asn_mmdb": "/var/lib/GeoLite2-ASN.mmdb",
        "email_deny_patterns": ["@mailinator\\.com$"], "device_deny_patterns": ["HeadlessChrome"],
        "device_changes_per_24h": {"free": 2, "pro": 10},
        "referral_signups_per_asn_per_day": 7, "retention_days": 90}})");
    EXPECT_EQ(s.pepper_file, std::optional<std::string>("/etc/levqor/pepper"));
    EXPECT_EQ(s.asn_mmdb, std::optional<std::string>("/var/lib/GeoLite2-ASN.mmdb"));
    EXPECT_EQ(s.email_deny_patterns, std::vector<std::string>{"@mailinator\\.com$"});
    EXPECT_EQ(s.device_deny_patterns, std::vector<std::string>{"HeadlessChrome"});
    EXPECT_EQ(s.device_changes_per_24h, (std::map<std::string, std::int64_t>{{"free", 2}, {"pro", 10}}));
    EXPECT_EQ(s.referral_signups_per_asn_per_day, 7);
    EXPECT_EQ(s.retention_days, 90);
    const auto lists = deny_lists(s);
    EXPECT_EQ(lists.email.match("x@mailinator.com"), std::optional<std::size_t>(0));
    EXPECT_EQ(lists.device.match("HeadlessChrome/1"), std::optional<std::size_t>(0));
}

TEST(AbuseSettings, TheEnvironmentWinsForTheFiles) {
    testing::TempDir dir;
    const auto s = load_abuse(dir, R"({"abuse": {"pepper_file": "/a", "asn_mmdb": "/b"}})",
                              {{"LEVQOR_ABUSE_PEPPER_FILE", "/c"}, {"LEVQOR_ABUSE_ASN_MMDB", ""}});
    EXPECT_EQ(s.pepper_file, std::optional<std::string>("/c"));
    EXPECT_FALSE(s.asn_mmdb);
}

TEST(AbuseSettings, BadValuesNameTheKeyAndTheValue) {
    EXPECT_EQ(abuse_config_error(R"({"abuse": {"email_deny_patterns": ["ok", "(x"]}})"),
              "abuse.email_deny_patterns[1] = \"(x\" is invalid: missing closing parenthesis at offset 2");
    EXPECT_EQ(abuse_config_error(R"({"abuse": {"device_deny_patterns": ["[z-a]"]}})"),
              "abuse.device_deny_patterns[0] = \"[z-a]\" is invalid: range out of order in character class at "
              "offset 3");
    EXPECT_EQ(abuse_config_error(R"({"abuse": {"email_deny_patterns": "x"}})"),
              "\"abuse.email_deny_patterns\" = \"x\" is invalid: expected a list of strings");
    EXPECT_EQ(abuse_config_error(R"({"abuse": {"device_changes_per_24h": 3}})"),
              "\"abuse.device_changes_per_24h\" = 3 is invalid: expected an object of plan -> limit, e.g. "
              "{\"free\": 3} (plans not listed are unlimited)");
    EXPECT_EQ(abuse_config_error(R"({"abuse": {"device_changes_per_24h": {"free": -1}}})"),
              "\"abuse.device_changes_per_24h.free\" = -1 is invalid: expected a whole number from 0 to 1000000");
    EXPECT_EQ(abuse_config_error(R"({"abuse": {"device_changes_per_24h": {"fr ee": 1}}})"),
              "\"abuse.device_changes_per_24h\" = {\"fr ee\":1} is invalid: plan \"fr ee\": a plan name may "
              "contain only letters, digits, '_', '-' and '.'");
    EXPECT_EQ(abuse_config_error(R"({"abuse": {"retention_days": 1}})"),
              "\"abuse.retention_days\" = 1 is invalid: expected a whole number from 2 to 3650");
    EXPECT_EQ(abuse_config_error(R"({"abuse": {"referral_signups_per_asn_per_day": "5"}})"),
              "\"abuse.referral_signups_per_asn_per_day\" = \"5\" is invalid: expected a whole number from 0 to "
              "1000000");
    const auto unknown = abuse_config_error(R"({"abuse": {"retention_day": 3}})");
    EXPECT_NE(unknown.find("retention_days"), std::string::npos) << unknown;
}

}  // namespace
}  // namespace levqor::controld::abuse
