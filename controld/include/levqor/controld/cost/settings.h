// SPDX-License-Identifier: Apache-2.0
// The cost component's settings, declared and read here: the "cost" section
// ("daily_budget_usd") and LEVQOR_COST_DAILY_BUDGET_USD. Plain values;
// thread-safe to copy and read.
#pragma once

#include <optional>

#include "levqor/controld/core/config.h"

namespace levqor::controld::cost {

struct CostSettings {
    // levqor_ai_cost_daily_budget_usd; unset: no budget gauge (and no alert).
    std::optional<double> daily_budget_usd;

    friend bool operator==(const CostSettings& a, const CostSettings& b) {
        return a.daily_budget_usd == b.daily_budget_usd;
    }
};

// The largest budget accepted (USD per day).
inline constexpr double kMaxDailyBudgetUsd = 1e9;

// The part's top-level keys with their effective values, as the config file
// writes them (levqor-controld --check-config).
nlohmann::ordered_json settings_json(const CostSettings& settings);

// The cost part of the configuration, filling `out`.
ConfigPart config_part(CostSettings& out);

}  // namespace levqor::controld::cost
