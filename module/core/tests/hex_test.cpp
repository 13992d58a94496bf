// SPDX-License-Identifier: Apache-2.0
#include "levqor/hex.h"

#include <gtest/gtest.h>

namespace levqor {
namespace {

TEST(Hex, LowerCaseTwoDigitsPerByte) {
    const unsigned char bytes[] = {0x00, 0x0f, 0xa5, 0xff};
    char out[8];
    hex_into(out, bytes, sizeof bytes);
    EXPECT_EQ(std::string(out, 8), "000fa5ff");
}

// What redis-cli SCRIPT LOAD answers for these scripts (RFC 3174 vectors).
TEST(Hex, Sha1AsRedisNamesAScript) {
    EXPECT_EQ(sha1_hex(""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    EXPECT_EQ(sha1_hex("abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
    EXPECT_EQ(sha1_hex("return 1"), "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
}

}  // namespace
}  // namespace levqor
