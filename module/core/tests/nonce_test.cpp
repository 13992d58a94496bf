// SPDX-License-Identifier: Apache-2.0
#include "levqor/nonce.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "levqor/base64.h"

namespace levqor {
namespace {

int g_fills = 0;
bool counting_fill(std::uint8_t* buf, std::size_t n) {
    ++g_fills;
    for (std::size_t i = 0; i < n; ++i) buf[i] = static_cast<std::uint8_t>(i + g_fills);
    return true;
}
bool failing_fill(std::uint8_t*, std::size_t) { return false; }

TEST(Nonce, IsBase64Of128Bits) {
    NonceSource src(openssl_random);
    char out[NonceSource::kEncodedSize];
    ASSERT_TRUE(src.next(out));
    std::string decoded;
    ASSERT_TRUE(base64_decode(std::string_view(out, sizeof out), decoded));
    EXPECT_EQ(decoded.size(), 16u);
}

TEST(Nonce, UniqueAcrossManyDraws) {
    NonceSource src(openssl_random);
    std::set<std::string> seen;
    char out[NonceSource::kEncodedSize];
    for (int i = 0; i < 10000; ++i) {
        ASSERT_TRUE(src.next(out));
        EXPECT_TRUE(seen.emplace(out, sizeof out).second);
    }
}

TEST(Nonce, DrawsFromGeneratorInBlocks) {
    g_fills = 0;
    NonceSource src(counting_fill);
    char out[NonceSource::kEncodedSize];
    const std::size_t per_block = NonceSource::kBlockSize / NonceSource::kRandomBytes;
    for (std::size_t i = 0; i < per_block; ++i) ASSERT_TRUE(src.next(out));
    EXPECT_EQ(g_fills, 1);
    ASSERT_TRUE(src.next(out));
    EXPECT_EQ(g_fills, 2);
}

TEST(Nonce, ResetDiscardsBufferedBytes) {
    g_fills = 0;
    NonceSource src(counting_fill);
    char out[NonceSource::kEncodedSize];
    ASSERT_TRUE(src.next(out));
    src.reset();
    ASSERT_TRUE(src.next(out));
    EXPECT_EQ(g_fills, 2);  // after fork, a process never reuses the parent's block
}

TEST(Nonce, ReportsGeneratorFailure) {
    NonceSource src(failing_fill);
    char out[NonceSource::kEncodedSize];
    EXPECT_FALSE(src.next(out));
}

}  // namespace
}  // namespace levqor
