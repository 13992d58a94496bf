// SPDX-License-Identifier: Apache-2.0
// The parser of the Prometheus text exposition format 0.0.4, for what controld
// scrapes from nginx's levqor_status: text in, MetricFamily values out, a
// ParseError naming the line for anything malformed. A pure function,
// thread-safe; fuzzed.
#pragma once

#include <stdexcept>
#include <string_view>
#include <vector>

#include "levqor/controld/metrics/exposition.h"

namespace levqor::controld::metrics {

// Text that is not Prometheus exposition format 0.0.4; what() starts with
// "line N: ".
class ParseError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Parses a whole exposition into families, in the order they first appear.
//
// Samples are assigned to families the way Prometheus does: a sample named
// like a declared family belongs to it; <name>_bucket, _sum and _count belong
// to histogram <name>, _sum and _count to summary <name>; any other sample
// starts an untyped family of its own name. Comments other than HELP and
// TYPE, and blank lines, are skipped; "\r\n" line ends are accepted.
//
// Throws ParseError for a malformed line, a bad name, label or value, an
// unknown TYPE, a second HELP/TYPE for a family, or a TYPE after the
// family's samples. Thread-safety: a pure function.
std::vector<MetricFamily> parse_exposition(std::string_view text);

}  // namespace levqor::controld::metrics
