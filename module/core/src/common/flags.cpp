// SPDX-License-Identifier: Apache-2.0
#include "levqor/flags.h"

namespace levqor::flags {
namespace {

constexpr std::array<std::string_view, kCount> kNames{
    "SECURITY_HEADERS_ENABLED", "RATELIMIT_ENABLED", "WEBHOOK_VERIFY_ALL", "ABUSE_GUARDS_ENABLED", "NEW_QUEUE_ENABLED"};

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
    return s;
}

}  // namespace

std::string_view name(Flag f) { return kNames[static_cast<std::size_t>(f)]; }

std::string_view name(State s) {
    switch (s) {
        case State::shadow:
            return "shadow";
        case State::on:
            return "on";
        case State::off:
            break;
    }
    return "off";
}

std::optional<Flag> parse_name(std::string_view text) {
    for (const Flag f : kAll) {
        if (name(f) == text) return f;
    }
    return std::nullopt;
}

std::optional<State> parse_state(std::string_view text) {
    if (text == "off") return State::off;
    if (text == "shadow") return State::shadow;
    if (text == "on") return State::on;
    return std::nullopt;
}

std::string names_list() {
    std::string out;
    for (const Flag f : kAll) {
        if (!out.empty()) out += ", ";
        out += name(f);
    }
    return out;
}

Parsed<FlagSet> parse_file(std::string_view text) {
    using P = Parsed<FlagSet>;
    FlagSet set;
    std::array<bool, kCount> seen{};
    std::size_t line_no = 0;
    while (!text.empty()) {
        const auto nl = text.find('\n');
        const std::string_view line = trim(text.substr(0, nl));
        text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
        ++line_no;
        if (line.empty() || line.front() == '#') continue;
        const std::string where = "line " + std::to_string(line_no) + ": ";
        const auto eq = line.find('=');
        if (eq == std::string_view::npos) return P::failure(where + "expected NAME=off|shadow|on");
        const std::string_view key = trim(line.substr(0, eq));
        const std::string_view value = trim(line.substr(eq + 1));
        const auto flag = parse_name(key);
        if (!flag) return P::failure(where + "unknown flag \"" + std::string(key) + "\" (known: " + names_list() + ")");
        const auto state = parse_state(value);
        if (!state) {
            return P::failure(where + std::string(key) + "=\"" + std::string(value) + "\": expected off, shadow or on");
        }
        bool& was_seen = seen[static_cast<std::size_t>(*flag)];
        if (was_seen) return P::failure(where + std::string(key) + " appears twice");
        was_seen = true;
        set.set(*flag, *state);
    }
    for (const Flag f : kAll) {
        if (!seen[static_cast<std::size_t>(f)]) return P::failure(std::string(name(f)) + " is missing");
    }
    return set;
}

std::string format_file(const FlagSet& set) {
    std::string out = "# levqor runtime flags, written by levqor-controld; do not edit by hand\n";
    for (const Flag f : kAll) out.append(name(f)).append("=").append(name(set.get(f))).append("\n");
    return out;
}

}  // namespace levqor::flags
