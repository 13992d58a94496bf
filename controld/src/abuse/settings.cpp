// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/abuse/settings.h"

namespace levqor::controld::abuse {
namespace {

using nlohmann::json;

const char* const kEmailPatternsKey = "abuse.email_deny_patterns";
const char* const kDevicePatternsKey = "abuse.device_deny_patterns";

// The patterns of one list, compiled once to validate them; the messages of
// DenyList already name the key and the index.
std::vector<std::string> read_patterns(const SettingsReader& r, const std::string& key, const json& value) {
    auto patterns = r.string_list(key, value, [](const std::string& v) { return v; });
    try {
        DenyList(key, patterns);
    } catch (const ConfigError& e) {
        r.fail(e.what());
    }
    return patterns;
}

const Keys<AbuseSettings>& section_keys() {
    using S = AbuseSettings;
    static const Keys<S> keys = {
        {"pepper_file", [](const SettingsReader& r, const std::string& key, const json& value,
                           S& out) { out.pepper_file = r.optional_path(key, value); }},
        {"asn_mmdb", [](const SettingsReader& r, const std::string& key, const json& value,
                        S& out) { out.asn_mmdb = r.optional_path(key, value); }},
        {"email_deny_patterns", [](const SettingsReader& r, const std::string& key, const json& value,
                                   S& out) { out.email_deny_patterns = read_patterns(r, key, value); }},
        {"device_deny_patterns", [](const SettingsReader& r, const std::string& key, const json& value,
                                    S& out) { out.device_deny_patterns = read_patterns(r, key, value); }},
        {"device_changes_per_24h",
         [](const SettingsReader& r, const std::string& key, const json& value, S& out) {
             if (!value.is_object()) {
                 r.bad(key, value,
                       "expected an object of plan -> limit, e.g. {\"free\": 3} (plans not listed are "
                       "unlimited)");
             }
             if (value.size() > kMaxPlans) {
                 r.bad(key, value, "at most " + std::to_string(kMaxPlans) + " plans are accepted");
             }
             std::map<std::string, std::int64_t> limits;
             for (const auto& [plan, limit] : value.items()) {
                 try {
                     check_plan_name(plan);
                 } catch (const std::invalid_argument& e) {
                     r.bad(key, value, "plan " + quoted(plan) + ": " + e.what());
                 }
                 limits[plan] = r.integer(key + "." + plan, limit, 0, kMaxDeviceChangesPer24h);
             }
             out.device_changes_per_24h = std::move(limits);
         }},
        integer_key("referral_signups_per_asn_per_day", 0, kMaxReferralSignupsPerDay,
                    &S::referral_signups_per_asn_per_day),
        integer_key("retention_days", 2, kMaxRetentionDays, &S::retention_days),
    };
    return keys;
}

const Keys<AbuseSettings>& top_keys() {
    static const Keys<AbuseSettings> keys = {section_key("abuse", section_keys())};
    return keys;
}

void read_environment(const EnvReader& e, AbuseSettings& out) {
    e.optional("LEVQOR_ABUSE_PEPPER_FILE", out.pepper_file, path_value);
    e.optional("LEVQOR_ABUSE_ASN_MMDB", out.asn_mmdb, path_value);
}

}  // namespace

void check_plan_name(const std::string& plan) {
    if (plan.empty()) throw std::invalid_argument("empty plan name");
    if (plan.size() > kMaxPlanName) {
        throw std::invalid_argument("a plan name has at most " + std::to_string(kMaxPlanName) + " characters");
    }
    for (const char c : plan) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                        c == '-' || c == '.';
        if (!ok) throw std::invalid_argument("a plan name may contain only letters, digits, '_', '-' and '.'");
    }
}

DenyLists deny_lists(const AbuseSettings& settings) {
    return DenyLists{DenyList(kEmailPatternsKey, settings.email_deny_patterns),
                     DenyList(kDevicePatternsKey, settings.device_deny_patterns)};
}

ConfigPart config_part(AbuseSettings& out) { return controld::config_part(top_keys(), out, read_environment); }

nlohmann::ordered_json settings_json(const AbuseSettings& s) {
    const auto path = [](const std::optional<std::string>& v) {
        return v ? nlohmann::ordered_json(*v) : nlohmann::ordered_json(nullptr);
    };
    return {{"abuse",
             {{"pepper_file", path(s.pepper_file)},
              {"asn_mmdb", path(s.asn_mmdb)},
              {"email_deny_patterns", s.email_deny_patterns},
              {"device_deny_patterns", s.device_deny_patterns},
              {"device_changes_per_24h", s.device_changes_per_24h},
              {"referral_signups_per_asn_per_day", s.referral_signups_per_asn_per_day},
              {"retention_days", s.retention_days}}}};
}

}  // namespace levqor::controld::abuse
