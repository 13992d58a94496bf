// SPDX-License-Identifier: Apache-2.0
#include "levqor/prometheus_text.h"

#include <charconv>
#include <cmath>

namespace levqor::prometheus {

void append_label_value(std::string& out, std::string_view value) {
    for (const char c : value) {
        if (c == '\\') out += "\\\\";
        else if (c == '"') out += "\\\"";
        else if (c == '\n') out += "\\n";
        else out.push_back(c);
    }
}

void append_help(std::string& out, std::string_view help) {
    for (const char c : help) {
        if (c == '\\') out += "\\\\";
        else if (c == '\n') out += "\\n";
        else out.push_back(c);
    }
}

void append_family_header(std::string& out, std::string_view name, std::string_view help, std::string_view type) {
    out.append("# HELP ").append(name).push_back(' ');
    append_help(out, help);
    out.push_back('\n');
    out.append("# TYPE ").append(name).push_back(' ');
    out.append(type).push_back('\n');
}

void append_label(std::string& out, std::string_view name, std::string_view value, bool first) {
    if (!first) out.push_back(',');
    out.append(name).append("=\"");
    append_label_value(out, value);
    out.push_back('"');
}

void append_value(std::string& out, std::uint64_t value) {
    char buf[24];
    const auto result = std::to_chars(buf, buf + sizeof buf, value);
    out.append(buf, result.ptr);
}

void append_value(std::string& out, double value) {
    if (std::isnan(value)) {
        out.append("NaN");
    } else if (std::isinf(value)) {
        out.append(value > 0 ? "+Inf" : "-Inf");
    } else {
        char buf[32];
        const auto result = std::to_chars(buf, buf + sizeof buf, value);
        out.append(buf, result.ptr);
    }
}

std::string format_value(double value) {
    std::string out;
    append_value(out, value);
    return out;
}

std::string format_fixed_point(std::uint64_t units, unsigned decimals) {
    std::uint64_t scale = 1;
    for (unsigned i = 0; i < decimals && i < 19; ++i) scale *= 10;
    std::string out;
    append_value(out, units / scale);
    std::uint64_t frac = units % scale;
    if (frac == 0) return out;
    unsigned digits = decimals;
    while (frac % 10 == 0) {
        frac /= 10;
        --digits;
    }
    char buf[20];
    for (unsigned i = digits; i > 0; --i) {
        buf[i - 1] = static_cast<char>('0' + frac % 10);
        frac /= 10;
    }
    out.push_back('.');
    out.append(buf, digits);
    return out;
}

}  // namespace levqor::prometheus
