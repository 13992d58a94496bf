#include "levqor/controld/flags/flag_store.h"

#include <nlohmann/json.hpp>

#include "levqor/controld/core/files.h"
#include "levqor/controld/core/json.h"

namespace levqor::controld::flags {
namespace {

// Five flags fit in a few hundred bytes.
constexpr std::size_t kMaxFlagUpdateBytes = 64 * 1024;

// A refused value for the message: short scalars as JSON, the rest by kind
// (an object or array is never written out: it could be large).
std::string describe_value(const nlohmann::json& value) {
  if (value.is_object()) return "an object";
  if (value.is_array()) return "an array";
  auto text = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (text.size() > 64) text = text.substr(0, 60) + "...";
  return text;
}

}  // namespace

FlagUpdate parse_flag_update(std::string_view body) {
  nlohmann::json json;
  try {
    json = parse_json(body, JsonLimits{kMaxFlagUpdateBytes});
  } catch (const JsonError& e) {
    throw FlagUpdateError("invalid_json",
                          (e.kind() == JsonError::Kind::syntax
                               ? std::string("the body is not valid JSON")
                               : std::string("the body is refused: ") + e.what()) +
                              "; send an object such as {\"RATELIMIT_ENABLED\":\"shadow\"}");
  }
  if (!json.is_object()) {
    throw FlagUpdateError("invalid_json", "the body must be a JSON object such as "
                                          "{\"RATELIMIT_ENABLED\":\"shadow\"}");
  }
  FlagUpdate update;
  for (const auto& [name, value] : json.items()) {
    const auto flag = parse_flag_name(name);
    if (!flag) {
      throw FlagUpdateError("unknown_flag", "unknown flag \"" + name + "\"; the flags are " +
                                                flag_names_list());
    }
    const auto state = value.is_string() ? parse_flag_state(value.get<std::string>())
                                         : std::nullopt;
    if (!state) {
      throw FlagUpdateError("invalid_flag_value",
                            name + ": " + describe_value(value) +
                                " is not a flag state; use \"off\", \"shadow\" or \"on\"");
    }
    update.emplace_back(*flag, *state);
  }
  return update;
}

FlagStore::FlagStore(std::string path, FlagSet initial, const Logger& log,
                     metrics::Registry& registry)
    : path_(std::move(path)),
      log_(log),
      changes_(registry.counter("levqor_flag_changes_total",
                                "Runtime flag changes made through PUT /ops/flags, by flag.",
                                {"flag"})),
      current_(initial) {
  for (Flag flag : kAllFlags) changes_.labels({std::string(flag_name(flag))});
  registry.add_collector([this](std::vector<metrics::MetricFamily>& out) {
    const FlagSet flags = current();
    metrics::MetricFamily family{
        "levqor_controld_flag_state",
        "The runtime flags as controld last wrote them: 1 for the current state of each flag.",
        metrics::MetricType::gauge,
        {}};
    for (Flag flag : kAllFlags) {
      for (FlagState state : {FlagState::off, FlagState::shadow, FlagState::on}) {
        family.samples.push_back(metrics::Sample{
            family.name,
            {{"flag", std::string(flag_name(flag))}, {"state", std::string(to_string(state))}},
            flags.get(flag) == state ? "1" : "0",
            {}});
      }
    }
    out.push_back(std::move(family));
  });
}

void FlagStore::write_initial() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (applied_) return;
  write_file_atomically(path_, render_flags_file(current_), 0644);
  log_.info("flags file written", {{"flags_file", path_}, {"flags", to_json(current_)}});
}

FlagSet FlagStore::current() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return current_;
}

ApplyResult FlagStore::apply(const FlagUpdate& update, const Actor& actor) {
  std::lock_guard<std::mutex> lock(mutex_);
  FlagSet next = current_;
  for (const auto& [flag, state] : update) next.set(flag, state);
  // Rewritten even when nothing changes: the file is then known to hold
  // the current set (e.g. after someone removed it).
  write_file_atomically(path_, render_flags_file(next), 0644);

  std::vector<FlagChange> changes;
  Logger::Fields described = Logger::Fields::object();
  for (Flag flag : kAllFlags) {
    if (current_.get(flag) == next.get(flag)) continue;
    changes.push_back(FlagChange{flag, current_.get(flag), next.get(flag)});
    described[std::string(flag_name(flag))] = std::string(to_string(current_.get(flag))) + " -> " +
                                              std::string(to_string(next.get(flag)));
    changes_.labels({std::string(flag_name(flag))}).inc();
  }
  current_ = next;
  applied_ = true;
  log_.info(changes.empty() ? "flags unchanged" : "flags changed",
            {{"audit", true},
             {"role", actor.role},
             {"remote", actor.remote},
             {"changes", described},
             {"flags_file", path_}});
  return ApplyResult{next, std::move(changes)};
}

}  // namespace levqor::controld::flags
