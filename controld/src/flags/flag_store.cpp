// SPDX-License-Identifier: Apache-2.0
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
                              (e.kind() == JsonError::Kind::syntax ? std::string("the body is not valid JSON")
                                                                   : std::string("the body is refused: ") + e.what()) +
                                  "; send an object such as {\"RATELIMIT_ENABLED\":\"shadow\"}");
    }
    if (!json.is_object()) {
        throw FlagUpdateError("invalid_json",
                              "the body must be a JSON object such as "
                              "{\"RATELIMIT_ENABLED\":\"shadow\"}");
    }
    FlagUpdate update;
    for (const auto& [name, value] : json.items()) {
        const auto flag = parse_flag_name(name);
        if (!flag) {
            throw FlagUpdateError("unknown_flag", "unknown flag \"" + name + "\"; the flags are " + flag_names_list());
        }
        const auto state = value.is_string() ? parse_flag_state(value.get<std::string>()) : std::nullopt;
        if (!state) {
            throw FlagUpdateError("invalid_flag_value", name + ": " + describe_value(value) +
                                                            " is not a flag state; use \"off\", \"shadow\" or \"on\"");
        }
        update.emplace_back(*flag, *state);
    }
    return update;
}

FlagStore::FlagStore(std::string flags_path, std::string state_path, FlagSet configured, const Logger& log,
                     metrics::Registry& registry)
    : path_(std::move(flags_path)),
      state_path_(std::move(state_path)),
      log_(log),
      changes_(registry.counter("levqor_flag_changes_total",
                                "Runtime flag changes made through PUT /ops/flags or "
                                "POST /ops/flags/reset, by flag.",
                                {"flag"})),
      current_(configured),
      configured_(configured) {
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
                family.samples.push_back(
                    metrics::Sample{family.name,
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
    const auto text = read_file_if_exists(state_path_);
    FlagSet start = configured_;
    if (text) {
        try {
            start = parse_flags_file(*text);
        } catch (const std::invalid_argument& e) {
            throw FileError("cannot use the flags state file " + state_path_ + ": " + e.what() +
                            "; fix it, or remove it to start from the configured flags");
        }
        for (Flag flag : kAllFlags) {
            if (start.get(flag) == configured_.get(flag)) continue;
            log_.warn(
                "a runtime flag differs from the configuration; the persisted state applies "
                "(levqorctl flags reset applies the configured flags)",
                {{"flag", std::string(flag_name(flag))},
                 {"persisted", std::string(to_string(start.get(flag)))},
                 {"configured", std::string(to_string(configured_.get(flag)))},
                 {"state_file", state_path_}});
        }
    }
    persist_locked(start);
    current_ = start;
    log_.info(text ? "flags restored from the state file" : "flags set from the configuration",
              {{"flags_file", path_},
               {"state_file", state_path_},
               {"flags", to_json(current_)},
               {"configured", to_json(configured_)}});
}

FlagSet FlagStore::current() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return current_;
}

FlagSet FlagStore::configured() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return configured_;
}

void FlagStore::set_configured(FlagSet configured) {
    std::lock_guard<std::mutex> lock(mutex_);
    configured_ = configured;
}

ApplyResult FlagStore::apply(const FlagUpdate& update, const Actor& actor) {
    std::lock_guard<std::mutex> lock(mutex_);
    FlagSet next = current_;
    for (const auto& [flag, state] : update) next.set(flag, state);
    return apply_locked(next, actor, "flags changed", "flags unchanged");
}

ApplyResult FlagStore::reset(const Actor& actor) {
    std::lock_guard<std::mutex> lock(mutex_);
    return apply_locked(configured_, actor, "flags reset to the configured values",
                        "flags reset to the configured values (they were already)");
}

void FlagStore::persist_locked(const FlagSet& next) {
    // The state first: what nginx may see is always persisted. If the flags
    // file cannot be written, the state file gets the running set back.
    write_file_atomically(state_path_, render_flags_file(next), 0600);
    try {
        write_file_atomically(path_, render_flags_file(next), 0644);
    } catch (const FileError&) {
        try {
            write_file_atomically(state_path_, render_flags_file(current_), 0600);
        } catch (const FileError& e) {
            log_.error(
                "cannot put the flags state file back after a failed write of the flags file; "
                "the next start will apply the refused set",
                {{"state_file", state_path_}, {"error", e.what()}});
        }
        throw;
    }
}

ApplyResult FlagStore::apply_locked(const FlagSet& next, const Actor& actor, const char* changed,
                                    const char* unchanged) {
    // Written even when nothing changes: the files are then known to hold the
    // current set (e.g. after someone removed the flags file).
    persist_locked(next);

    std::vector<FlagChange> changes;
    Logger::Fields described = Logger::Fields::object();
    for (Flag flag : kAllFlags) {
        if (current_.get(flag) == next.get(flag)) continue;
        changes.push_back(FlagChange{flag, current_.get(flag), next.get(flag)});
        described[std::string(flag_name(flag))] =
            std::string(to_string(current_.get(flag))) + " -> " + std::string(to_string(next.get(flag)));
        changes_.labels({std::string(flag_name(flag))}).inc();
    }
    current_ = next;
    applied_ = true;
    log_.info(changes.empty() ? unchanged : changed, {{"audit", true},
                                                      {"role", actor.role},
                                                      {"remote", actor.remote},
                                                      {"changes", described},
                                                      {"flags_file", path_},
                                                      {"state_file", state_path_}});
    return ApplyResult{next, std::move(changes)};
}

}  // namespace levqor::controld::flags
