// SPDX-License-Identifier: Apache-2.0
// The Prometheus text exposition format as data (families, samples, labels)
// and its writer: what the parser produces, the registry collects and the
// merger combines. Pure functions, thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "levqor/prometheus_text.h"

namespace levqor::controld::metrics {

// The Prometheus text exposition format 0.0.4 as data: what the parser
// produces, the registry collects and the merger combines, and what render()
// writes. Values are kept as the text they were read or formatted as, so a
// sample passes through controld unchanged.

struct Label {
    std::string name;
    std::string value;
    friend bool operator==(const Label& a, const Label& b) { return a.name == b.name && a.value == b.value; }
};
using Labels = std::vector<Label>;

struct Sample {
    std::string name;  // the family name, or <family>_bucket/_sum/_count
    Labels labels;
    std::string value;      // "1", "0.25", "+Inf", "NaN", ...
    std::string timestamp;  // milliseconds since the epoch, usually empty
};

enum class MetricType { counter, gauge, histogram, summary, untyped };
std::string_view to_string(MetricType type);
std::optional<MetricType> parse_metric_type(std::string_view text);

struct MetricFamily {
    std::string name;
    std::string help;  // unescaped; may be empty
    MetricType type = MetricType::untyped;
    std::vector<Sample> samples;
};

// Shortest text that reads back as the same double; "+Inf", "-Inf", "NaN"
// (the Prometheus text primitives shared with the nginx module).
using levqor::prometheus::format_value;
// Parses a sample value as Prometheus does (decimal, exponent, +Inf, -Inf,
// NaN); nullopt if it is not a number.
std::optional<double> parse_value(std::string_view text);

// Appends the families in order: # HELP and # TYPE once per family, then its
// samples. A family without help text gets a generic one ("<name> (no help
// text)") because promtool's lint rejects a missing HELP.
void render(const std::vector<MetricFamily>& families, std::string& out);

// [a-zA-Z_:][a-zA-Z0-9_:]* and [a-zA-Z_][a-zA-Z0-9_]*.
bool valid_metric_name(std::string_view name);
bool valid_label_name(std::string_view name);

}  // namespace levqor::controld::metrics
