// SPDX-License-Identifier: Apache-2.0
// GCRA (generic cell rate algorithm) — a token bucket kept as one number per
// bucket, its "theoretical arrival time" (TAT). Integer nanoseconds, no
// floating point, no allocation; the clock is a parameter. Pure functions,
// thread-safe; callers serialise updates of one bucket.
//
// A limit of `burst` tokens refilled one every `interval` ns admits a request
// of cost c at time now iff  max(tat, now) + c*interval - now <= burst*interval.
// Admitting stores the new TAT; rejecting changes nothing. Over any window of
// length W a bucket admits at most W/interval + burst tokens.
#pragma once

#include <cstdint>

namespace levqor::gcra {

struct Limit {
    std::uint64_t interval_ns;  // time to earn one token (period / rate)
    std::uint64_t burst;        // bucket capacity in tokens (>= 1)
    std::uint64_t capacity_ns() const { return interval_ns * burst; }
};

// No default member initializers: arrays of decisions on the request path
// are not zeroed for nothing; decide() sets every field.
struct Decision {
    bool allowed;
    std::uint64_t new_tat;         // the bucket's TAT if this request is admitted
    std::uint64_t remaining;       // tokens left after admission (0 if rejected)
    std::uint64_t retry_after_ns;  // rejected: wait before the same request would pass
    std::uint64_t reset_after_ns;  // time until the bucket is full again
};

// tat == 0 means a new (full) bucket. now must be > 0.
inline Decision decide(std::uint64_t tat, std::uint64_t now, const Limit& limit, std::uint64_t cost) {
    const std::uint64_t base = tat > now ? tat : now;
    const std::uint64_t capacity = limit.capacity_ns();
    const std::uint64_t new_tat = base + cost * limit.interval_ns;
    const std::uint64_t debt = new_tat - now;  // >= the charge
    if (debt <= capacity) return Decision{true, new_tat, (capacity - debt) / limit.interval_ns, 0, debt};
    return Decision{false, tat, 0, debt - capacity, base - now};
}

// Describes a bucket as it stands, without charging it (for a request that
// was not admitted): tokens available now and time until it is full.
inline void describe_uncharged(Decision& d, std::uint64_t tat, std::uint64_t now, const Limit& limit) {
    const std::uint64_t debt = tat > now ? tat - now : 0;
    const std::uint64_t capacity = limit.capacity_ns();
    d.remaining = debt >= capacity ? 0 : (capacity - debt) / limit.interval_ns;
    d.reset_after_ns = debt;
}

// Whole seconds a client should wait, rounded up (HTTP Retry-After).
inline std::uint64_t ceil_seconds(std::uint64_t ns) { return (ns + 999999999ULL) / 1000000000ULL; }

// A bucket whose TAT has passed holds no state: it is full.
inline bool is_full(std::uint64_t tat, std::uint64_t now) { return tat <= now; }

}  // namespace levqor::gcra
