// SPDX-License-Identifier: Apache-2.0
// The name of a client's IP bucket: its address, with IPv6 addresses cut to
// a prefix. An IPv6 client usually controls a whole /64 (2^64 addresses);
// keyed on the full 128 bits, every address would be a fresh bucket with a
// full burst. IPv4 addresses are always whole (/32); an IPv4-mapped IPv6
// address (::ffff:a.b.c.d, what a dual-stack socket reports for an IPv4
// client) is that IPv4 address — cut to /64 it would put every IPv4 client
// in one bucket. Pure functions, no allocation; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace levqor::limit {

inline constexpr unsigned kDefaultIpPrefix6 = 64;
inline constexpr unsigned kMinIpPrefix6 = 32;
inline constexpr unsigned kMaxIpPrefix6 = 128;
// Room an address bucket name needs.
inline constexpr std::size_t kAddressBytes = 16;

// A binary address (4 bytes IPv4, 16 bytes IPv6, network order) as its
// bucket name in out (kAddressBytes of room): IPv4 as is, IPv4-mapped IPv6
// as its 4 IPv4 bytes, other IPv6 with every bit past prefix6 cleared.
// Returns the name's length (4 or 16), or 0 if len is neither 4 nor 16.
std::size_t address_bucket(const unsigned char* addr, std::size_t len, unsigned prefix6, unsigned char* out) noexcept;

// The same for an address in text ("192.0.2.7", "2001:db8::7",
// "::ffff:192.0.2.7"), read with inet_pton. Returns 0 if text is not an IP
// address (the caller then names the bucket by the text itself).
std::size_t address_bucket_text(std::string_view text, unsigned prefix6, unsigned char* out) noexcept;

}  // namespace levqor::limit
