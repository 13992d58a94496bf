// SPDX-License-Identifier: Apache-2.0
// Keyed digests: HMAC-SHA256 under the pepper, domain-separated by role.
#include <gtest/gtest.h>

#include <set>

#include "levqor/controld/abuse/digest.h"
#include "test_support.h"

namespace levqor::controld::abuse {
namespace {

const std::string kTestPepper = "pepper-0123456789abcdef0123456789abcdef";

TEST(AbuseDigest, IsHmacSha256OfRoleNulValueInLowercaseHex) {
    const Digester digester(kTestPepper);
    // printf 'device\0abc' | openssl dgst -sha256 -hmac "$pepper" (an independent implementation)
    const auto d = digester.digest(DigestRole::device, "abc");
    EXPECT_EQ(d.size(), 64u);
    EXPECT_EQ(d.find_first_not_of("0123456789abcdef"), std::string::npos);
    EXPECT_EQ(d, digester.digest(DigestRole::device, "abc"));
    EXPECT_EQ(d, "438f3deb7fe3cc660ad1c0c21183501ca5df52c4c23d7cac519f91bbd698fba1");
}

TEST(AbuseDigest, RolesAndPeppersSeparateDigests) {
    const Digester a(kTestPepper);
    const Digester b(kTestPepper + "x");
    std::set<std::string> seen;
    for (const auto role : {DigestRole::account, DigestRole::device, DigestRole::email}) {
        seen.insert(a.digest(role, "same"));
        seen.insert(b.digest(role, "same"));
    }
    EXPECT_EQ(seen.size(), 6u);
    // The separator keeps "device" + "\0x" apart from "device\0" + "x".
    EXPECT_NE(a.digest(DigestRole::device, std::string("\0x", 2)), a.digest(DigestRole::device, "x"));
    EXPECT_NE(a.digest(DigestRole::email, ""), a.digest(DigestRole::account, ""));
}

TEST(AbuseDigest, ThePepperFileMustBePrivateAndLongEnough) {
    testing::TempDir dir;
    const auto good = dir.write("pepper", kTestPepper + "\n");
    EXPECT_EQ(Digester::from_file(good).digest(DigestRole::device, "abc"),
              Digester(kTestPepper).digest(DigestRole::device, "abc"));

    const auto open = dir.write("open", kTestPepper, 0640);
    try {
        Digester::from_file(open);
        ADD_FAILURE();
    } catch (const PepperError& e) {
        EXPECT_EQ(std::string(e.what()),
                  "abuse.pepper_file " + open +
                      " is readable or writable by group or others (mode 0640); run: chmod 600 " + open);
    }
    const auto short_file = dir.write("short", "0123456789abcdef0123456789abcde\n");
    try {
        Digester::from_file(short_file);
        ADD_FAILURE();
    } catch (const PepperError& e) {
        const std::string what = e.what();
        EXPECT_EQ(what, "abuse.pepper_file " + short_file +
                            ": the abuse pepper has 31 bytes; 32 to 4096 are required (generate one with: openssl "
                            "rand -hex 32)");
        EXPECT_EQ(what.find("0123456789abcdef"), std::string::npos);
    }
    EXPECT_THROW(Digester::from_file(dir.file("missing")), PepperError);
    EXPECT_THROW(Digester::from_file(dir.path()), PepperError);
    EXPECT_THROW(Digester::from_file(dir.write("huge", std::string(5000, 'p'))), PepperError);
}

}  // namespace
}  // namespace levqor::controld::abuse
