// Runtime feature flags: the five flags of the rollout plan, each off,
// shadow or on, as levqor-controld writes them to the flags file:
//
//   # comment
//   SECURITY_HEADERS_ENABLED=on
//   RATELIMIT_ENABLED=shadow
//   ...
//
// Pure parsing and values; thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "levqor/parsed.h"

namespace levqor::flags {

enum class Flag : std::uint8_t {
    SecurityHeaders,
    RateLimit,
    WebhookVerifyAll,
    AbuseGuards,
    NewQueue,
};
inline constexpr std::size_t kCount = 5;

enum class State : std::uint8_t { Off, Shadow, On };

std::string_view name(Flag f);
std::string_view name(State s);
Parsed<State> parse_state(std::string_view v);

struct FlagSet {
    std::array<State, kCount> states{State::Off, State::Off, State::Off, State::Off, State::Off};
    State get(Flag f) const { return states[static_cast<std::size_t>(f)]; }
    void set(Flag f, State s) { states[static_cast<std::size_t>(f)] = s; }
    bool operator==(const FlagSet& o) const { return states == o.states; }
};

// Parses a flags file. Every one of the five flags must be present once;
// unknown names, bad values and malformed lines are errors (the caller keeps
// its previous flags then). Blank lines and '#' comments are ignored.
Parsed<FlagSet> parse_file(std::string_view text);

// The file as controld writes it.
std::string format_file(const FlagSet& set);

}  // namespace levqor::flags
