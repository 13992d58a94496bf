// SPDX-License-Identifier: Apache-2.0
// The four abuse routes' inputs: POST bodies and GET headers -> requests of
// digests and networks, every bad field named.
#include <gtest/gtest.h>

#include <map>

#include "levqor/controld/abuse/request.h"

namespace levqor::controld::abuse {
namespace {

const std::string kRequestPepper = "request-test-pepper-0123456789abcdef";

struct RequestFixture {
    NetworkResolver networks{std::string(LEVQOR_CONTROLD_TEST_DATA) + "/GeoLite2-ASN-Test.mmdb"};
    Digester digests{kRequestPepper};
    DenyList email_deny{"abuse.email_deny_patterns", {R"(@mailinator\.com$)"}};
    DenyList device_deny{"abuse.device_deny_patterns", {"x", "HeadlessChrome"}};
    RequestParser parser{networks, digests, email_deny, device_deny};
};

HeaderLookup headers_of(std::multimap<std::string, std::string> values) {
    return [values = std::move(values)](const std::string& name) {
        std::vector<std::string> out;
        const auto [begin, end] = values.equal_range(name);
        for (auto it = begin; it != end; ++it) out.push_back(it->second);
        return out;
    };
}

// The field an InvalidInput names, "" when f() accepted the input.
template <typename F>
std::string refused_field(F f) {
    try {
        f();
    } catch (const InvalidInput& e) {
        return e.field();
    }
    return "";
}

TEST(AbuseRequest, ADeviceBodyBecomesDigestsAndANetwork) {
    RequestFixture t;
    const auto parsed =
        t.parser.device_from_json(R"({"account":"acct-1","plan":"free","device":"Mozilla/5.0","ip":"1.0.0.9"})");
    EXPECT_EQ(parsed.request.account_digest, t.digests.digest(DigestRole::account, "acct-1"));
    EXPECT_EQ(parsed.request.device_digest, t.digests.digest(DigestRole::device, "Mozilla/5.0"));
    EXPECT_EQ(parsed.request.plan, "free");
    EXPECT_EQ(parsed.request.network.key, "AS15169");
    EXPECT_EQ(parsed.request.network.kind, "asn");
    EXPECT_FALSE(parsed.denied);
}

TEST(AbuseRequest, TheHeaderFormGivesTheSameRequestAsTheBody) {
    RequestFixture t;
    const auto body =
        t.parser.device_from_json(R"({"ip":"::ffff:198.51.100.7","device":"d1","plan":"pro","account":"a1"})");
    const auto headers = t.parser.device_from_headers(headers_of({{"X-Levqor-Account", "a1"},
                                                                  {"X-Levqor-Plan", "pro"},
                                                                  {"X-Levqor-Device", "d1"},
                                                                  {"X-Real-IP", "198.51.100.200"}}));
    EXPECT_EQ(headers.request.account_digest, body.request.account_digest);
    EXPECT_EQ(headers.request.device_digest, body.request.device_digest);
    EXPECT_EQ(headers.request.plan, body.request.plan);
    EXPECT_EQ(headers.request.network.key, "198.51.100.0/24");
    EXPECT_EQ(body.request.network.key, "198.51.100.0/24");

    const auto signup_body = t.parser.signup_from_json(R"({"email":"A.B+x@gmail.com","ip":"2003::1","referrer":"r"})");
    const auto signup_headers = t.parser.signup_from_headers(
        headers_of({{"X-Levqor-Email", "ab@googlemail.com"}, {"X-Real-IP", "2003::2"}, {"X-Levqor-Referrer", "r2"}}));
    EXPECT_EQ(signup_body.request.email_digest, t.digests.digest(DigestRole::email, "ab@gmail.com"));
    EXPECT_EQ(signup_headers.request.email_digest, signup_body.request.email_digest);
    EXPECT_EQ(signup_body.request.network.key, "AS3320");
    EXPECT_EQ(signup_headers.request.network.key, "AS3320");
    EXPECT_TRUE(signup_body.request.referral);
    EXPECT_TRUE(signup_headers.request.referral);
}

TEST(AbuseRequest, AReferralNeedsANonEmptyReferrer) {
    RequestFixture t;
    EXPECT_FALSE(t.parser.signup_from_json(R"({"email":"a@example.com","ip":"1.2.3.4"})").request.referral);
    EXPECT_FALSE(
        t.parser.signup_from_json(R"({"email":"a@example.com","ip":"1.2.3.4","referrer":null})").request.referral);
    EXPECT_FALSE(
        t.parser.signup_from_json(R"({"email":"a@example.com","ip":"1.2.3.4","referrer":""})").request.referral);
    EXPECT_FALSE(t.parser
                     .signup_from_headers(headers_of(
                         {{"X-Levqor-Email", "a@example.com"}, {"X-Real-IP", "1.2.3.4"}, {"X-Levqor-Referrer", ""}}))
                     .request.referral);
    EXPECT_FALSE(
        t.parser.signup_from_headers(headers_of({{"X-Levqor-Email", "a@example.com"}, {"X-Real-IP", "1.2.3.4"}}))
            .request.referral);
}

TEST(AbuseRequest, DenyListsMatchTheNormalizedEmailAndTheRawDevice) {
    RequestFixture t;
    const auto email = t.parser.signup_from_json(R"({"email":" Someone@MAILINATOR.com ","ip":"1.2.3.4"})");
    ASSERT_TRUE(email.denied);
    EXPECT_EQ(email.denied->reason, "email_denied");
    EXPECT_EQ(email.denied->pattern, 0u);
    EXPECT_EQ(email.request.email_digest, t.digests.digest(DigestRole::email, "someone@mailinator.com"));

    const auto device = t.parser.device_from_json(
        R"({"account":"a","plan":"free","device":"Mozilla HeadlessChrome/120","ip":"1.2.3.4"})");
    ASSERT_TRUE(device.denied);
    EXPECT_EQ(device.denied->reason, "device_denied");
    EXPECT_EQ(device.denied->pattern, 1u);
    EXPECT_FALSE(t.parser.device_from_json(R"({"account":"x","plan":"free","device":"ok","ip":"1.2.3.4"})").denied)
        << "the account is not matched against the device list";
}

TEST(AbuseRequest, BadBodiesNameTheField) {
    RequestFixture t;
    const std::string k1 = std::string(1025, 'k');
    const std::pair<std::string, const char*> device_cases[] = {
        {R"([1,2])", "body"},
        {R"("text")", "body"},
        {R"({"account":)", "body"},
        {"", "body"},
        {std::string(8193, ' '), "body"},
        {std::string(70, '[') + std::string(70, ']'), "body"},
        {R"({"plan":"free","device":"d","ip":"1.2.3.4"})", "account"},
        {R"({"account":"a","device":"d","ip":"1.2.3.4"})", "plan"},
        {R"({"account":"a","plan":"free","ip":"1.2.3.4"})", "device"},
        {R"({"account":"a","plan":"free","device":"d"})", "ip"},
        {R"({"account":1,"plan":"free","device":"d","ip":"1.2.3.4"})", "account"},
        {R"({"account":"","plan":"free","device":"d","ip":"1.2.3.4"})", "account"},
        {R"({"account":"a\u0000b","plan":"free","device":"d","ip":"1.2.3.4"})", "account"},
        {R"({"account":"a","plan":"fr ee","device":"d","ip":"1.2.3.4"})", "plan"},
        {R"({"account":"a","plan":"free","device":null,"ip":"1.2.3.4"})", "device"},
        {R"({"account":"a","plan":"free","device":")" + k1 + R"(","ip":"1.2.3.4"})", "device"},
        {R"({"account":"a","plan":"free","device":"d","ip":"1.2.3.4:80"})", "ip"},
        {R"({"account":"a","plan":"free","device":"d","ip":"1.2.3.4","extra":1})", "extra"},
    };
    for (const auto& [body, field] : device_cases) {
        EXPECT_EQ(refused_field([&, &b = body] { t.parser.device_from_json(b); }), field) << body.substr(0, 80);
    }
    const std::pair<std::string, const char*> signup_cases[] = {
        {R"({"ip":"1.2.3.4"})", "email"},
        {R"({"email":"nope","ip":"1.2.3.4"})", "email"},
        {R"({"email":"a@example.com"})", "ip"},
        {R"({"email":"a@example.com","ip":"300.1.1.1"})", "ip"},
        {R"({"email":"a@example.com","ip":"1.2.3.4","referrer":5})", "referrer"},
        {R"({"email":"a@example.com","ip":"1.2.3.4","referrer":")" + k1 + R"("})", "referrer"},
        {R"({"email":"a@example.com","ip":"1.2.3.4","referer":"typo"})", "referer"},
        {R"(null)", "body"},
        {R"({"email":"a@example.com","ip":"1.2.3.4","":"r"})", "body"},
    };
    for (const auto& [body, field] : signup_cases) {
        EXPECT_EQ(refused_field([&, &b = body] { t.parser.signup_from_json(b); }), field) << body.substr(0, 80);
    }
}

TEST(AbuseRequest, BadHeadersNameTheHeader) {
    RequestFixture t;
    const std::multimap<std::string, std::string> good = {
        {"X-Levqor-Account", "a"}, {"X-Levqor-Plan", "free"}, {"X-Levqor-Device", "d"}, {"X-Real-IP", "1.2.3.4"}};
    EXPECT_EQ(refused_field([&] { t.parser.device_from_headers(headers_of(good)); }), "");
    for (const char* name : {"X-Levqor-Account", "X-Levqor-Plan", "X-Levqor-Device", "X-Real-IP"}) {
        auto missing = good;
        missing.erase(name);
        EXPECT_EQ(refused_field([&] { t.parser.device_from_headers(headers_of(missing)); }), name);
        auto repeated = good;
        repeated.emplace(name, good.find(name)->second);
        EXPECT_EQ(refused_field([&] { t.parser.device_from_headers(headers_of(repeated)); }), name);
        auto empty = good;
        empty.find(name)->second = "";
        EXPECT_EQ(refused_field([&] { t.parser.device_from_headers(headers_of(empty)); }), name);
        auto longer = good;
        longer.find(name)->second = std::string(1025, 'a');
        EXPECT_EQ(refused_field([&] { t.parser.device_from_headers(headers_of(longer)); }), name);
    }
    EXPECT_EQ(refused_field([&] {
                  t.parser.signup_from_headers(headers_of({{"X-Levqor-Email", "a@example.com"},
                                                           {"X-Real-IP", "1.2.3.4"},
                                                           {"X-Levqor-Referrer", "r"},
                                                           {"X-Levqor-Referrer", "s"}}));
              }),
              "X-Levqor-Referrer");
    EXPECT_EQ(refused_field([&] {
                  t.parser.signup_from_headers(headers_of({{"X-Levqor-Email", "bad"}, {"X-Real-IP", "1.2.3.4"}}));
              }),
              "X-Levqor-Email");
    EXPECT_EQ(refused_field([&] {
                  t.parser.signup_from_headers(headers_of({{"X-Levqor-Email", "a@example.com"}, {"X-Real-IP", "x"}}));
              }),
              "X-Real-IP");
}

TEST(AbuseRequest, ErrorsNeverCarryTheValue) {
    RequestFixture t;
    const char* bodies[] = {
        R"({"account":"a","plan":"free","device":"d","ip":"secret-ip"})",
        R"({"account":"a\u0001secret","plan":"free","device":"d","ip":"1.2.3.4"})",
    };
    for (const char* body : bodies) {
        try {
            t.parser.device_from_json(body);
            ADD_FAILURE() << body;
        } catch (const InvalidInput& e) {
            EXPECT_EQ(std::string(e.what()).find("secret"), std::string::npos) << e.what();
        }
    }
    try {
        t.parser.signup_from_json(R"({"email":"secret","ip":"1.2.3.4"})");
        ADD_FAILURE();
    } catch (const InvalidInput& e) {
        EXPECT_EQ(std::string(e.what()).find("secret"), std::string::npos) << e.what();
    }
}

}  // namespace
}  // namespace levqor::controld::abuse
