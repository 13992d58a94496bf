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

// The runtime flags and the file nginx reads them from (levqor_flags_file).
//
// The file is always the whole set, replaced atomically (temporary file in
// the same directory, fsync, rename; mode 0644), and written before the new
// state is visible through current(): if the write fails, nothing changes
// and the caller gets the FileError. Every apply() is logged as an audit
// line: {"msg":"flags changed","audit":true,"role":...,"remote":...,
// "changes":{"RATELIMIT_ENABLED":"off -> shadow"}}.
//
// Thread-safety: every member may be called concurrently; apply() calls are
// serialised, so the file always holds the last applied set.
class FlagStore {
 public:
  FlagStore(std::string path, FlagSet initial, const Logger& log, metrics::Registry& registry);

  // Writes the starting set, so nginx sees controld's view from the start;
  // does nothing once apply() has run (a PUT that raced the start wins).
  // Throws FileError.
  void write_initial();

  FlagSet current() const;
  const std::string& path() const { return path_; }

  // Applies an update (all of it or nothing). Throws FileError.
  ApplyResult apply(const FlagUpdate& update, const Actor& actor);

 private:
  const std::string path_;
  const Logger& log_;
  metrics::Family<metrics::Counter>& changes_;
  mutable std::mutex mutex_;
  FlagSet current_;
  bool applied_ = false;
};

}  // namespace levqor::controld::flags
