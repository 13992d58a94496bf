// SPDX-License-Identifier: Apache-2.0
// The abuse rules as pure functions over what a store read inside its
// transaction (store.h has the rules in words). Both stores use them, so the
// rules cannot drift between SQLite and PostgreSQL. Private to the component.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "levqor/controld/abuse/store.h"

namespace levqor::controld::abuse::rules {

// Milliseconds since the Unix epoch (UTC), as stored.
std::int64_t to_ms(TimePoint t);
// The UTC day of t: days since 1970-01-01.
std::int64_t utc_day(std::int64_t ms);
// The start of the device window: changes at or before it do not count.
std::int64_t window_start(std::int64_t now_ms);

void check_limit(std::optional<long> limit);

// The store's own bound on what it stores (the input side hands it digests
// and network keys, far shorter): each key non-empty and at most
// kMaxStoredKey bytes, else InvalidInput naming the request field.
inline constexpr std::size_t kMaxStoredKey = 256;
void check_request(const DeviceRequest& request);
void check_request(const SignupRequest& request);

// What the store read, under its lock.
struct DeviceFacts {
    std::optional<std::int64_t> pair_last_seen_ms;  // this (device, network) pair
    bool account_has_pairs = false;                 // any pair of the account is stored
    long changes_in_window = 0;                     // changes after window_start(now)
};

struct DeviceOutcome {
    Decision decision;
    bool record_pair = false;    // upsert the pair's last_seen = now
    bool record_change = false;  // insert a change at now
};

DeviceOutcome decide_device(const DeviceFacts& facts, std::optional<long> limit, Mode mode, std::int64_t now_ms);

struct SignupOutcome {
    Decision decision;
    bool record = false;
};

SignupOutcome decide_signup(long referral_signups_today, bool referral, long limit, Mode mode);

// Off: allow, record nothing, no count.
Decision off_decision(std::optional<long> limit);

}  // namespace levqor::controld::abuse::rules
