// SPDX-License-Identifier: Apache-2.0
#include "levqor/siphash.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace levqor {
namespace {

// Key 00 01 .. 0f as the reference implementation's test vectors use it.
SipKey reference_key() { return SipKey{0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL}; }

std::string reference_message(std::size_t n) {
    std::string m;
    for (std::size_t i = 0; i < n; ++i) m.push_back(static_cast<char>(i));
    return m;
}

// Published SipHash-2-4 vectors (Aumasson & Bernstein, reference vectors.h).
TEST(SipHash, ReferenceVectors24) {
    EXPECT_EQ(siphash24(reference_key(), reference_message(0).data(), 0), 0x726fdb47dd0e0e31ULL);
    EXPECT_EQ(siphash24(reference_key(), reference_message(1).data(), 1), 0x74f839c593dc67fdULL);
    EXPECT_EQ(siphash24(reference_key(), reference_message(2).data(), 2), 0x0d6c8009d9a94f5aULL);
    EXPECT_EQ(siphash24(reference_key(), reference_message(3).data(), 3), 0x85676696d7fb7e2dULL);
    // The paper's worked example: 15-byte message.
    EXPECT_EQ(siphash24(reference_key(), reference_message(15).data(), 15), 0xa129ca6149be45e5ULL);
}

TEST(SipHash, Variant13IsKeyedAndLengthSensitive) {
    const SipKey a = reference_key();
    SipKey b = a;
    b.k1 ^= 1;
    const std::string m = "api-key-123";
    EXPECT_NE(siphash13(a, m.data(), m.size()), siphash13(b, m.data(), m.size()));
    EXPECT_EQ(siphash13(a, m.data(), m.size()), siphash13(a, m.data(), m.size()));
    const std::string z1(1, '\0'), z2(2, '\0');
    EXPECT_NE(siphash13(a, z1.data(), 1), siphash13(a, z2.data(), 2));
    EXPECT_NE(siphash13(a, m.data(), m.size()), siphash24(a, m.data(), m.size()));
}

TEST(SipHash, NoCollisionsAmongManyKeys) {
    std::set<std::uint64_t> seen;
    for (int i = 0; i < 200000; ++i) {
        const std::string k = "key-" + std::to_string(i);
        EXPECT_TRUE(seen.insert(siphash13(reference_key(), k.data(), k.size())).second);
    }
}

}  // namespace
}  // namespace levqor

namespace levqor {
namespace {

// The tail loader must equal a byte-by-byte little-endian load for 0..7 bytes.
TEST(SipHash, EveryLengthMatchesReferenceVectorsPrefix) {
    // Reference vectors for lengths 4..7 (vectors.h, SipHash-2-4, key 00..0f).
    const std::uint64_t expected[] = {0xcf2794e0277187b7ULL, 0x18765564cd99a68dULL, 0xcbc9466e58fee3ceULL,
                                      0xab0200f58b01d137ULL};
    for (std::size_t n = 4; n <= 7; ++n) {
        std::string m;
        for (std::size_t i = 0; i < n; ++i) m.push_back(static_cast<char>(i));
        EXPECT_EQ(siphash24(SipKey{0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL}, m.data(), n), expected[n - 4]) << n;
    }
}

}  // namespace
}  // namespace levqor
