// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for POST /usage bodies (cost::parse_usage) and the amount
// grammar under it (cost::parse_usd_nanos, also used on scraped
// levqor_ai_cost_usd_total samples and never through a double).
//
// Invariants: a body is accepted or refused with UsageError (a 400); any
// other exception would be a 500. An accepted body has a valid connector name
// and at most 1e6 USD. Any accepted amount is at most its bound, and its exact
// decimal text (format_usd) reads back to the same nano-dollars.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "levqor/controld/cost/amount.h"
#include "levqor/controld/cost/usage.h"

namespace cost = levqor::controld::cost;

namespace {

void check(bool ok) {
    if (!ok) std::abort();
}

void check_amount(std::string_view text, std::uint64_t max) {
    const auto nanos = cost::parse_usd_nanos(text, max);
    if (!nanos) {
        check(!nanos.error().empty());
        return;
    }
    check(nanos.value() <= max);
    const auto back = cost::parse_usd_nanos(cost::format_usd(nanos.value()), max);
    check(back && back.value() == nanos.value());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    check_amount(text, cost::kMaxUsageNanos);
    check_amount(text, cost::kMaxTotalNanos);
    try {
        const auto usage = cost::parse_usage(text);
        check(cost::valid_connector_name(usage.connector));
        check(usage.nanos <= cost::kMaxUsageNanos);
    } catch (const cost::UsageError& e) {
        check(e.code() == "invalid_json" || e.code() == "invalid_usage");
    }
    return 0;
}
