#include "levqor/controld/core/flag_set.h"

#include <stdexcept>

#include "levqor/controld/core/text.h"

namespace levqor::controld {
namespace {

constexpr std::array<std::string_view, kFlagCount> kNames = {
    "SECURITY_HEADERS_ENABLED", "RATELIMIT_ENABLED", "WEBHOOK_VERIFY_ALL",
    "ABUSE_GUARDS_ENABLED", "NEW_QUEUE_ENABLED"};

[[noreturn]] void fail_line(std::size_t line, const std::string& why) {
  throw std::invalid_argument("line " + std::to_string(line) + ": " + why);
}

}  // namespace

std::string_view flag_name(Flag flag) { return kNames[static_cast<std::size_t>(flag)]; }

std::optional<Flag> parse_flag_name(std::string_view name) {
  for (Flag flag : kAllFlags) {
    if (flag_name(flag) == name) return flag;
  }
  return std::nullopt;
}

std::string_view to_string(FlagState state) {
  switch (state) {
    case FlagState::off: return "off";
    case FlagState::shadow: return "shadow";
    case FlagState::on: return "on";
  }
  return "off";
}

std::optional<FlagState> parse_flag_state(std::string_view text) {
  if (text == "off") return FlagState::off;
  if (text == "shadow") return FlagState::shadow;
  if (text == "on") return FlagState::on;
  return std::nullopt;
}

std::string flag_names_list() {
  std::string out;
  for (Flag flag : kAllFlags) {
    if (!out.empty()) out += ", ";
    out += flag_name(flag);
  }
  return out;
}

std::string render_flags_file(const FlagSet& flags) {
  std::string out = "# levqor runtime flags, written by levqor-controld; do not edit by hand\n";
  for (Flag flag : kAllFlags) {
    out += flag_name(flag);
    out += '=';
    out += to_string(flags.get(flag));
    out += '\n';
  }
  return out;
}

FlagSet parse_flags_file(std::string_view text) {
  FlagSet flags;
  std::array<bool, kFlagCount> seen{};
  for_each_content_line(text, [&](std::size_t line_no, std::string_view line) {
    const auto eq = line.find('=');
    if (eq == std::string_view::npos) fail_line(line_no, "expected NAME=off|shadow|on");
    const auto name = trim(line.substr(0, eq));
    const auto value = trim(line.substr(eq + 1));
    const auto flag = parse_flag_name(name);
    if (!flag) {
      fail_line(line_no, "unknown flag \"" + std::string(name) + "\" (known: " +
                             flag_names_list() + ")");
    }
    const auto state = parse_flag_state(value);
    if (!state) {
      fail_line(line_no, std::string(name) + "=\"" + std::string(value) +
                             "\": expected off, shadow or on");
    }
    auto& was_seen = seen[static_cast<std::size_t>(*flag)];
    if (was_seen) fail_line(line_no, std::string(name) + " appears twice");
    was_seen = true;
    flags.set(*flag, *state);
  });
  for (Flag flag : kAllFlags) {
    if (!seen[static_cast<std::size_t>(flag)]) {
      throw std::invalid_argument(std::string(flag_name(flag)) + " is missing");
    }
  }
  return flags;
}

nlohmann::ordered_json to_json(const FlagSet& flags) {
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  for (Flag flag : kAllFlags) out[std::string(flag_name(flag))] = to_string(flags.get(flag));
  return out;
}

}  // namespace levqor::controld
