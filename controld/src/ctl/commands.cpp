#include "levqor/controld/ctl/commands.h"

#include <iomanip>
#include <sstream>

#include "levqor/controld/core/flag_set.h"

namespace levqor::controld::ctl {
namespace {

CommandResult failure(const std::string& message) {
  return CommandResult{kExitFailure, "", "levqorctl: " + message + "\n"};
}

std::string pretty(const nlohmann::json& value) { return value.dump(2) + "\n"; }

std::string state_of(const nlohmann::json& flags, const std::string& name) {
  return flags.is_object() && flags.contains(name) && flags[name].is_string()
             ? flags[name].get<std::string>()
             : "?";
}

std::string health_lines(const nlohmann::json& health, const std::string& url) {
  std::ostringstream out;
  out << std::left;
  out << std::setw(10) << "controld" << url << "  " << health.value("status", "?") << "  (version "
      << health.value("version", "?") << ", up " << health.value("uptime_s", 0) << " s)\n";
  const auto checks = health.value("checks", nlohmann::json::object());
  const auto errors = health.value("errors", nlohmann::json::object());
  const auto nginx = checks.value("nginx", nlohmann::json::object());
  if (nginx.empty()) out << std::setw(10) << "nginx" << "no instances configured\n";
  for (const auto& [name, entry] : nginx.items()) {
    out << std::setw(10) << "nginx" << std::setw(20) << name << std::setw(6)
        << entry.value("status", "?") << entry.value("url", "");
    if (entry.contains("error")) out << "  (" << entry.value("error", "") << ")";
    out << "\n";
  }
  for (const char* backend : {"redis", "postgres"}) {
    out << std::setw(10) << backend << checks.value(backend, "?");
    if (errors.contains(backend)) out << "  (" << errors.value(backend, "") << ")";
    out << "\n";
  }
  return out.str();
}

}  // namespace

std::string flags_table(const nlohmann::json& flags) {
  std::ostringstream out;
  out << std::left << std::setw(26) << "FLAG" << "STATE\n";
  for (Flag flag : kAllFlags) {
    const std::string name(flag_name(flag));
    out << std::setw(26) << name << state_of(flags, name) << "\n";
  }
  return out.str();
}

CommandResult run_health(const ApiClient& client) {
  const auto health = client.get("/healthz");
  CommandResult result;
  result.out = health.body;
  if (!result.out.empty() && result.out.back() != '\n') result.out += '\n';
  if (health.error) {
    result.exit_code = kExitFailure;
    result.err = "levqorctl: " + *health.error + "\n";
  } else if (health.json.value("status", "") != "ok") {
    result.exit_code = kExitFailure;
    result.err = "levqorctl: GET " + client.base().url_for("/healthz") + ": status is \"" +
                 health.json.value("status", "") + "\", not \"ok\"\n";
  }
  return result;
}

CommandResult run_status(const ApiClient& client, bool json) {
  const auto health = client.get("/healthz");
  if (health.error) return failure(*health.error);
  const auto flags = client.get("/ops/flags");
  if (json) {
    nlohmann::json both = {{"health", health.json}, {"flags", flags.error ? nullptr : flags.json}};
    CommandResult result{flags.error ? kExitFailure : kExitOk, pretty(both), ""};
    if (flags.error) result.err = "levqorctl: " + *flags.error + "\n";
    return result;
  }
  CommandResult result{kExitOk, health_lines(health.json, client.base().url_for("")) + "\n", ""};
  if (flags.error) {
    result.exit_code = kExitFailure;
    result.err = "levqorctl: " + *flags.error + "\n";
    return result;
  }
  result.out += flags_table(flags.json);
  return result;
}

CommandResult run_flags_get(const ApiClient& client, bool json) {
  const auto flags = client.get("/ops/flags");
  if (flags.error) return failure(*flags.error);
  return CommandResult{kExitOk, json ? pretty(flags.json) : flags_table(flags.json), ""};
}

CommandResult run_flags_set(const ApiClient& client, const std::string& name,
                            const std::string& value, bool json) {
  if (!parse_flag_name(name)) {
    return CommandResult{kExitUsage, "",
                         "levqorctl: unknown flag \"" + name + "\"; the flags are " +
                             flag_names_list() + "\n"};
  }
  if (!parse_flag_state(value)) {
    return CommandResult{
        kExitUsage, "",
        "levqorctl: \"" + value + "\" is not a flag state; use off, shadow or on\n"};
  }
  const auto flags = client.put("/ops/flags", {{name, value}});
  if (flags.error) return failure(*flags.error);
  return CommandResult{kExitOk, json ? pretty(flags.json) : flags_table(flags.json), ""};
}

CommandResult run_rollback(const ApiClient& client, bool json) {
  // What was on, for the message; the rollback itself does not depend on it.
  const auto before = client.get("/ops/flags");
  nlohmann::json all_off = nlohmann::json::object();
  for (Flag flag : kAllFlags) all_off[std::string(flag_name(flag))] = "off";
  const auto after = client.put("/ops/flags", all_off);
  if (after.error) return failure("rollback failed: " + *after.error);
  if (json) return CommandResult{kExitOk, pretty(after.json), ""};

  std::string changed;
  if (!before.error) {
    for (Flag flag : kAllFlags) {
      const std::string name(flag_name(flag));
      const auto was = state_of(before.json, name);
      if (was != "off") changed += (changed.empty() ? "" : ", ") + name + " " + was + " -> off";
    }
  }
  std::string out = "rollback: every flag is off";
  if (before.error) {
    out += "\n";
  } else {
    out += changed.empty() ? " (it already was)\n" : " (" + changed + ")\n";
  }
  return CommandResult{kExitOk, out + flags_table(after.json), ""};
}

}  // namespace levqor::controld::ctl
