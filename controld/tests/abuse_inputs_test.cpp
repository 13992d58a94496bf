// SPDX-License-Identifier: Apache-2.0
// The input side built from the settings, as the service will hold it.
#include <gtest/gtest.h>

#include "levqor/controld/abuse/inputs.h"
#include "test_support.h"

namespace levqor::controld::abuse {
namespace {

TEST(AbuseInputs, BuiltFromTheSettingsItParsesWithEveryPiece) {
    testing::TempDir dir;
    AbuseSettings settings;
    settings.pepper_file = dir.write("pepper", "inputs-test-pepper-0123456789abcdef\n");
    settings.asn_mmdb = std::string(LEVQOR_CONTROLD_TEST_DATA) + "/GeoLite2-ASN-Test.mmdb";
    settings.email_deny_patterns = {R"(@mailinator\.com$)"};
    settings.device_deny_patterns = {"Headless", "bot"};
    const InputSide inputs(settings);

    const auto signup = inputs.parser().signup_from_json(R"({"email":"x@Mailinator.com","ip":"1.0.0.1"})");
    EXPECT_EQ(signup.request.network.key, "AS15169");
    ASSERT_TRUE(signup.denied);
    EXPECT_EQ(signup.denied->reason, "email_denied");
    EXPECT_EQ(signup.request.email_digest,
              Digester("inputs-test-pepper-0123456789abcdef").digest(DigestRole::email, "x@mailinator.com"));

    const auto status = inputs.status();
    EXPECT_TRUE(status.network.asn_db);
    EXPECT_EQ(status.email_deny_patterns, 1u);
    EXPECT_EQ(status.device_deny_patterns, 2u);
    EXPECT_TRUE(status.deny_jit);
}

TEST(AbuseInputs, WithoutAPepperThereIsNoInputSide) {
    try {
        InputSide inputs{AbuseSettings{}};
        ADD_FAILURE();
    } catch (const PepperError& e) {
        EXPECT_EQ(std::string(e.what()).rfind("abuse.pepper_file is not set", 0), 0u) << e.what();
    }
}

TEST(AbuseInputs, AMissingAsnFileIsAnErrorNotASilentFallback) {
    testing::TempDir dir;
    AbuseSettings settings;
    settings.pepper_file = dir.write("pepper", std::string(32, 'p'));
    settings.asn_mmdb = dir.file("nope.mmdb");
    EXPECT_THROW(InputSide{settings}, std::runtime_error);
    settings.asn_mmdb.reset();
    const InputSide inputs(settings);
    EXPECT_FALSE(inputs.status().network.asn_db);
    EXPECT_EQ(inputs.parser()
                  .device_from_json(R"({"account":"a","plan":"free","device":"d","ip":"1.0.0.1"})")
                  .request.network.key,
              "1.0.0.0/24");
}

}  // namespace
}  // namespace levqor::controld::abuse
