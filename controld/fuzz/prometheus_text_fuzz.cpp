// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for the Prometheus text parser (metrics::parse_exposition):
// controld parses what every nginx instance's levqor_status answers and
// re-exposes it on GET /metrics, so a broken or hostile instance must not be
// able to crash it or make it write text that does not read back.
//
// Invariants: the parser returns families or throws ParseError (nothing
// else); what render() writes for the families parses again into the same
// names, types and samples (help text aside: render adds a generic one).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "levqor/controld/metrics/exposition.h"
#include "levqor/controld/metrics/text_parser.h"

namespace m = levqor::controld::metrics;

namespace {

bool same_samples(const std::vector<m::MetricFamily>& a, const std::vector<m::MetricFamily>& b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (a[i].name != b[i].name || a[i].type != b[i].type || a[i].samples.size() != b[i].samples.size()) {
            return false;
        }
        for (std::size_t j = 0; j < a[i].samples.size(); ++j) {
            const auto& x = a[i].samples[j];
            const auto& y = b[i].samples[j];
            if (x.name != y.name || x.labels != y.labels || x.value != y.value || x.timestamp != y.timestamp) {
                return false;
            }
        }
    }
    return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    std::vector<m::MetricFamily> families;
    try {
        families = m::parse_exposition(text);
    } catch (const m::ParseError&) {
        return 0;
    }
    std::string rendered;
    m::render(families, rendered);
    std::vector<m::MetricFamily> again;
    try {
        again = m::parse_exposition(rendered);
    } catch (const m::ParseError&) {
        std::abort();  // controld wrote an exposition it cannot read
    }
    if (!same_samples(families, again)) std::abort();
    return 0;
}
