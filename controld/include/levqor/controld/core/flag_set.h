#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace levqor::controld {

// The five runtime flags of the rollout plan (design.md, "Runtime feature
// flags"), in the order the flags file and every JSON answer list them.
enum class Flag : std::size_t {
  security_headers,  // SECURITY_HEADERS_ENABLED
  ratelimit,         // RATELIMIT_ENABLED
  webhook_verify,    // WEBHOOK_VERIFY_ALL
  abuse_guards,      // ABUSE_GUARDS_ENABLED
  new_queue,         // NEW_QUEUE_ENABLED
};
inline constexpr std::size_t kFlagCount = 5;
inline constexpr std::array<Flag, kFlagCount> kAllFlags = {
    Flag::security_headers, Flag::ratelimit, Flag::webhook_verify, Flag::abuse_guards,
    Flag::new_queue};

// off: the feature does nothing; shadow: it observes and counts but never
// blocks; on: it enforces (where nginx.conf enables it).
enum class FlagState { off, shadow, on };

// "SECURITY_HEADERS_ENABLED", ...
std::string_view flag_name(Flag flag);
// Exact, case-sensitive names; nullopt for anything else.
std::optional<Flag> parse_flag_name(std::string_view name);
// "off", "shadow", "on".
std::string_view to_string(FlagState state);
// Exact lower-case values; nullopt for anything else.
std::optional<FlagState> parse_flag_state(std::string_view text);
// "SECURITY_HEADERS_ENABLED, RATELIMIT_ENABLED, ..." for messages.
std::string flag_names_list();

// The state of all five flags; every flag starts off. A plain value.
class FlagSet {
 public:
  FlagState get(Flag flag) const { return states_[static_cast<std::size_t>(flag)]; }
  void set(Flag flag, FlagState state) { states_[static_cast<std::size_t>(flag)] = state; }

  friend bool operator==(const FlagSet& a, const FlagSet& b) { return a.states_ == b.states_; }
  friend bool operator!=(const FlagSet& a, const FlagSet& b) { return !(a == b); }

 private:
  std::array<FlagState, kFlagCount> states_{};
};

// The flags file that nginx's `levqor_flags_file` reads: a comment line,
// then NAME=state for all five flags, one per line, in kAllFlags order.
std::string render_flags_file(const FlagSet& flags);

// Reads a flags file: NAME=state lines, '#' comments and blank lines; every
// flag must appear exactly once. Throws std::invalid_argument naming the
// line and what is wrong.
FlagSet parse_flags_file(std::string_view text);

// {"SECURITY_HEADERS_ENABLED":"off", ...} with all five, in order.
nlohmann::ordered_json to_json(const FlagSet& flags);

}  // namespace levqor::controld
