// SPDX-License-Identifier: Apache-2.0
// USD amounts as exact integer nano-dollars in controld: the one amount
// grammar, its decimal rendering and the connector-name rule are nginx's
// (levqor/cost_grammar.h in levqor_common), named here for the cost
// component; plus controld's bounds, capped addition and its bounded label
// set. Pure functions and a small non-thread-safe set.
#pragma once

#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include "levqor/cost_grammar.h"

namespace levqor::controld::cost {

using levqor::cost::format_usd;
using levqor::cost::kMaxAmountText;
using levqor::cost::kMaxConnectorName;
using levqor::cost::kMaxConnectors;
using levqor::cost::kNanosPerUsd;
using levqor::cost::kOtherConnector;
using levqor::cost::parse_usd_nanos;
using levqor::cost::valid_connector_name;

// The largest amount one /usage call may carry: 1e6 USD (the module's bound).
inline constexpr std::uint64_t kMaxUsageNanos = levqor::cost::kMaxNanos;
// The largest total read back from a scrape or the state file (about 9.2e9 USD).
inline constexpr std::uint64_t kMaxTotalNanos = 9'223'372'036'854'775'807ULL;

// a + b, capped at kMaxTotalNanos.
std::uint64_t add_capped(std::uint64_t a, std::uint64_t b);

// The connector label: at most kMaxConnectors distinct names, then "other"
// (as the module does). Not thread-safe.
class ConnectorSet {
public:
    // The label to count `name` under: itself while there is room (or when
    // already known), else "other". `name` must be valid.
    std::string label_for(const std::string& name);
    std::size_t size() const { return names_.size(); }

private:
    std::set<std::string, std::less<>> names_;
};

}  // namespace levqor::controld::cost
