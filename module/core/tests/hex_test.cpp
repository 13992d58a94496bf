// SPDX-License-Identifier: Apache-2.0
#include "levqor/hex.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace levqor {
namespace {

TEST(Hex, LowerCaseTwoDigitsPerByte) {
    const unsigned char bytes[] = {0x00, 0x0f, 0xa5, 0xff};
    char out[8];
    hex_into(out, bytes, sizeof bytes);
    EXPECT_EQ(std::string(out, 8), "000fa5ff");
}

// What redis-cli SCRIPT LOAD answers for these scripts (RFC 3174 vectors).
// hex_u64_into gives hex_into's digits of the big-endian bytes, for edge
// values and a spread of others (every nibble value at every position).
TEST(Hex, U64IsTheHexOfItsBigEndianBytes) {
    std::vector<std::uint64_t> values = {0,
                                         1,
                                         9,
                                         10,
                                         15,
                                         16,
                                         0x0123456789abcdefULL,
                                         0xfedcba9876543210ULL,
                                         0xffffffffffffffffULL,
                                         0x8000000000000000ULL,
                                         0x00000000ffffffffULL};
    std::uint64_t x = 0x9e3779b97f4a7c15ULL;
    for (int i = 0; i < 2000; ++i) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        values.push_back(x);
    }
    for (int pos = 0; pos < 16; ++pos) {
        for (std::uint64_t nib = 0; nib < 16; ++nib) values.push_back(nib << (4 * pos));
    }
    for (std::uint64_t v : values) {
        unsigned char be[8];
        for (int j = 0; j < 8; ++j) be[j] = static_cast<unsigned char>(v >> (56 - 8 * j));
        char want[16], got[16];
        hex_into(want, be, 8);
        hex_u64_into(got, v);
        ASSERT_EQ(std::string(got, 16), std::string(want, 16)) << std::hex << v;
    }
}

TEST(Hex, Sha1AsRedisNamesAScript) {
    EXPECT_EQ(sha1_hex(""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    EXPECT_EQ(sha1_hex("abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
    EXPECT_EQ(sha1_hex("return 1"), "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
}

}  // namespace
}  // namespace levqor
