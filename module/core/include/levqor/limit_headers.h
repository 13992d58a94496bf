// SPDX-License-Identifier: Apache-2.0
// RateLimit header fields and the legacy X-RateLimit-* trio. The format is
// pinned to draft-ietf-httpapi-ratelimit-headers-09 (March 2025; the
// structured-field form of -08 and later): a String names each policy, q and
// w in RateLimit-Policy, r and t in RateLimit. Formatting without
// allocation for the request path; policy items are built at config time.
// Pure functions; thread-safe.
//
//   RateLimit-Policy: "free-key";q=60;w=60, "free-ip";q=30;w=60
//   RateLimit: "free-key";r=59;t=1, "free-ip";r=29;t=2
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "levqor/gcra.h"

namespace levqor::limit {

enum class HeaderMode : std::uint8_t { Draft, Legacy, Both, Off };

// Decimal digits of v written at p; returns the end. At most 20 characters.
char* write_u64(char* p, std::uint64_t v) noexcept;
inline constexpr std::size_t kMaxU64Digits = 20;

// Seconds a full bucket takes to refill: the policy's window (w).
inline std::uint64_t window_seconds(const gcra::Limit& l) { return gcra::ceil_seconds(l.capacity_ns()); }

// "\"<name>\";q=<quota>;w=<window>" for RateLimit-Policy.
std::string policy_item(std::string_view name, const gcra::Limit& limit);
// "\"<name>\";r=" — the start of this policy's RateLimit item.
std::string state_item_prefix(std::string_view name);
// Appends "<prefix><remaining>;t=<reset>" at p; returns the end.
char* write_state_item(char* p, std::string_view prefix, std::uint64_t remaining, std::uint64_t reset_s) noexcept;
inline std::size_t state_item_max(std::string_view prefix) { return prefix.size() + 3 + 2 * kMaxU64Digits; }

// {"error":"rate_limited","retry_after":N}
std::size_t write_rejection_body(char* out, std::uint64_t retry_after_s) noexcept;
// {"error":"<error>","retry_after":N}; out needs kRejectionBodyMax + error.size().
std::size_t write_error_body(char* out, std::string_view error, std::uint64_t retry_after_s) noexcept;
inline constexpr std::size_t kRejectionBodyMax = 64;

}  // namespace levqor::limit
