// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for the levqor_cost amount grammar (levqor::cost::parse_usd,
// the fast path in front of levqor_common's parse_usd_text),
// which reads an upstream's X-AI-Cost-USD header (outside input) in the log
// phase of every request, and the directive's argument parser.
//
// Invariants: the fast path agrees with the general parser; a valid amount is
// at most 1e6 USD and reads back exactly as formatted (trailing zeros and a
// rounded tail aside: the formatted value parses to the same nanos); an empty
// input is Empty and nothing else is; the argument parser never accepts an
// invalid literal amount.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "levqor/cost.h"

namespace {

void check(bool ok) {
    if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using levqor::cost::Amount;
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const Amount a = levqor::cost::parse_usd(text);
    const Amount general = levqor::cost::detail::parse_usd_general(text);
    check(a.kind == general.kind && a.nanos == general.nanos);
    check((a.kind == Amount::Kind::Empty) == text.empty());
    if (a.kind == Amount::Kind::Valid) {
        check(a.nanos <= levqor::cost::kMaxNanos);
        const std::string formatted = levqor::cost::format_usd(a.nanos);
        const Amount again = levqor::cost::parse_usd(formatted);
        check(again.kind == Amount::Kind::Valid && again.nanos == a.nanos);
    } else {
        check(a.nanos == 0);
    }
    if (text.find('$') == std::string_view::npos && text != "off") {
        const auto args = levqor::cost::parse_cost_args({text});
        check(static_cast<bool>(args) == (a.kind == Amount::Kind::Valid));
    }
    return 0;
}
