#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>

#include "levqor/controld/core/listen_address.h"
#include "levqor/controld/core/log.h"

namespace levqor::controld {

// Everything levqor-controld is told at start-up. Defaults make the daemon
// run with no file and no environment at all (design.md, "controld
// configuration"). A plain value: copy it, don't share it.
struct Config {
  ListenAddress listen{"127.0.0.1", 8089};  // LEVQOR_LISTEN
  LogLevel log_level = LogLevel::info;      // LEVQOR_LOG_LEVEL
  // How long a SIGTERM/SIGINT waits for in-flight requests before the
  // daemon exits anyway. Kept under the 2 s that supervisors and tests allow.
  std::chrono::milliseconds shutdown_grace{1500};
  std::optional<std::string> config_file;  // --config, if given
};

// A configuration value that cannot be used. what() names the setting, the
// value and what would be accepted; the daemon prints it and exits 2.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Looks up an environment variable; nullopt when it is not set.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;
EnvLookup process_environment();

// Builds the configuration: defaults, then the file, then the environment
// (the environment wins). Throws ConfigError.
//
// The config file format is defined by a later issue. Until then the file
// must exist and be readable (a typo in --config should not silently start a
// daemon on defaults) but its contents are not interpreted; the daemon logs a
// warning saying so.
Config load_config(const std::optional<std::string>& config_file, const EnvLookup& env);

}  // namespace levqor::controld
