// SPDX-License-Identifier: Apache-2.0
// The abuse component's settings, declared and read here: the "abuse" section
// of the config file and LEVQOR_ABUSE_PEPPER_FILE / LEVQOR_ABUSE_ASN_MMDB.
// Plain values; thread-safe to copy and read. The deny patterns are compiled
// once here to validate them (a bad one is a ConfigError naming the key, the
// pattern's index, PCRE2's message and offset); the component compiles them
// again into its DenyLists (deny_lists()).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "levqor/controld/abuse/deny_list.h"
#include "levqor/controld/core/config.h"

namespace levqor::controld::abuse {

struct AbuseSettings {
    // The HMAC pepper (chmod 600, >= 32 bytes). Required once the guards
    // are on; unset: the routes answer 503 abuse_unconfigured (fail closed).
    std::optional<std::string> pepper_file;
    // A GeoLite2-ASN file; unset: networks are the /24 (IPv6 /48).
    std::optional<std::string> asn_mmdb;
    std::vector<std::string> email_deny_patterns;
    std::vector<std::string> device_deny_patterns;
    // Plan -> the most device/network changes in a sliding 24 h; plans not
    // listed are unlimited.
    std::map<std::string, std::int64_t> device_changes_per_24h{{"free", 3}};
    std::int64_t referral_signups_per_asn_per_day = 5;
    std::int64_t retention_days = 30;

    friend bool operator==(const AbuseSettings& a, const AbuseSettings& b) {
        return a.pepper_file == b.pepper_file && a.asn_mmdb == b.asn_mmdb &&
               a.email_deny_patterns == b.email_deny_patterns && a.device_deny_patterns == b.device_deny_patterns &&
               a.device_changes_per_24h == b.device_changes_per_24h &&
               a.referral_signups_per_asn_per_day == b.referral_signups_per_asn_per_day &&
               a.retention_days == b.retention_days;
    }
};

inline constexpr std::int64_t kMaxDeviceChangesPer24h = 1000000;
inline constexpr std::int64_t kMaxReferralSignupsPerDay = 1000000;
inline constexpr std::int64_t kMaxRetentionDays = 3650;
inline constexpr std::size_t kMaxPlans = 256;
inline constexpr std::size_t kMaxPlanName = 64;

// A plan name: 1..64 of [A-Za-z0-9_.-]. Throws std::invalid_argument.
void check_plan_name(const std::string& plan);

// The email and device deny-lists compiled (JIT). Throws ConfigError.
struct DenyLists {
    DenyList email;
    DenyList device;
};
DenyLists deny_lists(const AbuseSettings& settings);

// The part's top-level keys with their effective values, as the config file
// writes them (levqor-controld --check-config) (the
// pepper's path, never the pepper).
nlohmann::ordered_json settings_json(const AbuseSettings& settings);

// The abuse part of the configuration, filling `out`.
ConfigPart config_part(AbuseSettings& out);

}  // namespace levqor::controld::abuse
