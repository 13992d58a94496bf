// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/metrics/exposition.h"

#include <charconv>
#include <cmath>
#include <cstdlib>

#include "levqor/prometheus_text.h"

namespace levqor::controld::metrics {
namespace {

bool name_char(char c, bool first, bool colon_ok) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_') return true;
    if (colon_ok && c == ':') return true;
    return !first && c >= '0' && c <= '9';
}

bool valid_name(std::string_view name, bool colon_ok) {
    if (name.empty()) return false;
    for (std::size_t i = 0; i < name.size(); ++i) {
        if (!name_char(name[i], i == 0, colon_ok)) return false;
    }
    return true;
}

}  // namespace

std::string_view to_string(MetricType type) {
    switch (type) {
        case MetricType::counter:
            return "counter";
        case MetricType::gauge:
            return "gauge";
        case MetricType::histogram:
            return "histogram";
        case MetricType::summary:
            return "summary";
        case MetricType::untyped:
            return "untyped";
    }
    return "untyped";
}

std::optional<MetricType> parse_metric_type(std::string_view text) {
    if (text == "counter") return MetricType::counter;
    if (text == "gauge") return MetricType::gauge;
    if (text == "histogram") return MetricType::histogram;
    if (text == "summary") return MetricType::summary;
    if (text == "untyped") return MetricType::untyped;
    return std::nullopt;
}

std::optional<double> parse_value(std::string_view text) {
    if (text == "+Inf" || text == "Inf") return HUGE_VAL;
    if (text == "-Inf") return -HUGE_VAL;
    if (text == "NaN") return std::nan("");
    if (text.empty()) return std::nullopt;
    // from_chars does not take a leading '+'.
    if (text.front() == '+') {
        text.remove_prefix(1);
        if (text.empty() || text.front() == '-' || text.front() == '+') return std::nullopt;
    }
    double value = 0;
    const auto result = std::from_chars(text.data(), text.data() + text.size(), value);
    if (result.ec != std::errc() || result.ptr != text.data() + text.size()) return std::nullopt;
    return value;
}

void render(const std::vector<MetricFamily>& families, std::string& out) {
    for (const auto& family : families) {
        prometheus::append_family_header(out, family.name,
                                         family.help.empty() ? family.name + " (no help text)" : family.help,
                                         to_string(family.type));
        for (const auto& sample : family.samples) {
            out.append(sample.name);
            prometheus::append_labels(out, sample.labels);
            out.push_back(' ');
            out.append(sample.value);
            if (!sample.timestamp.empty()) out.append(" ").append(sample.timestamp);
            out.push_back('\n');
        }
    }
}

bool valid_metric_name(std::string_view name) { return valid_name(name, true); }
bool valid_label_name(std::string_view name) { return valid_name(name, false); }

}  // namespace levqor::controld::metrics
