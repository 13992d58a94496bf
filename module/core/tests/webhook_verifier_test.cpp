// SPDX-License-Identifier: Apache-2.0
// Each provider's scheme against the vectors its official SDKs and docs
// publish (where a provider publishes none, against HMACs computed with the
// openssl command line), secret rotation, streaming, and secret files.
#include "levqor/webhook_verifier.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <string>
#include <vector>

#include "levqor/base64.h"
#include "webhook_test_util.h"

namespace levqor::webhook {
namespace {

using test::Headers;

std::unique_ptr<Verifier> make(const Scheme& s, std::vector<std::string> secrets) {
    std::vector<SecretText> texts;
    for (std::size_t i = 0; i < secrets.size(); ++i) texts.push_back({"/etc/secret" + std::to_string(i), secrets[i]});
    auto v = Verifier::create(s, std::move(texts));
    EXPECT_TRUE(v) << v.error();
    return v ? std::move(v).value() : nullptr;
}

// Parses the headers and verifies body; the reason it fails, or None.
Reason check(Verifier& v, const Headers& h, std::string_view body) {
    Delivery d;
    const ParseError e = parse(v.scheme(), h.v, d);
    if (e.reason != Reason::None) return e.reason;
    return v.verify(d, body).valid ? Reason::None : Reason::Mismatch;
}

// Streams body through begin/update/finish in chunks of `chunk` bytes.
bool stream(Verifier& v, const Headers& h, std::string_view body, std::size_t chunk) {
    Delivery d;
    if (parse(v.scheme(), h.v, d).reason != Reason::None) return false;
    if (!v.begin(d)) return false;
    for (std::size_t i = 0; i < body.size(); i += chunk) v.update(body.data() + i, std::min(chunk, body.size() - i));
    return v.finish(d).valid;
}

// ---- published vectors ----------------------------------------------------------

// Slack's documentation example (also slack-sdk's test_signature_verifier.py).
const char kSlackBody[] =
    "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name="
    "foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks"
    ".slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015."
    "47445629121.803a0bc887a14d10d2c447fce8b6703c";

TEST(WebhookVerifier, SlackPublishedVector) {
    auto v = make(scheme(Provider::Slack), {"8f742231b10e8888abcd99yyyzzz85a5"});
    const Headers h =
        Headers().sig("v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503").ts("1531420618");
    EXPECT_EQ(check(*v, h, kSlackBody), Reason::None);
    EXPECT_EQ(check(*v, h, std::string(kSlackBody) + "------"), Reason::Mismatch);
    EXPECT_EQ(check(*v, Headers(h).ts("1531420619"), kSlackBody), Reason::Mismatch);
}

// @octokit/webhooks-methods sign/verify tests and GitHub's documentation example.
TEST(WebhookVerifier, GithubPublishedVectors) {
    auto v = make(scheme(Provider::Github), {"mysecret"});
    EXPECT_EQ(check(*v, Headers().sig("sha256=4864d2759938a15468b5df9ade20bf161da9b4f737ea61794142f3484236bda3"),
                    "{\"foo\":\"bar\"}"),
              Reason::None);
    EXPECT_EQ(check(*v, Headers().sig("sha256=e3eccac34c43c7dc1cbb905488b1b81347fcc700a7b025697a9d07862256023f"),
                    "{\n  \"foo\": \"bar\"\n}\n"),
              Reason::None);
    EXPECT_EQ(check(*v, Headers().sig("sha256=xxxccac34c43c7dc1cbb905488b1b81347fcc700a7b025697a9d07862256023f"),
                    "{\n  \"foo\": \"bar\"\n}\n"),
              Reason::MalformedHeader);
    auto wrong = make(scheme(Provider::Github), {"foo"});
    EXPECT_EQ(check(*wrong, Headers().sig("sha256=4864d2759938a15468b5df9ade20bf161da9b4f737ea61794142f3484236bda3"),
                    "{\"foo\":\"bar\"}"),
              Reason::Mismatch);
    auto docs = make(scheme(Provider::Github), {"It's a Secret to Everybody"});
    EXPECT_EQ(check(*docs, Headers().sig("sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"),
                    "Hello, World!"),
              Reason::None);
}

// standard-webhooks libraries' TestWebhookSign (the same vector in every language).
TEST(WebhookVerifier, StandardWebhooksPublishedVector) {
    const Headers h = Headers()
                          .sig("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
                          .ts("1614265330")
                          .id("msg_p5jXN8AQM9LWM0D4loKWxJek");
    for (const char* secret : {"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}) {
        auto v = make(scheme(Provider::Standard), {secret});
        EXPECT_EQ(check(*v, h, "{\"test\": 2432232314}"), Reason::None) << secret;
        EXPECT_EQ(check(*v, h, "{\"test\": 2432232315}"), Reason::Mismatch);
        EXPECT_EQ(check(*v, Headers(h).id("msg_other"), "{\"test\": 2432232314}"), Reason::Mismatch);
    }
    // The whsec_ secret is base64-decoded, not used verbatim.
    auto verbatim = make(scheme(Provider::Github), {"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"});
    EXPECT_NE(verbatim->sign(0, "x"),
              make(scheme(Provider::Standard), {"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"})->sign(0, "x"));
}

// Paddle Python SDK's Verifier test: three secrets, the third signs; "h1=dummy" is skipped.
TEST(WebhookVerifier, PaddlePublishedVectorWithRotation) {
    auto v = make(scheme(Provider::Paddle), {"pdl_ntf_01hbpjmytsa32fhr36nqgc3kgb_TjIG2BXbm83HPXqNfziwe506sBEdqL/4",
                                             "pdl_ntf_01hbpjmytsa32fhr36nqgc3kgb_vB/yIOnTOCWIvpBadM5jzBZPHc7OmdSo",
                                             "pdl_ntf_01hbpjmytsa32fhr36nqgc3kgb_WvRO0eL4Bj9rgYYIBZY6wZhG4EHy9jzh"});
    const Headers h =
        Headers().sig("ts=1696195954;h1=dummy;h1=d96299976a6eb066f484d7fde011ac56fc32b38fc9940bc419d6e537fdc6ef02");
    EXPECT_EQ(check(*v, h, "hello-world"), Reason::None);
    auto first_two =
        make(scheme(Provider::Paddle), {"pdl_ntf_01hbpjmytsa32fhr36nqgc3kgb_TjIG2BXbm83HPXqNfziwe506sBEdqL/4",
                                        "pdl_ntf_01hbpjmytsa32fhr36nqgc3kgb_vB/yIOnTOCWIvpBadM5jzBZPHc7OmdSo"});
    EXPECT_EQ(check(*first_two, h, "hello-world"), Reason::Mismatch);
}

// ---- vectors computed with `openssl dgst -hmac` (the providers publish none) ---------

const char kStripePayload[] =
    "{\n  \"id\": \"evt_test_webhook\",\n  \"object\": \"event\",\n  \"data\": { \"object\": { \"id\": \"rdr_123\", "
    "\"object\": \"terminal.reader\" } }\n}";  // stripe-python's DUMMY_WEBHOOK_PAYLOAD

TEST(WebhookVerifier, StripeSecretIsUsedVerbatim) {
    auto v = make(scheme(Provider::Stripe), {"whsec_test_secret"});
    const std::string sig = "3bfab77baf5f7b6991a46c9b53b6547d7afc56148b10468fcad9f35c1992ffbd";
    EXPECT_EQ(check(*v, Headers().sig("t=1700000000,v1=" + sig), kStripePayload), Reason::None);
    EXPECT_EQ(check(*v, Headers().sig("t=1700000001,v1=" + sig), kStripePayload), Reason::Mismatch);
    EXPECT_EQ(check(*v, Headers().sig("t=1700000000,v0=" + sig + ",v1=" + std::string(64, '0')), kStripePayload),
              Reason::Mismatch);
    // Several v1 (Stripe sends one per active secret during a roll): any may match.
    EXPECT_EQ(check(*v, Headers().sig("t=1700000000,v1=" + std::string(64, '0') + ",v1=" + sig), kStripePayload),
              Reason::None);
}

TEST(WebhookVerifier, ShopifyAndNotion) {
    auto shopify = make(scheme(Provider::Shopify), {"test-webhook-secret"});
    const char body[] = "{\"id\":1234567890,\"email\":\"customer@example.com\",\"total_price\":\"123.45\"}";
    EXPECT_EQ(check(*shopify, Headers().sig("QNyObTlKbMx2qDlPF/ZOZcBqg5OgPg+2oky3zldc0Gw="), body), Reason::None);
    EXPECT_EQ(check(*shopify, Headers().sig("QNyObTlKbMx2qDlPF/ZOZcBqg5OgPg+2oky3zldc0Gw="), "{}"), Reason::Mismatch);
    auto notion = make(scheme(Provider::Notion), {"secret_tMrlL1qK5vuQAh1b6cZGhFChZTSYJlce98V0pYn7yBl"});
    EXPECT_EQ(check(*notion, Headers().sig("sha256=919db213ad40845b64aebcc6136decbc365cdaf99a199e22043048f616cec49f"),
                    "{\"type\":\"page.content_updated\",\"id\":\"367cba44-b6f3-4c92-81e7-6a2e9659efd4\"}"),
              Reason::None);
}

TEST(WebhookVerifier, GenericDigestsAndEncodings) {
    auto sha1 = make_generic("X-Sig", "sha1", "hex", "");
    ASSERT_TRUE(sha1);
    EXPECT_EQ(check(*make(sha1.value(), {"k"}), Headers().sig("0b7938d1a2cdcafa94645a5c3508f7236ae457a9"), "hello"),
              Reason::None);
    auto sha512 = make_generic("X-Sig", "sha512", "base64", "sha512=");
    ASSERT_TRUE(sha512);
    EXPECT_EQ(check(*make(sha512.value(), {"k"}),
                    Headers().sig("sha512=hrYQK3VK5VjfDsPnkFyBJQs+G6abBgwbuWQajxmGMDX7AHyCmwZI2jigMlVjATH8L3deARDAqh"
                                  "GzN1ChTPSOyw=="),
                    "hello"),
              Reason::None);
}

// RFC 8032 section 7.1, TEST 2 (the Ed25519 primitive), then a Discord
// delivery signed with `openssl pkeyutl -sign -rawin`.
TEST(WebhookVerifier, Ed25519) {
    auto v = make(scheme(Provider::Discord), {"3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c"});
    Delivery d{};
    d.nsigs = 1;
    d.sigs[0].len = 64;
    ASSERT_TRUE(
        decode_hex("92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613"
                   "d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
                   d.sigs[0].bytes, 64));
    EXPECT_TRUE(v->verify_message(d, "\x72", 1).valid);
    EXPECT_FALSE(v->verify_message(d, "\x73", 1).valid);

    auto discord =
        make(scheme(Provider::Discord), {"c843cab123dc4c75388888aaaaaca8ec221c1f58a1b52b529374ad814c156040\n"});
    const Headers h = Headers()
                          .sig(
                              "3b7d269b4e1ed12de319fe72bed4ee405ce064f8502bd376bf2a1cdbddb964357448fcb7ac03cfd9cd3d68e1"
                              "8ec26367550fb12c97f9f6126839a24fe67bc105")
                          .ts("1700000000");
    EXPECT_EQ(check(*discord, h, "{\"type\":1}"), Reason::None);
    EXPECT_EQ(check(*discord, h, "{\"type\":2}"), Reason::Mismatch);
    EXPECT_EQ(check(*discord, Headers(h).ts("1700000001"), "{\"type\":1}"), Reason::Mismatch);
    EXPECT_FALSE(discord->streams());
}

TEST(WebhookVerifier, TelegramToken) {
    auto v = make(scheme(Provider::Telegram), {"old-token", "new_Token-2\n"});
    EXPECT_EQ(check(*v, Headers().sig("new_Token-2"), "anything"), Reason::None);
    EXPECT_EQ(check(*v, Headers().sig("old-token"), ""), Reason::None);
    EXPECT_EQ(check(*v, Headers().sig("old-token2"), ""), Reason::Mismatch);
    EXPECT_EQ(check(*v, Headers().sig("old-toke"), ""), Reason::Mismatch);
    EXPECT_FALSE(v->needs_body());
}

// ---- rotation, streaming ----------------------------------------------------------------

TEST(WebhookVerifier, AnySecretAnySignature) {
    auto v = make(scheme(Provider::Github), {"old", "new"});
    auto only_new = make(scheme(Provider::Github), {"new"});
    const std::string sig = "sha256=" + test::hex(only_new->sign(0, "body"));
    EXPECT_EQ(check(*v, Headers().sig(sig), "body"), Reason::None);
    auto only_old = make(scheme(Provider::Github), {"old"});
    EXPECT_EQ(check(*only_old, Headers().sig(sig), "body"), Reason::Mismatch);
}

TEST(WebhookVerifier, StreamingEqualsOneShotForEveryChunking) {
    auto v = make(scheme(Provider::Stripe), {"whsec_test_secret"});
    const Headers h = Headers().sig("t=1700000000,v1=3bfab77baf5f7b6991a46c9b53b6547d7afc56148b10468fcad9f35c1992ffbd");
    for (std::size_t chunk : {1u, 2u, 7u, 64u, 4096u}) EXPECT_TRUE(stream(*v, h, kStripePayload, chunk)) << chunk;
    EXPECT_FALSE(stream(*v, h, std::string(kStripePayload) + " ", 16));
    // The contexts are reusable delivery after delivery.
    EXPECT_TRUE(stream(*v, h, kStripePayload, 5));
}

TEST(WebhookVerifier, LargeBodyStreamed) {
    auto v = make(scheme(Provider::Github), {"k"});
    const std::string body(1 << 20, 'x');
    const std::string sig = "sha256=" + test::hex(v->sign(0, body));
    EXPECT_TRUE(stream(*v, Headers().sig(sig), body, 16384));
    EXPECT_TRUE(stream(*v, Headers().sig(sig), body, 8191));
}

// ---- secret files -----------------------------------------------------------------------

TEST(WebhookSecrets, TrailingNewlinesAreTrimmed) {
    EXPECT_EQ(decode_secret(SecretFormat::Text, "p", "abc\n").value(), "abc");
    EXPECT_EQ(decode_secret(SecretFormat::Text, "p", "abc\r\n").value(), "abc");
    EXPECT_EQ(decode_secret(SecretFormat::Text, "p", "a b").value(), "a b");
}

TEST(WebhookSecrets, BadSecretsNameThePathNotTheSecret) {
    struct Case {
        SecretFormat format;
        const char* text;
        const char* message;
    } cases[] = {
        {SecretFormat::Text, "", "secret_file \"/s\" is empty"},
        {SecretFormat::Text, "\n\n", "secret_file \"/s\" is empty"},
        {SecretFormat::Text, "two\nlines", "secret_file \"/s\" contains a line break or control character"},
        {SecretFormat::StandardBase64, "whsec_not*base64",
         "secret_file \"/s\" is not a Standard Webhooks secret (whsec_ followed by base64)"},
        {SecretFormat::StandardBase64, "whsec_",
         "secret_file \"/s\" is not a Standard Webhooks secret (whsec_ followed by base64)"},
        {SecretFormat::Ed25519PublicHex, "abcd", "secret_file \"/s\" is not an Ed25519 public key (64 hex digits)"},
        {SecretFormat::TelegramToken, "has space",
         "secret_file \"/s\" is not a Telegram secret token (A-Z, a-z, 0-9, _ and -)"},
    };
    for (const auto& c : cases) {
        auto r = decode_secret(c.format, "/s", c.text);
        ASSERT_FALSE(r) << c.text;
        EXPECT_EQ(r.error(), c.message);
    }
    std::string long_token(257, 'a');
    EXPECT_FALSE(decode_secret(SecretFormat::TelegramToken, "/s", long_token));
}

// L2: OpenSSL verifies with any 32 bytes as an Ed25519 key. With the identity
// point as the key, R = the base point and S = 1 is a valid signature of
// every message (checked here against OpenSSL itself): such keys, and every
// other point of order dividing 8, must fail at configuration time.
const char kIdentityKey[] = "0100000000000000000000000000000000000000000000000000000000000000";

TEST(WebhookSecrets, OpenSslAcceptsAForgeryUnderTheIdentityKey) {
    std::uint8_t key[32], sig[64];
    ASSERT_TRUE(decode_hex(kIdentityKey, key, 32));
    ASSERT_TRUE(
        decode_hex("5866666666666666666666666666666666666666666666666666666666666666"
                   "0100000000000000000000000000000000000000000000000000000000000000",
                   sig, 64));
    EVP_PKEY* pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, key, 32);
    ASSERT_NE(pkey, nullptr);
    for (const std::string msg : {"1700000000{\"type\":1}", "anything at all"}) {
        EVP_MD_CTX* ctx = EVP_MD_CTX_new();
        ASSERT_NE(ctx, nullptr);
        EXPECT_EQ(EVP_DigestVerifyInit(ctx, nullptr, nullptr, nullptr, pkey), 1);
        EXPECT_EQ(EVP_DigestVerify(ctx, sig, 64, reinterpret_cast<const unsigned char*>(msg.data()), msg.size()), 1)
            << msg;
        EVP_MD_CTX_free(ctx);
    }
    EVP_PKEY_free(pkey);
}

TEST(WebhookSecrets, SmallOrderEd25519KeysAreRefused) {
    const std::string small_order =
        "secret_file \"/d\" is a small-order Ed25519 point, not a public key: with it anyone could forge signatures";
    for (const char* key : {
             kIdentityKey,                                                        // order 1
             "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  // p - 1: order 2
             "0000000000000000000000000000000000000000000000000000000000000000",  // 0: order 4
             "0000000000000000000000000000000000000000000000000000000000000080",  // 0, x sign bit set
             "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",  // order 8
             "26E8958FC2B227B045C3F489F2EF98F0D5DFAC05D3C63339B13802886D53FC85",  // order 8, sign bit
             "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",  // order 8
             "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",  // order 8, sign bit
         }) {
        auto r = decode_secret(SecretFormat::Ed25519PublicHex, "/d", key);
        ASSERT_FALSE(r) << key;
        EXPECT_EQ(r.error(), small_order) << key;
        EXPECT_FALSE(Verifier::create(scheme(Provider::Discord), {{"/d", key}})) << key;
    }
}

TEST(WebhookSecrets, NonCanonicalEd25519KeysAreRefused) {
    const std::string non_canonical =
        "secret_file \"/d\" is not a canonical Ed25519 public key (its y coordinate is not below 2^255-19)";
    for (const char* key : {
             "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  // p (= 0)
             "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  // p + 1 (= 1, the identity)
             "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",  // p + 1, sign bit
             "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  // 2^255 - 1
         }) {
        auto r = decode_secret(SecretFormat::Ed25519PublicHex, "/d", key);
        ASSERT_FALSE(r) << key;
        EXPECT_EQ(r.error(), non_canonical) << key;
    }
    // Just below p, and keys that are neither: accepted (whether a point is on
    // the curve at all is OpenSSL's business; an invalid one verifies nothing).
    for (const char* key : {"ebffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
                            "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7e",
                            "0200000000000000000000000000000000000000000000000000000000000000",
                            "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c"}) {
        EXPECT_TRUE(decode_secret(SecretFormat::Ed25519PublicHex, "/d", key)) << key;
    }
}

TEST(WebhookSecrets, CreateFailsWithTheLabel) {
    auto v = Verifier::create(scheme(Provider::Standard),
                              {{"/etc/ok", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}, {"/etc/bad", "whsec_!!"}});
    ASSERT_FALSE(v);
    EXPECT_EQ(v.error(), "secret_file \"/etc/bad\" is not a Standard Webhooks secret (whsec_ followed by base64)");
    EXPECT_EQ(v.error().find("MfKQ"), std::string::npos);
    EXPECT_FALSE(Verifier::create(scheme(Provider::Github), {}));
}

}  // namespace
}  // namespace levqor::webhook
