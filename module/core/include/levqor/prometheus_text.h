// SPDX-License-Identifier: Apache-2.0
// Prometheus text exposition format 0.0.4: the escaping and sample-writing
// primitives that nginx's levqor_status (metrics.h) and levqor-controld's
// GET /metrics (controld metrics/exposition.h) share. Each side keeps its
// own data model (shared-memory cells; parsed text passed through); both
// write text through these. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace levqor::prometheus {

// A label value with \\, \" and newline escaped.
void append_label_value(std::string& out, std::string_view value);
// HELP text with \\ and newline escaped.
void append_help(std::string& out, std::string_view help);
// "# HELP <name> <help>\n# TYPE <name> <type>\n".
void append_family_header(std::string& out, std::string_view name, std::string_view help, std::string_view type);
// `name="value"`, after a ',' unless it is the first label of the set.
void append_label(std::string& out, std::string_view name, std::string_view value, bool first);

// {a="x",b="y"} for a sequence of labels with .name and .value; nothing for
// none. A histogram bucket passes its bound as `le`, written last.
template <class Labels>
void append_labels(std::string& out, const Labels& labels, std::string_view le = {}) {
    if (labels.empty() && le.empty()) return;
    out.push_back('{');
    bool first = true;
    for (const auto& label : labels) {
        append_label(out, label.name, label.value, first);
        first = false;
    }
    if (!le.empty()) append_label(out, "le", le, first);
    out.push_back('}');
}

// Sample values: an integer in decimal; a double as the shortest text that
// reads back as the same value, or "+Inf", "-Inf", "NaN".
void append_value(std::string& out, std::uint64_t value);
void append_value(std::string& out, double value);
std::string format_value(double value);

// An integer count of 10^-decimals units (microseconds: 6, nano-dollars: 9)
// as the shortest exact decimal: "0", "0.000000001", "12.3", "2". Exact where
// a double is not; decimals <= 19.
std::string format_fixed_point(std::uint64_t units, unsigned decimals);

}  // namespace levqor::prometheus
