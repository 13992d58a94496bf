// SPDX-License-Identifier: Apache-2.0
// The runtime flags component: FlagStore holds the current flags, persists
// every change (the state file, then the flags file nginx reads) and
// audit-logs it; parse_flag_update() reads PUT /ops/flags bodies. Thread-safe:
// every member may be called concurrently, and changes are serialised.
#pragma once

#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "levqor/controld/core/flag_set.h"
#include "levqor/controld/core/log.h"
#include "levqor/controld/metrics/registry.h"

namespace levqor::controld::flags {

// Some or all of the five flags with their new states, as PUT /ops/flags
// sends them.
using FlagUpdate = std::vector<std::pair<Flag, FlagState>>;

// A PUT body that cannot be applied. code is the API error code
// (invalid_json, unknown_flag, invalid_flag_value); what() is the message.
class FlagUpdateError : public std::invalid_argument {
public:
    FlagUpdateError(std::string code, const std::string& message)
        : std::invalid_argument(message), code_(std::move(code)) {}
    const std::string& code() const { return code_; }

private:
    std::string code_;
};

// Parses {"RATELIMIT_ENABLED":"shadow", ...}: a JSON object whose keys are
// flag names and whose values are "off", "shadow" or "on". Every problem is
// found before anything is applied. Throws FlagUpdateError.
FlagUpdate parse_flag_update(std::string_view body);

// Who asked for a change, for the audit line.
struct Actor {
    std::string role;    // "admin"
    std::string remote;  // client address
};

struct FlagChange {
    Flag flag;
    FlagState from;
    FlagState to;
};

struct ApplyResult {
    FlagSet flags;                    // the whole new set
    std::vector<FlagChange> changes;  // what differs from before
};

// The runtime flags, the file nginx reads them from (levqor_flags_file) and
// the state file that makes them survive restarts and crashes
// (<data_dir>/flags.state, same format, never read by nginx).
//
// The configured flags (config file and environment) apply on the first
// start only, and through reset(). From then on the state file is the truth:
// every apply() writes it, then the flags file, so whatever nginx has seen
// was persisted first, and a controld killed between the two writes
// restores the newer set at its next start. Both files are always the whole
// set, replaced atomically (temporary file in the same directory, fsync,
// rename, directory fsync); the flags file gets mode 0644 (nginx's workers
// read it), the state file 0600. A new state is visible through current()
// only once both are written: if a write fails, nothing changes (the state
// file is put back) and the caller gets the FileError. Every apply() and
// reset() is logged as an audit line: {"msg":"flags changed","audit":true,
// "role":...,"remote":...,"changes":{"RATELIMIT_ENABLED":"off -> shadow"}}.
//
// Thread-safety: every member may be called concurrently; apply() and
// reset() calls are serialised, so both files always hold the last applied
// set.
class FlagStore {
public:
    FlagStore(std::string flags_path, std::string state_path, FlagSet configured, const Logger& log,
              metrics::Registry& registry);

    // At start: takes the persisted set from the state file if there is one
    // (a warning names every flag whose configured value differs), else the
    // configured set, then writes both files so that nginx sees controld's
    // view from the start. Does nothing once apply() has run (a PUT that raced
    // the start wins). Throws FileError, also for a state file that cannot be
    // read or parsed (fix or remove it: it is never silently replaced by the
    // configured flags).
    void write_initial();

    FlagSet current() const;
    FlagSet configured() const;
    const std::string& path() const { return path_; }
    const std::string& state_path() const { return state_path_; }

    // SIGHUP: the configured flags reset() applies from now on; the runtime
    // flags do not change.
    void set_configured(FlagSet configured);

    // Applies an update (all of it or nothing) and persists it. Throws FileError.
    ApplyResult apply(const FlagUpdate& update, const Actor& actor);

    // Applies and persists the configured flags (POST /ops/flags/reset).
    // Throws FileError.
    ApplyResult reset(const Actor& actor);

private:
    ApplyResult apply_locked(const FlagSet& next, const Actor& actor, const char* changed, const char* unchanged);
    void persist_locked(const FlagSet& next);

    const std::string path_;
    const std::string state_path_;
    const Logger& log_;
    metrics::Family<metrics::Counter>& changes_;
    mutable std::mutex mutex_;
    FlagSet current_;
    FlagSet configured_;
    bool applied_ = false;
};

}  // namespace levqor::controld::flags
