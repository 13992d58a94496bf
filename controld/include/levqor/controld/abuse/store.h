// SPDX-License-Identifier: Apache-2.0
// Abuse controls (issue 15): the decision engine's storage. An AbuseStore
// counts device/network changes per account and referral signups per network
// and decides, the count and the insert in ONE transaction under a lock on the
// key (SQLite: BEGIN IMMEDIATE; PostgreSQL: pg_advisory_xact_lock on the
// account or the network/day), so N simultaneous requests never pass more
// than the limit. The rules (docs/abuse.md, "Rules and storage"):
//
//  - device: a change is a (device, network) pair the account has not used in
//    the last 24 h, the window (now - 24 h, now]: a pair last used exactly
//    24 h ago is a change again. The first pair an account ever uses (no pair
//    of it stored, within the retention) is not a change. With a limit L the
//    (L+1)-th change within 24 h is denied; a denied request records nothing
//    (neither the change nor the pair), so denied attempts never extend the
//    window. No limit (std::nullopt): unlimited, changes still counted.
//  - signup: the (L+1)-th referral signup from one network in a UTC day is
//    denied (not recorded); signups without a referrer are recorded, never
//    limited, and not counted in signups_today.
//  - Mode: off allows and records nothing; shadow records exactly what `on`
//    would record and answers allow with the reason `on` would give (the
//    metrics count it as decision="shadow_deny", metric_decision()); on
//    enforces.
//
// Only digests and network keys reach a store: never a raw email, device or IP.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "levqor/controld/abuse/types.h"
#include "levqor/controld/core/dependency_error.h"

namespace levqor::controld::abuse {

// ABUSE_GUARDS_ENABLED.
enum class Mode { off, shadow, on };

// "off" | "shadow" | "on" (also "false"/"0" = off, "true"/"1" = on); nullopt otherwise.
std::optional<Mode> parse_mode(std::string_view text);
const char* to_string(Mode mode);

// The decision label for levqor_abuse_decisions_total{decision}: "allow",
// "deny", or "shadow_deny" (shadow mode, a request `on` would have denied).
const char* metric_decision(const Decision& decision, Mode mode);

using Clock = std::chrono::system_clock;
using TimePoint = Clock::time_point;

// Reasons (Decision::reason).
inline constexpr const char* kReasonOk = "ok";
inline constexpr const char* kReasonOff = "guards_off";
inline constexpr const char* kReasonDeviceChanges = "device_changes_exceeded";
inline constexpr const char* kReasonReferralSignups = "referral_signups_exceeded";

inline constexpr std::chrono::hours kDeviceWindow{24};

// A store that cannot be reached or failed (the route answers 503). what()
// never holds a credential.
using StoreError = DependencyError;

// Thread-safety: every method may be called from any thread; a store
// serialises its own connection (one connection per store: a pool of stores
// for parallel checks).
//
// The checks are non-virtual: they validate (InvalidInput for an empty or
// over-long key, std::invalid_argument for a negative limit) and answer `off`
// without touching storage, in every store alike; a store implements
// decide_device/decide_signup, called only with valid input in shadow or on.
class AbuseStore {
public:
    virtual ~AbuseStore() = default;

    // limit: the plan's changes per 24 h, nullopt = unlimited; must be >= 0.
    // Decision::count is changes_24h after this request.
    Decision check_device(const DeviceRequest& request, std::optional<long> limit, Mode mode, TimePoint now);

    // limit: referral signups per network per UTC day, >= 0. Decision::count
    // is that network's referral signups today after this request.
    Decision check_signup(const SignupRequest& request, long limit, Mode mode, TimePoint now);

    // Deletes what is older than `before` (pairs last used, changes and
    // signups before it); the number of rows deleted. Retention must be
    // longer than 24 h (the device window) and a UTC day.
    virtual std::size_t purge(TimePoint before) = 0;

    // "sqlite" or "postgres" (for /healthz and logs).
    virtual const char* kind() const = 0;
    // The schema version applied (migrations are versioned and run at open).
    virtual int schema_version() = 0;

protected:
    // The count, the rule and the insert, in one transaction under the key's lock.
    virtual Decision decide_device(const DeviceRequest& request, std::optional<long> limit, Mode mode,
                                   TimePoint now) = 0;
    virtual Decision decide_signup(const SignupRequest& request, long limit, Mode mode, TimePoint now) = 0;
};

}  // namespace levqor::controld::abuse
