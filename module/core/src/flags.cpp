#include "levqor/flags.h"

namespace levqor::flags {
namespace {

constexpr std::array<std::string_view, kCount> kNames{
    "SECURITY_HEADERS_ENABLED", "RATELIMIT_ENABLED", "WEBHOOK_VERIFY_ALL", "ABUSE_GUARDS_ENABLED",
    "NEW_QUEUE_ENABLED"};

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
    return s;
}

}  // namespace

std::string_view name(Flag f) { return kNames[static_cast<std::size_t>(f)]; }

std::string_view name(State s) {
    switch (s) {
    case State::Shadow: return "shadow";
    case State::On: return "on";
    case State::Off: break;
    }
    return "off";
}

Parsed<State> parse_state(std::string_view v) {
    if (v == "off") return State::Off;
    if (v == "shadow") return State::Shadow;
    if (v == "on") return State::On;
    return Parsed<State>::failure("invalid value \"" + std::string(v) + "\", expected off, shadow or on");
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
        const auto eq = line.find('=');
        if (eq == std::string_view::npos) {
            return P::failure("line " + std::to_string(line_no) + ": expected NAME=off|shadow|on");
        }
        const std::string_view key = trim(line.substr(0, eq));
        std::size_t index = kCount;
        for (std::size_t i = 0; i < kCount; ++i) {
            if (kNames[i] == key) index = i;
        }
        if (index == kCount) return P::failure("line " + std::to_string(line_no) + ": unknown flag \"" + std::string(key) + "\"");
        if (seen[index]) return P::failure("line " + std::to_string(line_no) + ": " + std::string(key) + " given twice");
        auto state = parse_state(trim(line.substr(eq + 1)));
        if (!state) return P::failure("line " + std::to_string(line_no) + ": " + std::string(key) + ": " + state.error());
        set.states[index] = state.value();
        seen[index] = true;
    }
    for (std::size_t i = 0; i < kCount; ++i) {
        if (!seen[i]) return P::failure(std::string(kNames[i]) + " is missing");
    }
    return set;
}

std::string format_file(const FlagSet& set) {
    std::string out = "# levqor runtime flags, written by levqor-controld; do not edit by hand\n";
    for (std::size_t i = 0; i < kCount; ++i) {
        out.append(kNames[i]).append("=").append(name(set.states[i])).append("\n");
    }
    return out;
}

}  // namespace levqor::flags
