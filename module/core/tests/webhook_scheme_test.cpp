// SPDX-License-Identifier: Apache-2.0
// Header parsing of every provider's scheme: well-formed headers, and the
// malformed ones (empty, missing '=', huge, non-hex, wrong length, duplicate
// keys) that must be rejected without crashing.
#include "levqor/webhook_scheme.h"

#include <gtest/gtest.h>

#include <string>

#include "webhook_test_util.h"

namespace levqor::webhook {
namespace {

using test::Headers;

const std::string kHex64(64, 'a');
const std::string kStripeSig = "3bfab77baf5f7b6991a46c9b53b6547d7afc56148b10468fcad9f35c1992ffbd";

ParseError parse_with(Provider p, const Headers& h, Delivery& d) { return parse(scheme(p), h.v, d); }

TEST(WebhookScheme, TableNamesEveryProvider) {
    EXPECT_EQ(provider_names(), "stripe, slack, github, telegram, notion, shopify, standard, paddle, discord");
    for (const char* name :
         {"stripe", "slack", "github", "telegram", "notion", "shopify", "standard", "paddle", "discord"}) {
        ASSERT_NE(find_scheme(name), nullptr) << name;
        EXPECT_EQ(find_scheme(name)->name, name);
    }
    EXPECT_EQ(find_scheme("generic"), nullptr);
    EXPECT_EQ(find_scheme("Stripe"), nullptr);
}

TEST(WebhookScheme, SignedPrefixes) {
    Delivery d{};
    d.timestamp = "1700000000";
    d.id = "msg_1";
    auto prefix = [&](Provider p) {
        std::string out;
        signed_prefix(scheme(p), d, [&](const char* s, std::size_t n) { out.append(s, n); });
        return out;
    };
    EXPECT_EQ(prefix(Provider::Stripe), "1700000000.");
    EXPECT_EQ(prefix(Provider::Slack), "v0:1700000000:");
    EXPECT_EQ(prefix(Provider::Standard), "msg_1.1700000000.");
    EXPECT_EQ(prefix(Provider::Paddle), "1700000000:");
    EXPECT_EQ(prefix(Provider::Discord), "1700000000");
    EXPECT_EQ(prefix(Provider::Github), "");
    EXPECT_EQ(prefix(Provider::Shopify), "");
    EXPECT_EQ(prefix(Provider::Notion), "");
}

TEST(WebhookScheme, OnlyStandardWebhooksSignsItsId) {
    EXPECT_TRUE(scheme(Provider::Standard).id_signed());
    EXPECT_FALSE(scheme(Provider::Github).id_signed());   // X-GitHub-Delivery
    EXPECT_FALSE(scheme(Provider::Shopify).id_signed());  // X-Shopify-Webhook-Id
}

TEST(WebhookScheme, StripeTimestampAndEverySignature) {
    Delivery d;
    const std::string h = "t=1700000000,v1=" + kStripeSig + ",v0=" + kHex64 + ",v1=" + kHex64;
    ASSERT_EQ(parse_with(Provider::Stripe, Headers().sig(h), d).reason, Reason::None);
    EXPECT_EQ(d.timestamp, "1700000000");
    EXPECT_EQ(d.time, 1700000000);
    ASSERT_EQ(d.nsigs, 2);  // v0 is skipped
    EXPECT_EQ(test::hex(std::string_view(reinterpret_cast<const char*>(d.sigs[0].bytes), d.sigs[0].len)), kStripeSig);
    EXPECT_EQ(d.sigs[1].len, 32);
}

TEST(WebhookScheme, StripeSkipsUnusableSignaturesButNeedsOne) {
    Delivery d;
    // As stripe-python's test: a bad v1 next to a good one still verifies.
    EXPECT_EQ(parse_with(Provider::Stripe, Headers().sig("t=1,v1=" + kStripeSig + ",v1=bad_signature"), d).reason,
              Reason::None);
    EXPECT_EQ(d.nsigs, 1);
    EXPECT_EQ(parse_with(Provider::Stripe, Headers().sig("t=1,v1=bad_signature"), d).reason, Reason::MalformedHeader);
    EXPECT_EQ(parse_with(Provider::Stripe, Headers().sig("t=1,v0=" + kHex64), d).reason, Reason::MalformedHeader);
    EXPECT_EQ(parse_with(Provider::Stripe, Headers().sig("t=1,v2=" + kHex64 + ",v1=" + kHex64), d).reason,
              Reason::None);
}

TEST(WebhookScheme, StripeMalformedHeaders) {
    Delivery d;
    const std::string v1 = ",v1=" + kHex64;
    for (const std::string& bad : {
             std::string("i'm not even a real signature header"),  // stripe-python's test
             std::string("bad_header"),
             std::string(","),
             "v1=" + kHex64,                           // no timestamp
             "t=" + v1.substr(1),                      // t without '=' value... and no v1
             "t=1,t=2" + v1,                           // duplicate t
             "t=abc" + v1,                             // non-numeric timestamp
             "t=-1" + v1,                              // signed timestamp
             "t=1234567890123" + v1,                   // 13 digits
             "t=1,v1=" + kHex64.substr(1),             // odd length
             "t=1,v1=" + kHex64 + "00",                // too long
             "t=1,v1=" + std::string(62, 'a') + "zz",  // non-hex
             std::string("t=1,v1"),                    // item without '='
             "t=1" + v1 + ",garbage",
         }) {
        EXPECT_EQ(parse_with(Provider::Stripe, Headers().sig(bad), d).reason, Reason::MalformedHeader) << bad;
    }
    EXPECT_EQ(parse_with(Provider::Stripe, Headers().sig(""), d).reason, Reason::MalformedHeader);
    EXPECT_EQ(parse_with(Provider::Stripe, Headers(), d).reason, Reason::MissingHeader);
    EXPECT_EQ(parse_with(Provider::Stripe, Headers().set(kSignature, "t=1" + v1, 2), d).reason,
              Reason::DuplicateHeader);
}

TEST(WebhookScheme, StripeTooManySignaturesIsMalformed) {
    Delivery d;
    std::string h = "t=1";
    for (std::size_t i = 0; i < kMaxSignatures; ++i) h += ",v1=" + kHex64;
    EXPECT_EQ(parse_with(Provider::Stripe, Headers().sig(h), d).reason, Reason::None);
    EXPECT_EQ(d.nsigs, kMaxSignatures);
    EXPECT_EQ(parse_with(Provider::Stripe, Headers().sig(h + ",v1=" + kHex64), d).reason, Reason::MalformedHeader);
}

TEST(WebhookScheme, HugeHeadersAreRejectedNotTrusted) {
    Delivery d;
    const std::string huge(1 << 20, 'a');
    EXPECT_EQ(parse_with(Provider::Stripe, Headers().sig(huge), d).reason, Reason::MalformedHeader);
    EXPECT_EQ(parse_with(Provider::Stripe, Headers().sig("t=1,v1=" + huge), d).reason, Reason::MalformedHeader);
    std::string many_unknown = "t=1";
    for (int i = 0; i < 10000; ++i) many_unknown += ",v9=x";
    EXPECT_EQ(parse_with(Provider::Stripe, Headers().sig(many_unknown + ",v1=" + kHex64), d).reason, Reason::None);
    EXPECT_EQ(parse_with(Provider::Github, Headers().sig("sha256=" + huge), d).reason, Reason::MalformedHeader);
    EXPECT_EQ(parse_with(Provider::Standard, Headers().sig(huge).ts("1").id("m"), d).reason, Reason::MalformedHeader);
    EXPECT_EQ(parse_with(Provider::Telegram, Headers().sig(huge), d).reason, Reason::MalformedHeader);
    EXPECT_EQ(parse_with(Provider::Slack, Headers().sig("v0=" + kHex64).ts(huge), d).reason, Reason::MalformedHeader);
}

TEST(WebhookScheme, SlackNeedsItsTimestampHeader) {
    Delivery d;
    const std::string sig = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";
    ASSERT_EQ(parse_with(Provider::Slack, Headers().sig(sig).ts("1531420618"), d).reason, Reason::None);
    EXPECT_EQ(d.time, 1531420618);
    EXPECT_EQ(d.nsigs, 1);
    const ParseError missing = parse_with(Provider::Slack, Headers().sig(sig), d);
    EXPECT_EQ(missing.reason, Reason::MissingHeader);
    EXPECT_EQ(missing.field, kTimestamp);
    const ParseError dup = parse_with(Provider::Slack, Headers().sig(sig).set(kTimestamp, "1", 2), d);
    EXPECT_EQ(dup.reason, Reason::DuplicateHeader);
    EXPECT_EQ(dup.field, kTimestamp);
    EXPECT_EQ(parse_with(Provider::Slack, Headers().sig(sig).ts("12a"), d).reason, Reason::MalformedHeader);
    EXPECT_EQ(parse_with(Provider::Slack, Headers().sig(sig).ts(""), d).reason, Reason::MalformedHeader);
    EXPECT_EQ(parse_with(Provider::Slack, Headers().sig("v1=" + kHex64).ts("1"), d).reason, Reason::MalformedHeader);
    EXPECT_EQ(parse_with(Provider::Slack, Headers().sig(kHex64).ts("1"), d).reason, Reason::MalformedHeader);
}

TEST(WebhookScheme, PrefixedHexAndBase64) {
    Delivery d;
    EXPECT_EQ(parse_with(Provider::Github, Headers().sig("sha256=" + kHex64), d).reason, Reason::None);
    EXPECT_EQ(parse_with(Provider::Github, Headers().sig("sha256=" + std::string(64, 'A')), d).reason, Reason::None);
    EXPECT_EQ(parse_with(Provider::Github, Headers().sig("sha1=" + std::string(40, 'a')), d).reason,
              Reason::MalformedHeader);
    EXPECT_EQ(parse_with(Provider::Github, Headers().sig("sha256="), d).reason, Reason::MalformedHeader);
    EXPECT_EQ(parse_with(Provider::Github, Headers().sig("sha256"), d).reason, Reason::MalformedHeader);
    EXPECT_EQ(parse_with(Provider::Github, Headers().sig("sha256=" + kHex64 + " "), d).reason, Reason::MalformedHeader);
    EXPECT_EQ(parse_with(Provider::Notion, Headers().sig("sha256=" + kHex64), d).reason, Reason::None);
    EXPECT_EQ(parse_with(Provider::Shopify, Headers().sig("QNyObTlKbMx2qDlPF/ZOZcBqg5OgPg+2oky3zldc0Gw="), d).reason,
              Reason::None);
    EXPECT_EQ(parse_with(Provider::Shopify, Headers().sig("QNyObTlKbMx2qDlPF/ZOZcBqg5OgPg+2oky3zldc0G"), d).reason,
              Reason::MalformedHeader);  // 31 bytes
    EXPECT_EQ(parse_with(Provider::Shopify, Headers().sig(kHex64), d).reason, Reason::MalformedHeader);
    EXPECT_EQ(parse_with(Provider::Discord, Headers().sig(std::string(128, 'f')).ts("1"), d).reason, Reason::None);
    EXPECT_EQ(parse_with(Provider::Discord, Headers().sig(kHex64).ts("1"), d).reason, Reason::MalformedHeader);
}

TEST(WebhookScheme, GithubDeliveryIdIsOptional) {
    Delivery d;
    ASSERT_EQ(parse_with(Provider::Github, Headers().sig("sha256=" + kHex64).id("72d3162e"), d).reason, Reason::None);
    EXPECT_EQ(d.id, "72d3162e");
    ASSERT_EQ(parse_with(Provider::Github, Headers().sig("sha256=" + kHex64), d).reason, Reason::None);
    EXPECT_TRUE(d.id.empty());
}

TEST(WebhookScheme, StandardWebhooksList) {
    Delivery d;
    const std::string good = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
    // As the Standard Webhooks Go library's multi-signature test.
    const std::string h =
        "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/"
        "9tdO6mc= " +
        good + " v1a,abc v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=";
    ASSERT_EQ(
        parse_with(Provider::Standard, Headers().sig(h).ts("1614265330").id("msg_p5jXN8AQM9LWM0D4loKWxJek"), d).reason,
        Reason::None);
    EXPECT_EQ(d.nsigs, 3);
    EXPECT_EQ(d.id, "msg_p5jXN8AQM9LWM0D4loKWxJek");
    EXPECT_EQ(parse_with(Provider::Standard, Headers().sig(good).ts("1"), d).reason, Reason::MissingHeader);
    EXPECT_EQ(parse_with(Provider::Standard, Headers().sig(good).ts("1").id(""), d).reason, Reason::MalformedHeader);
    EXPECT_EQ(parse_with(Provider::Standard, Headers().sig(good).id("m"), d).reason, Reason::MissingHeader);
    EXPECT_EQ(parse_with(Provider::Standard, Headers().sig("v2,abc v1a,def").ts("1").id("m"), d).reason,
              Reason::MalformedHeader);
    EXPECT_EQ(parse_with(Provider::Standard, Headers().sig("v1,!!!!").ts("1").id("m"), d).reason,
              Reason::MalformedHeader);
    EXPECT_EQ(parse_with(Provider::Standard, Headers().sig("v1,").ts("1").id("m"), d).reason, Reason::MalformedHeader);
    EXPECT_EQ(parse_with(Provider::Standard, Headers().sig("v1").ts("1").id("m"), d).reason, Reason::MalformedHeader);
    EXPECT_EQ(parse_with(Provider::Standard, Headers().sig("   ").ts("1").id("m"), d).reason, Reason::MalformedHeader);
}

TEST(WebhookScheme, PaddleList) {
    Delivery d;
    const std::string sig = "d96299976a6eb066f484d7fde011ac56fc32b38fc9940bc419d6e537fdc6ef02";
    // As the Paddle Python SDK's test: a bogus h1 next to the real one.
    ASSERT_EQ(parse_with(Provider::Paddle, Headers().sig("ts=1696195954;h1=dummy;h1=" + sig), d).reason, Reason::None);
    EXPECT_EQ(d.time, 1696195954);
    EXPECT_EQ(d.nsigs, 1);
    EXPECT_EQ(parse_with(Provider::Paddle, Headers().sig("h1=" + sig), d).reason, Reason::MalformedHeader);
    EXPECT_EQ(parse_with(Provider::Paddle, Headers().sig("ts=1;ts=2;h1=" + sig), d).reason, Reason::MalformedHeader);
    EXPECT_EQ(parse_with(Provider::Paddle, Headers().sig("ts=1,h1=" + sig), d).reason, Reason::MalformedHeader);
}

TEST(WebhookScheme, TelegramToken) {
    Delivery d;
    ASSERT_EQ(parse_with(Provider::Telegram, Headers().sig("my-Token_1"), d).reason, Reason::None);
    EXPECT_EQ(d.token, "my-Token_1");
    EXPECT_EQ(parse_with(Provider::Telegram, Headers().sig(std::string(257, 'a')), d).reason, Reason::MalformedHeader);
}

TEST(WebhookScheme, Generic) {
    auto s = make_generic("X-Signature", "sha512", "base64", "sha512=");
    ASSERT_TRUE(s) << s.error();
    EXPECT_EQ(s.value().signature_size(), 64u);
    Delivery d;
    const std::string b64 = "hrYQK3VK5VjfDsPnkFyBJQs+G6abBgwbuWQajxmGMDX7AHyCmwZI2jigMlVjATH8L3deARDAqhGzN1ChTPSOyw==";
    EXPECT_EQ(parse(s.value(), Headers().sig("sha512=" + b64).v, d).reason, Reason::None);
    EXPECT_EQ(parse(s.value(), Headers().sig(b64).v, d).reason, Reason::MalformedHeader);
    EXPECT_FALSE(make_generic("", "sha256", "hex", ""));
    EXPECT_FALSE(make_generic("X Sig", "sha256", "hex", ""));
    EXPECT_EQ(make_generic("X-Sig", "md5", "hex", "").error(),
              "invalid algorithm \"md5\", expected sha1, sha256 or sha512");
    EXPECT_EQ(make_generic("X-Sig", "sha1", "b32", "").error(), "invalid encoding \"b32\", expected hex or base64");
}

TEST(WebhookScheme, TimestampToleranceBothDirections) {
    const Scheme& s = scheme(Provider::Stripe);
    Delivery d{};
    d.time = 1000;
    EXPECT_EQ(check_time(s, d, 1300, 300u), Reason::None);
    EXPECT_EQ(check_time(s, d, 1301, 300u), Reason::StaleTimestamp);
    EXPECT_EQ(check_time(s, d, 700, 300u), Reason::None);
    EXPECT_EQ(check_time(s, d, 699, 300u), Reason::FutureTimestamp);
    EXPECT_EQ(check_time(s, d, 1000000, std::nullopt), Reason::None);                 // tolerance=off
    EXPECT_EQ(check_time(scheme(Provider::Github), d, 1000000, 300u), Reason::None);  // no timestamp
}

TEST(WebhookScheme, DecodeHex) {
    std::uint8_t out[2];
    EXPECT_TRUE(decode_hex("aBf0", out, 2));
    EXPECT_EQ(out[0], 0xab);
    EXPECT_EQ(out[1], 0xf0);
    EXPECT_FALSE(decode_hex("abf", out, 2));
    EXPECT_FALSE(decode_hex("abg0", out, 2));
    EXPECT_FALSE(decode_hex(std::string_view("ab\0f", 4), out, 2));
}

}  // namespace
}  // namespace levqor::webhook
