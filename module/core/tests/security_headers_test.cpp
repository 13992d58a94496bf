// SPDX-License-Identifier: Apache-2.0
#include "levqor/security_headers.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>

namespace levqor::headers {
namespace {

std::map<std::string, std::string> as_map(const std::vector<HeaderSpec>& specs, std::string_view nonce = "N") {
    std::map<std::string, std::string> m;
    for (const auto& s : specs) m[s.name] = s.value.render(nonce);
    return m;
}

TEST(Profiles, StrictLocksDownEverything) {
    const auto specs = resolve(Settings{});
    const auto m = as_map(specs);
    const std::string csp = m.at("Content-Security-Policy");
    EXPECT_EQ(csp.rfind("default-src 'none';", 0), 0u);
    EXPECT_NE(csp.find("script-src 'nonce-N' 'strict-dynamic'"), std::string::npos);
    EXPECT_NE(csp.find("frame-ancestors 'none'"), std::string::npos);
    EXPECT_NE(csp.find("base-uri 'none'"), std::string::npos);
    EXPECT_NE(csp.find("object-src 'none'"), std::string::npos);
    EXPECT_EQ(csp.find("unsafe"), std::string::npos);
    EXPECT_EQ(m.at("Strict-Transport-Security"), "max-age=63072000; includeSubDomains");
    EXPECT_EQ(m.at("X-Frame-Options"), "DENY");
    EXPECT_EQ(m.at("X-Content-Type-Options"), "nosniff");
    EXPECT_EQ(m.at("Referrer-Policy"), "no-referrer");
    EXPECT_NE(m.at("Permissions-Policy").find("camera=()"), std::string::npos);
    EXPECT_EQ(m.at("Cross-Origin-Opener-Policy"), "same-origin");
    EXPECT_EQ(m.at("Cross-Origin-Resource-Policy"), "same-origin");
    EXPECT_EQ(specs.size(), 8u);
    for (const auto& s : specs) EXPECT_EQ(s.https_only, s.name == "Strict-Transport-Security");
}

TEST(Profiles, ApiHasNoNonceAndNoDocumentPolicies) {
    Settings s;
    s.profile = Profile::Api;
    const auto specs = resolve(s);
    for (const auto& h : specs) EXPECT_EQ(h.value.nonce_slots(), 0u) << h.name;
    const auto m = as_map(specs);
    EXPECT_EQ(m.at("Content-Security-Policy"), "default-src 'none'; frame-ancestors 'none'");
    EXPECT_EQ(m.count("Permissions-Policy"), 0u);
    EXPECT_EQ(m.count("Cross-Origin-Opener-Policy"), 0u);
    EXPECT_EQ(m.at("Cross-Origin-Resource-Policy"), "same-origin");
}

TEST(Profiles, RelaxedReportsOnly) {
    Settings s;
    s.profile = Profile::Relaxed;
    const auto m = as_map(resolve(s));
    EXPECT_EQ(m.count("Content-Security-Policy"), 0u);
    EXPECT_EQ(m.count("Content-Security-Policy-Report-Only"), 1u);
    EXPECT_EQ(m.at("X-Frame-Options"), "SAMEORIGIN");
    EXPECT_EQ(m.at("Strict-Transport-Security"), "max-age=31536000");
    EXPECT_EQ(m.at("Referrer-Policy"), "strict-origin-when-cross-origin");
}

TEST(Overrides, ReplaceProfileValues) {
    Settings s;
    s.csp = Csp{true, parse_csp_policy("default-src 'self'").value(), true};
    s.hsts = parse_hsts({"max_age=300"}).value();
    s.frame_options = FrameOptions::Off;
    s.referrer_policy = std::string();  // off
    s.permissions_policy = "camera=()";
    const auto m = as_map(resolve(s));
    EXPECT_EQ(m.at("Content-Security-Policy-Report-Only"), "default-src 'self'");
    EXPECT_EQ(m.count("Content-Security-Policy"), 0u);
    EXPECT_EQ(m.at("Strict-Transport-Security"), "max-age=300");
    EXPECT_EQ(m.count("X-Frame-Options"), 0u);
    EXPECT_EQ(m.count("Referrer-Policy"), 0u);
    EXPECT_EQ(m.at("Permissions-Policy"), "camera=()");
}

TEST(Overrides, CspOffAndHstsOff) {
    Settings s;
    s.csp = Csp{false, {}, false};
    s.hsts = parse_hsts({"off"}).value();
    const auto m = as_map(resolve(s));
    EXPECT_EQ(m.count("Content-Security-Policy"), 0u);
    EXPECT_EQ(m.count("Strict-Transport-Security"), 0u);
}

TEST(Shadow, OnlyReportingHeaders) {
    const auto m = as_map(report_only(resolve(Settings{})));
    EXPECT_EQ(m.size(), 2u);
    EXPECT_NE(m.at("Content-Security-Policy-Report-Only").find("'nonce-N'"), std::string::npos);
    EXPECT_EQ(m.at("Cross-Origin-Opener-Policy-Report-Only"), "same-origin");
}

TEST(Inheritance, ChildKeepsItsOwnAndTakesTheRest) {
    Settings parent;
    parent.enabled = true;
    parent.profile = Profile::Api;
    parent.frame_options = FrameOptions::SameOrigin;
    Settings child;
    child.frame_options = FrameOptions::Deny;
    child.inherit_from(parent);
    EXPECT_EQ(child.enabled, std::optional<bool>(true));
    EXPECT_EQ(child.profile, std::optional<Profile>(Profile::Api));
    EXPECT_EQ(child.frame_options, std::optional<FrameOptions>(FrameOptions::Deny));
}

TEST(Inheritance, EmptyUntilAnyFieldIsSet) {
    EXPECT_TRUE(Settings{}.empty());
    const auto set = [](auto field, auto value) {
        Settings s;
        s.*field = value;
        return s.empty();
    };
    EXPECT_FALSE(set(&Settings::enabled, false));
    EXPECT_FALSE(set(&Settings::profile, Profile::Strict));
    EXPECT_FALSE(set(&Settings::csp, Csp{false, {}, false}));
    EXPECT_FALSE(set(&Settings::hsts, Hsts{}));
    EXPECT_FALSE(set(&Settings::frame_options, FrameOptions::Deny));
    EXPECT_FALSE(set(&Settings::referrer_policy, std::string()));
    EXPECT_FALSE(set(&Settings::permissions_policy, std::string()));
    EXPECT_FALSE(set(&Settings::upstream, UpstreamMode{}));
}

TEST(Csp, NonceVariableBecomesSlots) {
    const auto t = parse_csp_policy("script-src 'nonce-$levqor_csp_nonce'; style-src 'nonce-${levqor_csp_nonce}'");
    ASSERT_TRUE(t);
    EXPECT_EQ(t.value().nonce_slots(), 2u);
    EXPECT_EQ(t.value().render("X"), "script-src 'nonce-X'; style-src 'nonce-X'");
}

TEST(Csp, RejectsOtherVariablesEmptyAndControlCharacters) {
    const auto other = parse_csp_policy("default-src $host");
    ASSERT_FALSE(other);
    EXPECT_NE(other.error().find("\"$host\""), std::string::npos);
    EXPECT_FALSE(parse_csp_policy(""));
    EXPECT_FALSE(parse_csp_policy("   "));
    EXPECT_FALSE(parse_csp_policy("default-src 'self'\r\nX-Evil: 1"));
    EXPECT_FALSE(parse_csp_policy("script-src ${levqor_csp_nonce"));
    EXPECT_TRUE(parse_csp_policy("default-src 'self' https://a.example/$"));  // lone '$' is text
}

TEST(Hsts, ParsesAndValidates) {
    const auto h = parse_hsts({"max_age=63072000", "include_subdomains", "preload"});
    ASSERT_TRUE(h);
    EXPECT_EQ(h.value().value(), "max-age=63072000; includeSubDomains; preload");
    EXPECT_FALSE(parse_hsts({"max_age=abc"}));
    EXPECT_FALSE(parse_hsts({"max_age=-1"}));
    EXPECT_FALSE(parse_hsts({"max_age="}));
    EXPECT_FALSE(parse_hsts({"max_age=999999999999"}));
    EXPECT_FALSE(parse_hsts({"include_subdomains"}));  // no max_age
    EXPECT_FALSE(parse_hsts({"max_age=10", "max_age=20"}));
    EXPECT_FALSE(parse_hsts({"max_age=10", "bogus"}));
    const auto short_preload = parse_hsts({"max_age=300", "include_subdomains", "preload"});
    ASSERT_FALSE(short_preload);
    EXPECT_NE(short_preload.error().find("preload"), std::string::npos);
    EXPECT_NE(parse_hsts({"max_age=abc"}).error().find("\"max_age=abc\""), std::string::npos);
}

TEST(Values, FrameReferrerPermissionsUpstream) {
    EXPECT_EQ(parse_frame_options("SAMEORIGIN").value(), FrameOptions::SameOrigin);
    EXPECT_FALSE(parse_frame_options("ALLOW-FROM https://x"));
    EXPECT_EQ(parse_referrer_policy("no-referrer,strict-origin-when-cross-origin").value(),
              "no-referrer, strict-origin-when-cross-origin");
    EXPECT_EQ(parse_referrer_policy("off").value(), "");
    const auto bad = parse_referrer_policy("never");
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.error().find("\"never\""), std::string::npos);
    EXPECT_TRUE(parse_permissions_policy("camera=(), geolocation=(self \"https://maps.example\"), fullscreen=*"));
    EXPECT_FALSE(parse_permissions_policy("camera 'none'"));  // Feature-Policy syntax
    EXPECT_FALSE(parse_permissions_policy("camera=(, x"));
    EXPECT_FALSE(parse_permissions_policy(""));
    EXPECT_EQ(parse_permissions_policy("off").value(), "");
    EXPECT_EQ(parse_upstream_mode("keep").value(), UpstreamMode::Keep);
    EXPECT_FALSE(parse_upstream_mode("merge"));
    EXPECT_FALSE(parse_profile("paranoid"));
    EXPECT_NE(parse_profile("paranoid").error().find("\"paranoid\""), std::string::npos);
}

TEST(Names, ManagedNamesCoverEveryProfileHeader) {
    for (const auto p : {Profile::Strict, Profile::Api, Profile::Relaxed}) {
        Settings s;
        s.profile = p;
        for (const auto& h : resolve(s)) {
            const auto& names = managed_header_names();
            EXPECT_NE(std::find(names.begin(), names.end(), h.name), names.end()) << h.name;
            EXPECT_LT(h.name.size(), 64u);  // the filter's length mask relies on it
        }
    }
}

}  // namespace
}  // namespace levqor::headers
