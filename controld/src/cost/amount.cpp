// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/cost/amount.h"

namespace levqor::controld::cost {

std::uint64_t add_capped(std::uint64_t a, std::uint64_t b) {
    return (a > kMaxTotalNanos || b > kMaxTotalNanos - a) ? kMaxTotalNanos : a + b;
}

std::string ConnectorSet::label_for(const std::string& name) {
    if (names_.count(name) != 0) return name;
    if (name == kOtherConnector) return name;
    if (names_.size() >= kMaxConnectors) return std::string(kOtherConnector);
    names_.insert(name);
    return name;
}

}  // namespace levqor::controld::cost
