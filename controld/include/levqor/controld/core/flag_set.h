// SPDX-License-Identifier: Apache-2.0
// controld's view of the five runtime flags and of the flags file format, both
// shared with the nginx module (module/core, levqor/flags.h): aliases and thin
// wrappers, so that the writer and the reader of the file are one
// implementation, plus the JSON form the API answers. Pure functions,
// thread-safe.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "levqor/flags.h"

namespace levqor::controld {

// The flags and their file format are shared with the nginx module
// (module/core, levqor/flags.h): one implementation for the writer and the
// reader of the flags file.
using Flag = levqor::flags::Flag;
using FlagState = levqor::flags::State;
using FlagSet = levqor::flags::FlagSet;
inline constexpr std::size_t kFlagCount = levqor::flags::kCount;
inline constexpr auto kAllFlags = levqor::flags::kAll;

// "SECURITY_HEADERS_ENABLED", ...
inline std::string_view flag_name(Flag flag) { return levqor::flags::name(flag); }
// Exact, case-sensitive names; nullopt for anything else.
inline std::optional<Flag> parse_flag_name(std::string_view name) { return levqor::flags::parse_name(name); }
// "off", "shadow", "on".
inline std::string_view to_string(FlagState state) { return levqor::flags::name(state); }
// Exact lower-case values; nullopt for anything else.
inline std::optional<FlagState> parse_flag_state(std::string_view text) { return levqor::flags::parse_state(text); }
// "SECURITY_HEADERS_ENABLED, RATELIMIT_ENABLED, ..." for messages.
inline std::string flag_names_list() { return levqor::flags::names_list(); }

// The flags file that nginx's `levqor_flags_file` reads.
inline std::string render_flags_file(const FlagSet& flags) { return levqor::flags::format_file(flags); }

// Reads a flags file. Throws std::invalid_argument naming the line and what
// is wrong.
FlagSet parse_flags_file(std::string_view text);

// {"SECURITY_HEADERS_ENABLED":"off", ...} with all five, in order.
nlohmann::ordered_json to_json(const FlagSet& flags);

}  // namespace levqor::controld
