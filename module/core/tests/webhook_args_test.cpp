// SPDX-License-Identifier: Apache-2.0
#include "levqor/webhook_args.h"

#include <gtest/gtest.h>

#include <charconv>

namespace levqor::webhook {
namespace {

// A stand-in for nginx's time parser: "<n>" or "<n>s|m|h|d".
std::int64_t test_seconds(std::string_view t) {
    std::int64_t scale = 1;
    if (!t.empty() && (t.back() == 's' || t.back() == 'm' || t.back() == 'h' || t.back() == 'd')) {
        scale = t.back() == 's' ? 1 : t.back() == 'm' ? 60 : t.back() == 'h' ? 3600 : 86400;
        t.remove_suffix(1);
    }
    std::int64_t n = 0;
    const auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), n);
    if (t.empty() || ec != std::errc() || p != t.data() + t.size()) return -1;
    return n * scale;
}

Parsed<WebhookArgs> named(std::string_view provider, std::vector<std::string_view> params) {
    return parse_webhook_args(provider, params, test_seconds);
}
Parsed<WebhookArgs> generic(std::vector<std::string_view> params) { return parse_generic_args(params, test_seconds); }

std::string error_of(const Parsed<WebhookArgs>& p) {
    EXPECT_FALSE(p);
    return p ? std::string() : p.error();
}

TEST(WebhookArgs, ProviderWithDefaults) {
    const auto a = named("stripe", {"secret_file=stripe.key"});
    ASSERT_TRUE(a) << a.error();
    EXPECT_FALSE(a.value().off);
    EXPECT_EQ(a.value().scheme.name, "stripe");
    EXPECT_EQ(a.value().secret_files, (std::vector<std::string_view>{"stripe.key"}));
    EXPECT_EQ(a.value().tolerance, std::optional<std::uint32_t>(kDefaultTolerance));
    EXPECT_FALSE(a.value().tolerance_given);
    EXPECT_TRUE(a.value().replay_zone.empty());
    EXPECT_FALSE(a.value().replay_window);
    EXPECT_EQ(a.value().window(), kDefaultReplayWindow);
}

TEST(WebhookArgs, EveryCommonOption) {
    const auto a = named("github", {"secret_file=a", "secret_file=b", "tolerance=5m", "replay=r", "replay_window=1h"});
    ASSERT_TRUE(a) << a.error();
    EXPECT_EQ(a.value().secret_files, (std::vector<std::string_view>{"a", "b"}));
    EXPECT_EQ(a.value().tolerance, std::optional<std::uint32_t>(300));
    EXPECT_TRUE(a.value().tolerance_given);
    EXPECT_EQ(a.value().replay_zone, "r");
    EXPECT_EQ(a.value().window(), 3600u);
    const auto off = named("slack", {"secret_file=s", "tolerance=off"});
    ASSERT_TRUE(off) << off.error();
    EXPECT_FALSE(off.value().tolerance);
    EXPECT_TRUE(off.value().tolerance_given);
}

TEST(WebhookArgs, Off) {
    const auto a = named("off", {});
    ASSERT_TRUE(a) << a.error();
    EXPECT_TRUE(a.value().off);
    EXPECT_EQ(error_of(named("off", {"secret_file=x"})), "off takes no parameters");
}

TEST(WebhookArgs, UnknownAndGenericProviders) {
    EXPECT_EQ(error_of(named("acme", {"secret_file=x"})),
              "unknown provider \"acme\", expected " + provider_names() + " (or levqor_webhook_generic)");
    EXPECT_EQ(error_of(named("generic", {"secret_file=x"})),
              "generic schemes are configured with levqor_webhook_generic");
}

TEST(WebhookArgs, NeedsASecretFile) {
    EXPECT_EQ(error_of(named("stripe", {})), "needs secret_file=<path>");
    EXPECT_EQ(error_of(named("stripe", {"tolerance=60"})), "needs secret_file=<path>");
    EXPECT_EQ(error_of(named("stripe", {"secret_file="})), "secret_file= needs a path");
}

TEST(WebhookArgs, ToleranceIsOneSecondTo30DaysOrOff) {
    EXPECT_EQ(named("stripe", {"secret_file=s", "tolerance=1"}).value().tolerance, std::optional<std::uint32_t>(1));
    EXPECT_EQ(named("stripe", {"secret_file=s", "tolerance=30d"}).value().tolerance,
              std::optional<std::uint32_t>(kMaxTolerance));
    for (const char* bad : {"tolerance=soon", "tolerance=0", "tolerance=31d", "tolerance="}) {
        EXPECT_EQ(error_of(named("stripe", {"secret_file=s", bad})),
                  "invalid tolerance \"" + std::string(bad) + "\", expected seconds (1 to 30d) or off");
    }
}

TEST(WebhookArgs, ReplayWindowIsOneSecondTo30DaysAndNeedsReplay) {
    EXPECT_EQ(named("github", {"secret_file=s", "replay=r", "replay_window=1s"}).value().window(), 1u);
    EXPECT_EQ(named("github", {"secret_file=s", "replay=r", "replay_window=30d"}).value().window(), kMaxReplayWindow);
    for (const char* bad : {"replay_window=31d", "replay_window=0", "replay_window=x", "replay_window="}) {
        EXPECT_EQ(error_of(named("github", {"secret_file=s", "replay=r", bad})),
                  "invalid replay_window \"" + std::string(bad) + "\", expected a time from 1s to 30d");
    }
    EXPECT_EQ(error_of(named("github", {"secret_file=s", "replay_window=1h"})), "replay_window= needs replay=<zone>");
    EXPECT_EQ(error_of(named("github", {"secret_file=s", "replay="})), "invalid parameter \"replay=\"");
}

TEST(WebhookArgs, ReplayIsRefusedForTokenSchemes) {
    EXPECT_EQ(error_of(named("telegram", {"secret_file=s", "replay=r"})),
              "replay= cannot be used with telegram: its deliveries carry neither an id nor a per-delivery signature");
}

TEST(WebhookArgs, UnknownParameters) {
    EXPECT_EQ(error_of(named("stripe", {"secret_file=s", "header=X"})), "invalid parameter \"header=X\"");
    EXPECT_EQ(error_of(named("stripe", {"secret_file=s", "strict"})), "invalid parameter \"strict\"");
}

TEST(GenericArgs, BuildsTheScheme) {
    const auto a = generic({"header=X-Sig", "algorithm=sha256", "encoding=hex", "prefix=sha256=", "secret_file=g",
                            "tolerance=off", "replay=r"});
    ASSERT_TRUE(a) << a.error();
    EXPECT_EQ(a.value().scheme.provider, Provider::Generic);
    EXPECT_EQ(a.value().secret_files, (std::vector<std::string_view>{"g"}));
    EXPECT_FALSE(a.value().tolerance);
    EXPECT_EQ(a.value().replay_zone, "r");
}

TEST(GenericArgs, NeedsHeaderAlgorithmEncodingAndSecret) {
    const std::string needs =
        "needs header=<name> algorithm=<sha1|sha256|sha512> encoding=<hex|base64> secret_file=<path>";
    EXPECT_EQ(error_of(generic({"algorithm=sha256", "encoding=hex", "secret_file=g"})), needs);
    EXPECT_EQ(error_of(generic({"header=X", "encoding=hex", "secret_file=g"})), needs);
    EXPECT_EQ(error_of(generic({"header=X", "algorithm=sha256", "secret_file=g"})), needs);
    EXPECT_EQ(error_of(generic({"header=X", "algorithm=sha256", "encoding=hex"})), needs);
    EXPECT_EQ(error_of(generic({"header=", "algorithm=sha256", "encoding=hex", "secret_file=g"})), needs);
}

TEST(GenericArgs, SchemeErrorsAndUnknownParameters) {
    EXPECT_EQ(error_of(generic({"header=X", "algorithm=md5", "encoding=hex", "secret_file=g"})),
              "invalid algorithm \"md5\", expected sha1, sha256 or sha512");
    EXPECT_EQ(error_of(generic({"header=X", "algorithm=sha256", "encoding=hex", "secret_file=g", "salt=1"})),
              "invalid parameter \"salt=1\"");
    EXPECT_EQ(error_of(generic({"header=X", "algorithm=sha256", "encoding=hex", "secret_file=g", "raw"})),
              "invalid parameter \"raw\"");
    EXPECT_EQ(error_of(generic({"header=X", "algorithm=sha256", "encoding=hex", "secret_file=g", "tolerance=x"})),
              "invalid tolerance \"tolerance=x\", expected seconds (1 to 30d) or off");
    EXPECT_EQ(error_of(generic({"header=X", "algorithm=sha256", "encoding=hex", "secret_file=g", "replay_window=1h"})),
              "replay_window= needs replay=<zone>");
}

TEST(WebhookMode, EnforceOrLogOnly) {
    EXPECT_EQ(parse_mode("enforce").value(), Mode::Enforce);
    EXPECT_EQ(parse_mode("log_only").value(), Mode::LogOnly);
    EXPECT_EQ(parse_mode("audit").error(), "invalid value \"audit\", expected enforce or log_only");
}

}  // namespace
}  // namespace levqor::webhook
