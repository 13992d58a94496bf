// SPDX-License-Identifier: Apache-2.0
// Runtime feature flags: the five flags of the rollout plan, each off,
// shadow or on, and the flags file that levqor-controld writes and the
// module's levqor_flags_file reads — one implementation for both sides:
//
//   # comment
//   SECURITY_HEADERS_ENABLED=on
//   RATELIMIT_ENABLED=shadow
//   ...
//
// Pure parsing and values; thread-safe.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "levqor/parsed.h"

namespace levqor::flags {

// In the order the flags file and every JSON answer list them.
enum class Flag : std::size_t {
    security_headers,  // SECURITY_HEADERS_ENABLED
    ratelimit,         // RATELIMIT_ENABLED
    webhook_verify,    // WEBHOOK_VERIFY_ALL
    abuse_guards,      // ABUSE_GUARDS_ENABLED
    new_queue,         // NEW_QUEUE_ENABLED
};
inline constexpr std::size_t kCount = 5;
inline constexpr std::array<Flag, kCount> kAll = {Flag::security_headers, Flag::ratelimit, Flag::webhook_verify,
                                                  Flag::abuse_guards, Flag::new_queue};

// off: the feature does nothing; shadow: it observes and counts but never
// blocks; on: it enforces (where nginx.conf enables it).
enum class State : std::uint8_t { off, shadow, on };

std::string_view name(Flag f);
std::string_view name(State s);
// Exact, case-sensitive names and lower-case values; nullopt for anything else.
std::optional<Flag> parse_name(std::string_view text);
std::optional<State> parse_state(std::string_view text);
// "SECURITY_HEADERS_ENABLED, RATELIMIT_ENABLED, ..." for messages.
std::string names_list();

// The state of all five flags; every flag starts off. A plain value.
struct FlagSet {
    std::array<State, kCount> states{};
    State get(Flag f) const { return states[static_cast<std::size_t>(f)]; }
    void set(Flag f, State s) { states[static_cast<std::size_t>(f)] = s; }
    friend bool operator==(const FlagSet& a, const FlagSet& b) { return a.states == b.states; }
    friend bool operator!=(const FlagSet& a, const FlagSet& b) { return !(a == b); }
};

// Parses a flags file: NAME=state lines, '#' comments and blank lines; every
// flag exactly once. Errors name the line and what is wrong.
Parsed<FlagSet> parse_file(std::string_view text);

// The file as controld writes it: a comment line, then all five flags.
std::string format_file(const FlagSet& set);

}  // namespace levqor::flags
