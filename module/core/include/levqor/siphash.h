// SipHash-1-3 (64-bit output) with a 128-bit key: a keyed hash, so clients
// cannot choose keys that collide in the rate-limit table. Pure; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>

namespace levqor {

struct SipKey {
    std::uint64_t k0 = 0;
    std::uint64_t k1 = 0;
};

std::uint64_t siphash13(const SipKey& key, const void* data, std::size_t len) noexcept;

// SipHash-2-4, the reference variant; used in tests against the published vectors.
std::uint64_t siphash24(const SipKey& key, const void* data, std::size_t len) noexcept;

}  // namespace levqor
