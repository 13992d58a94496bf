// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/cost/settings.h"

#include <cmath>
#include <cstdlib>

namespace levqor::controld::cost {
namespace {

using nlohmann::json;

const char* const kBudgetRange = "expected a number of USD greater than 0 and at most 1e9, or null for no budget";

void check_budget(double value) {
    if (!std::isfinite(value) || value <= 0 || value > kMaxDailyBudgetUsd) invalid(kBudgetRange);
}

const Keys<CostSettings>& section_keys() {
    using S = CostSettings;
    static const Keys<S> keys = {
        {"daily_budget_usd",
         [](const SettingsReader& reader, const std::string& key, const json& value, S& out) {
             if (value.is_null()) {
                 out.daily_budget_usd.reset();
                 return;
             }
             if (!value.is_number()) reader.bad(key, value, kBudgetRange);
             try {
                 check_budget(value.get<double>());
             } catch (const std::invalid_argument& e) {
                 reader.bad(key, value, e.what());
             }
             out.daily_budget_usd = value.get<double>();
         }},
    };
    return keys;
}

const Keys<CostSettings>& top_keys() {
    static const Keys<CostSettings> keys = {section_key("cost", section_keys())};
    return keys;
}

void read_environment(const EnvReader& e, CostSettings& out) {
    e.with("LEVQOR_COST_DAILY_BUDGET_USD", [&](const std::string& v) {
        if (v.empty()) {
            out.daily_budget_usd.reset();
            return;
        }
        char* end = nullptr;
        const double budget = std::strtod(v.c_str(), &end);
        if (end == v.c_str() || *end != '\0') invalid(kBudgetRange);
        check_budget(budget);
        out.daily_budget_usd = budget;
    });
}

}  // namespace

ConfigPart config_part(CostSettings& out) { return controld::config_part(top_keys(), out, read_environment); }

nlohmann::ordered_json settings_json(const CostSettings& s) {
    return {{"cost",
             {{"daily_budget_usd",
               s.daily_budget_usd ? nlohmann::ordered_json(*s.daily_budget_usd) : nlohmann::ordered_json(nullptr)}}}};
}

}  // namespace levqor::controld::cost
