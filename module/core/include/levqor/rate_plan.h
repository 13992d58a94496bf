// SPDX-License-Identifier: Apache-2.0
// Rate-limit plans: "free key=60r/m ip=30r/m", parsed at configuration time
// into integer GCRA limits. Pure values; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "levqor/gcra.h"
#include "levqor/parsed.h"

namespace levqor::limit {

struct Rate {
    std::uint64_t count = 0;     // requests ...
    std::uint64_t period_s = 0;  // ... per this many seconds
    std::uint64_t interval_ns() const { return period_s * 1000000000ULL / count; }
    std::string text() const;  // "60r/m"
};

struct Plan {
    std::string name;
    Rate key;
    Rate ip;
    std::uint64_t key_burst = 0;  // tokens; default: one period's worth (key.count)
    std::uint64_t ip_burst = 0;
    gcra::Limit key_limit() const { return {key.interval_ns(), key_burst}; }
    gcra::Limit ip_limit() const { return {ip.interval_ns(), ip_burst}; }
};

// "60r/m", "5000r/s", "100r/h"
Parsed<Rate> parse_rate(std::string_view text);

// levqor_plan <name> key=<rate> ip=<rate> [key_burst=<n>] [ip_burst=<n>]
Parsed<Plan> parse_plan(std::string_view name, const std::vector<std::string_view>& params);

// The platform's plans: free (key 60r/m, ip 30r/m) and pro (600r/m, 120r/m).
std::vector<Plan> default_plans();

// Upper bounds that keep every product in 64 bits.
inline constexpr std::uint64_t kMaxRateCount = 1000000000ULL;
inline constexpr std::uint64_t kMaxBurst = 1000000000ULL;
inline constexpr std::uint64_t kMaxCost = 1000000ULL;
// A bucket's capacity and one request's charge stay below this (ns), so a
// TAT (now + capacity + charge) never wraps.
inline constexpr std::uint64_t kMaxChargeNs = std::uint64_t{1} << 62;

// Whether charging cost tokens of interval_ns each, with the interval
// stretched nodes times (the Redis fallback's share of a plan), stays below
// kMaxChargeNs.
constexpr bool charge_fits(std::uint64_t cost, std::uint64_t interval_ns, std::uint64_t nodes) {
    return static_cast<unsigned __int128>(cost) * interval_ns * nodes < kMaxChargeNs;
}

}  // namespace levqor::limit
