// SPDX-License-Identifier: Apache-2.0
#include "rules.h"

#include <stdexcept>
#include <string>

namespace levqor::controld::abuse {

std::optional<Mode> parse_mode(std::string_view text) {
    if (text == "off" || text == "false" || text == "0") return Mode::off;
    if (text == "shadow") return Mode::shadow;
    if (text == "on" || text == "true" || text == "1") return Mode::on;
    return std::nullopt;
}

const char* to_string(Mode mode) {
    switch (mode) {
        case Mode::off:
            return "off";
        case Mode::shadow:
            return "shadow";
        case Mode::on:
            return "on";
    }
    return "on";
}

const char* metric_decision(const Decision& decision, Mode mode) {
    if (!decision.allow) return "deny";
    if (mode == Mode::shadow && decision.reason != kReasonOk) return "shadow_deny";
    return "allow";
}

Decision AbuseStore::check_device(const DeviceRequest& request, std::optional<long> limit, Mode mode, TimePoint now) {
    rules::check_limit(limit);
    rules::check_request(request);
    if (mode == Mode::off) return rules::off_decision(limit);
    return decide_device(request, limit, mode, now);
}

Decision AbuseStore::check_signup(const SignupRequest& request, long limit, Mode mode, TimePoint now) {
    rules::check_limit(limit);
    rules::check_request(request);
    if (mode == Mode::off) return rules::off_decision(limit);
    return decide_signup(request, limit, mode, now);
}

namespace rules {

namespace {
constexpr std::int64_t kMsPerDay = 86'400'000;
}

std::int64_t to_ms(TimePoint t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

std::int64_t utc_day(std::int64_t ms) {
    // Floor division: instants before 1970 (never in practice) still map to their day.
    return ms >= 0 ? ms / kMsPerDay : -((-ms + kMsPerDay - 1) / kMsPerDay);
}

std::int64_t window_start(std::int64_t now_ms) {
    return now_ms - std::chrono::duration_cast<std::chrono::milliseconds>(kDeviceWindow).count();
}

void check_limit(std::optional<long> limit) {
    if (limit && *limit < 0) throw std::invalid_argument("abuse limit must be >= 0");
}

namespace {
void check_stored_key(const std::string& value, const char* field) {
    if (value.empty()) throw InvalidInput(field, std::string(field) + " is empty");
    if (value.size() > kMaxStoredKey) {
        throw InvalidInput(field, std::string(field) + " is longer than " + std::to_string(kMaxStoredKey) + " bytes");
    }
}
}  // namespace

void check_request(const DeviceRequest& request) {
    check_stored_key(request.account_digest, "account");
    check_stored_key(request.device_digest, "device");
    check_stored_key(request.network.key, "ip");
}

void check_request(const SignupRequest& request) {
    check_stored_key(request.email_digest, "email");
    check_stored_key(request.network.key, "ip");
}

Decision off_decision(std::optional<long> limit) {
    Decision d;
    d.allow = true;
    d.reason = kReasonOff;
    d.count = 0;
    d.limit = limit;
    return d;
}

DeviceOutcome decide_device(const DeviceFacts& facts, std::optional<long> limit, Mode mode, std::int64_t now_ms) {
    DeviceOutcome out;
    out.decision.limit = limit;
    out.decision.reason = kReasonOk;
    out.decision.count = facts.changes_in_window;
    const bool used_in_window = facts.pair_last_seen_ms && *facts.pair_last_seen_ms > window_start(now_ms);
    const bool is_change = !used_in_window && facts.account_has_pairs;
    if (is_change && limit && facts.changes_in_window >= *limit) {
        // Denied (or would be): nothing recorded, the window is not extended.
        out.decision.allow = mode != Mode::on;
        out.decision.reason = kReasonDeviceChanges;
        return out;
    }
    out.record_pair = true;
    if (is_change) {
        out.record_change = true;
        ++out.decision.count;
    }
    return out;
}

SignupOutcome decide_signup(long referral_signups_today, bool referral, long limit, Mode mode) {
    SignupOutcome out;
    out.decision.limit = limit;
    out.decision.reason = kReasonOk;
    out.decision.count = referral_signups_today;
    if (referral && referral_signups_today >= limit) {
        out.decision.allow = mode != Mode::on;
        out.decision.reason = kReasonReferralSignups;
        return out;
    }
    out.record = true;
    if (referral) ++out.decision.count;
    return out;
}

}  // namespace rules
}  // namespace levqor::controld::abuse
