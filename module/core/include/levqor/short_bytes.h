// SPDX-License-Identifier: Apache-2.0
// Short byte strings (header names, connector names) compared and hashed
// without a call: overlapping 8- or 4-byte loads cover 4..16 bytes and never
// read outside the string. Used on request paths (ValueSource's header
// search, the cost table's name lookup). Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace levqor {

inline std::uint64_t load_u64(const void* p) noexcept {
    std::uint64_t v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
inline std::uint32_t load_u32(const void* p) noexcept {
    std::uint32_t v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

// a[0..n) == b[0..n).
inline bool same_bytes(const void* a, const void* b, std::size_t n) noexcept {
    const auto* x = static_cast<const unsigned char*>(a);
    const auto* y = static_cast<const unsigned char*>(b);
    if (n >= 8 && n <= 16) {
        return ((load_u64(x) ^ load_u64(y)) | (load_u64(x + n - 8) ^ load_u64(y + n - 8))) == 0;
    }
    if (n >= 4 && n < 8) return ((load_u32(x) ^ load_u32(y)) | (load_u32(x + n - 4) ^ load_u32(y + n - 4))) == 0;
    return std::memcmp(x, y, n) == 0;
}

// A 64-bit hash of a short string for in-memory tables whose size is bounded
// by other means (not keyed: not for tables an attacker can grow).
inline std::uint64_t short_hash(const void* data, std::size_t n) noexcept {
    constexpr std::uint64_t k1 = 0x9e3779b97f4a7c15ULL, k2 = 0xc2b2ae3d27d4eb4fULL;
    const auto* p = static_cast<const unsigned char*>(data);
    std::uint64_t a = 0, b = 0;
    if (n >= 8) {
        a = load_u64(p);
        b = load_u64(p + n - 8);
        for (std::size_t i = 8; i + 8 < n; i += 8) a = a * k1 + load_u64(p + i);
    } else if (n >= 4) {
        a = load_u32(p);
        b = load_u32(p + n - 4);
    } else if (n > 0) {
        a = p[0] | (std::uint64_t{p[n / 2]} << 8) | (std::uint64_t{p[n - 1]} << 16);
    }
    std::uint64_t h = ((a * k1) ^ b) * k2 ^ (n * 0x165667b19e3779f9ULL);
    h ^= h >> 29;
    h *= k1;
    return h ^ (h >> 32);
}

}  // namespace levqor
