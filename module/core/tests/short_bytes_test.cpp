// SPDX-License-Identifier: Apache-2.0
#include "levqor/short_bytes.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace levqor {
namespace {

// Every length from 0 to 40, and a difference at every position.
TEST(ShortBytes, SameBytesSeesADifferenceAtEveryPositionOfEveryLength) {
    for (std::size_t n = 0; n <= 40; ++n) {
        const std::string a(n, 'x');
        EXPECT_TRUE(same_bytes(a.data(), std::string(n, 'x').data(), n)) << n;
        for (std::size_t i = 0; i < n; ++i) {
            std::string b = a;
            b[i] = 'y';
            EXPECT_FALSE(same_bytes(a.data(), b.data(), n)) << n << " at " << i;
        }
    }
}

TEST(ShortBytes, ShortHashSeparatesNamesThatDifferAnywhere) {
    std::set<std::uint64_t> seen;
    std::size_t names = 0;
    for (std::size_t n = 0; n <= 40; ++n) {
        const std::string base(n, 'a');
        ++names;
        seen.insert(short_hash(base.data(), n));
        for (std::size_t i = 0; i < n; ++i) {
            std::string v = base;
            v[i] = 'b';
            ++names;
            seen.insert(short_hash(v.data(), n));
        }
    }
    // Names of up to 3 bytes keep only their first, middle and last byte:
    // "aba" and "aab"... differ there anyway; no collision in this set.
    EXPECT_EQ(seen.size(), names);
    EXPECT_EQ(short_hash("openai", 6), short_hash(std::string("openai").data(), 6));
}

}  // namespace
}  // namespace levqor
