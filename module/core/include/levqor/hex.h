// SPDX-License-Identifier: Apache-2.0
// Lower-case hex encoding, and the hex SHA-1 of a text: Redis names a Lua
// script by it (SCRIPT LOAD, EVALSHA), so nginx's rate-limit script and
// controld's queue scripts are named by this one function. Pure; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace levqor {

// Writes 2 * n characters to out; no allocation (the module's hot path).
inline void hex_into(char* out, const unsigned char* bytes, std::size_t n) noexcept {
    static constexpr char kDigits[] = "0123456789abcdef";
    for (std::size_t i = 0; i < n; ++i) {
        out[2 * i] = kDigits[bytes[i] >> 4];
        out[2 * i + 1] = kDigits[bytes[i] & 15];
    }
}

// The 16 hex digits of v, most significant first (what hex_into gives for
// v's big-endian bytes), eight at a time without a loop over digits: each
// nibble spread into a byte, then '0'..'9' / 'a'..'f' by adding 0x30 and,
// where the nibble is 10 or more, 0x27 more. ~40 instructions instead of
// ~190 (the module names two Redis buckets per decision with it).
inline void hex_u64_into(char* out, std::uint64_t v) noexcept {
    for (int half = 0; half < 2; ++half) {
        std::uint64_t x = half == 0 ? v >> 32 : v & 0xffffffffULL;
        x = ((x & 0xffff0000ULL) << 16) | (x & 0xffffULL);
        x = ((x & 0x0000ff000000ff00ULL) << 8) | (x & 0x000000ff000000ffULL);
        x = ((x & 0x00f000f000f000f0ULL) << 4) | (x & 0x000f000f000f000fULL);  // one nibble per byte
        const std::uint64_t ten_up = ((x + 0x0606060606060606ULL) >> 4) & 0x0101010101010101ULL;
        x += 0x3030303030303030ULL + ten_up * 0x27;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        x = __builtin_bswap64(x);  // the most significant digit first in memory
#endif
        std::memcpy(out + 8 * half, &x, 8);
    }
}

// 40 hex digits, as SCRIPT LOAD returns for this script text.
std::string sha1_hex(std::string_view text);

}  // namespace levqor
