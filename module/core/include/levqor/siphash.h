// SPDX-License-Identifier: Apache-2.0
// SipHash-1-3 (64-bit output) with a 128-bit key: a keyed hash, so clients
// cannot choose keys that collide in the rate-limit table. Inline: it runs
// on every rate-limited request. Pure; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace levqor {

struct SipKey {
    std::uint64_t k0 = 0;
    std::uint64_t k1 = 0;
};

namespace detail {

inline std::uint64_t rotl(std::uint64_t x, int b) { return (x << b) | (x >> (64 - b)); }

struct SipState {
    std::uint64_t v0, v1, v2, v3;

    void round() {
        v0 += v1;
        v1 = rotl(v1, 13);
        v1 ^= v0;
        v0 = rotl(v0, 32);
        v2 += v3;
        v3 = rotl(v3, 16);
        v3 ^= v2;
        v0 += v3;
        v3 = rotl(v3, 21);
        v3 ^= v0;
        v2 += v1;
        v1 = rotl(v1, 17);
        v1 ^= v2;
        v2 = rotl(v2, 32);
    }
};

inline std::uint64_t load_le64(const unsigned char* p) {
    std::uint64_t v;
    std::memcpy(&v, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

// The last 0..7 bytes, little-endian, without a byte loop.
inline std::uint64_t load_tail(const unsigned char* p, std::size_t n) {
    std::uint64_t v = 0;
    if (n >= 4) {
        std::uint32_t lo, hi;
        std::memcpy(&lo, p, 4);
        std::memcpy(&hi, p + n - 4, 4);
        v = lo | (static_cast<std::uint64_t>(hi) << ((n - 4) * 8));
    } else if (n > 0) {
        v = p[0] | (static_cast<std::uint64_t>(p[n / 2]) << ((n / 2) * 8)) |
            (static_cast<std::uint64_t>(p[n - 1]) << ((n - 1) * 8));
    }
    return v;
}

template <int C, int D>
inline std::uint64_t siphash(const SipKey& key, const void* data, std::size_t len) noexcept {
    SipState s{0x736f6d6570736575ULL ^ key.k0, 0x646f72616e646f6dULL ^ key.k1, 0x6c7967656e657261ULL ^ key.k0,
               0x7465646279746573ULL ^ key.k1};
    const auto* p = static_cast<const unsigned char*>(data);
    const std::size_t whole = len & ~std::size_t{7};
    for (std::size_t i = 0; i < whole; i += 8) {
        const std::uint64_t m = load_le64(p + i);
        s.v3 ^= m;
        for (int r = 0; r < C; ++r) s.round();
        s.v0 ^= m;
    }
    const std::uint64_t b = (static_cast<std::uint64_t>(len) << 56) | load_tail(p + whole, len & 7);
    s.v3 ^= b;
    for (int r = 0; r < C; ++r) s.round();
    s.v0 ^= b;
    s.v2 ^= 0xff;
    for (int r = 0; r < D; ++r) s.round();
    return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

}  // namespace detail

inline std::uint64_t siphash13(const SipKey& key, const void* data, std::size_t len) noexcept {
    return detail::siphash<1, 3>(key, data, len);
}

// SipHash-2-4, the reference variant; used in tests against the published vectors.
inline std::uint64_t siphash24(const SipKey& key, const void* data, std::size_t len) noexcept {
    return detail::siphash<2, 4>(key, data, len);
}

}  // namespace levqor
