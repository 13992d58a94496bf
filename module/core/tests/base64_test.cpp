// SPDX-License-Identifier: Apache-2.0
#include "levqor/base64.h"

#include <gtest/gtest.h>

namespace levqor {
namespace {

// RFC 4648 section 10 test vectors.
TEST(Base64, EncodesRfc4648Vectors) {
    EXPECT_EQ(base64_encode(""), "");
    EXPECT_EQ(base64_encode("f"), "Zg==");
    EXPECT_EQ(base64_encode("fo"), "Zm8=");
    EXPECT_EQ(base64_encode("foo"), "Zm9v");
    EXPECT_EQ(base64_encode("foob"), "Zm9vYg==");
    EXPECT_EQ(base64_encode("fooba"), "Zm9vYmE=");
    EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
}

TEST(Base64, UrlSafeAlphabet) {
    const std::string bytes("\xfb\xff\xfe", 3);
    EXPECT_EQ(base64_encode(bytes), "+//+");
    EXPECT_EQ(base64_encode(bytes, Base64Alphabet::UrlSafe), "-__-");
}

TEST(Base64, DecodeRoundTripsEveryLength) {
    std::string in;
    for (int n = 0; n < 64; ++n) {
        std::string out;
        ASSERT_TRUE(base64_decode(base64_encode(in), out)) << n;
        EXPECT_EQ(out, in);
        in.push_back(static_cast<char>(n * 37));
    }
}

TEST(Base64, DecodeAcceptsUnpadded) {
    std::string out;
    ASSERT_TRUE(base64_decode("Zm9vYg", out));
    EXPECT_EQ(out, "foob");
}

TEST(Base64, DecodeRejectsMalformed) {
    std::string out;
    EXPECT_FALSE(base64_decode("Zm9v!", out));
    EXPECT_FALSE(base64_decode("Z", out));          // impossible length
    EXPECT_FALSE(base64_decode("Zg=", out));        // wrong padding
    EXPECT_FALSE(base64_decode("Zh==", out));       // non-canonical low bits
    EXPECT_FALSE(base64_decode("Zm9v Yg==", out));  // whitespace
    EXPECT_FALSE(base64_decode("-__-", out));       // url alphabet in standard mode
}

TEST(Base64, DecodeIntoCallerMemory) {
    std::uint8_t out[4];
    std::size_t n = 0;
    ASSERT_TRUE(base64_decode("Zm9vYg==", out, sizeof out, n));
    EXPECT_EQ(n, 4u);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(out), n), "foob");
    EXPECT_FALSE(base64_decode("Zm9vYmE=", out, sizeof out, n));  // 5 bytes do not fit
    EXPECT_FALSE(base64_decode("Zm9v!", out, sizeof out, n));
}

}  // namespace
}  // namespace levqor
