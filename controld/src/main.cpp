// levqor-controld: the levqor ops daemon.
//
//   levqor-controld [--config FILE]
//
// Settings come from defaults, then FILE, then the environment
// (LEVQOR_LISTEN, LEVQOR_LOG_LEVEL; see core/config.h). The FILE format is
// defined by a later issue: for now FILE must exist and is not read. Logs are
// JSON lines on stderr.
//
// Exit status: 0 after a clean stop (SIGTERM or SIGINT), 1 when the daemon
// cannot run (e.g. the listen address is in use), 2 for a usage or
// configuration error.
//
// Shutdown: the first SIGTERM/SIGINT stops accepting connections and lets
// requests in flight finish; after Config::shutdown_grace (1.5 s) the daemon
// exits 0 anyway. A second signal exits 1 at once. Idle keep-alive
// connections hold the stop up to HttpServer::Options::keep_alive_timeout (1 s).
#include <chrono>
#include <cstdlib>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "levqor/controld/app.h"
#include "levqor/controld/core/config.h"
#include "levqor/controld/core/log.h"
#include "levqor/controld/core/signals.h"
#include "levqor/controld/version.h"

namespace {

using namespace levqor::controld;
using std::chrono::milliseconds;

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

// Waits for a stop signal; returns it, or 0 if the server stopped by itself.
int wait_for_stop_signal(const BlockedSignals& signals, const App& app) {
  for (;;) {
    if (int signo = signals.wait_for(milliseconds(250))) return signo;
    if (app.stopped()) return 0;
  }
}

int shut_down(const BlockedSignals& signals, App& app, const Config& config,
              const Logger& log) {
  app.stop();
  const auto deadline = std::chrono::steady_clock::now() + config.shutdown_grace;
  while (!app.wait_stopped(milliseconds(20))) {
    if (int again = signals.wait_for(milliseconds(0))) {
      log.warn("second signal; exiting without waiting for requests in flight",
               {{"signal", signal_name(again)}});
      std::_Exit(kExitFailure);
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      log.warn("requests still in flight after the shutdown grace period; exiting",
               {{"grace_ms", config.shutdown_grace.count()}});
      // The serving thread is still busy and cannot be joined; leave without
      // running destructors.
      std::_Exit(kExitOk);
    }
  }
  log.info("stopped");
  return kExitOk;
}

int run(const BlockedSignals& signals, const std::optional<std::string>& config_file) {
  Config config;
  try {
    config = load_config(config_file, process_environment());
  } catch (const ConfigError& e) {
    Logger().error("invalid configuration", {{"error", e.what()}});
    return kExitUsage;
  }

  const Logger log(config.log_level);
  if (config.config_file) {
    log.warn("config file accepted but not read: its format is not defined yet; "
             "use the environment variables",
             {{"file", *config.config_file}});
  }

  App app(config, log);
  try {
    const auto bound = app.start();
    log.info("listening", {{"addr", bound.to_string()}, {"version", kVersion}});
  } catch (const api::ListenError& e) {
    log.error("cannot start", {{"error", e.what()}});
    return kExitFailure;
  }

  const int signo = wait_for_stop_signal(signals, app);
  if (signo == 0) {
    log.error("HTTP server stopped unexpectedly");
    return kExitFailure;
  }
  log.info("shutting down", {{"signal", signal_name(signo)}});
  return shut_down(signals, app, config, log);
}

}  // namespace

int main(int argc, char** argv) {
  // Before anything can start a thread: every thread inherits this mask, so
  // the stop signals reach only the sigtimedwait() calls in run().
  const BlockedSignals stop_signals{SIGTERM, SIGINT};

  CLI::App cli{"levqor-controld " + std::string(kVersion) +
               ": the levqor ops daemon.\n"
               "Environment: LEVQOR_LISTEN (host:port, default 127.0.0.1:8089; "
               "port 0 picks a free port), LEVQOR_LOG_LEVEL (debug|info|warn|error)."};
  std::optional<std::string> config_file;
  cli.add_option("--config", config_file,
                 "configuration file; must exist (its format is not defined yet, "
                 "so its contents are not read)")
      ->type_name("FILE");
  cli.set_version_flag("--version", std::string(kVersion));
  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return cli.exit(e) == 0 ? kExitOk : kExitUsage;
  }

  try {
    return run(stop_signals, config_file);
  } catch (const std::exception& e) {
    Logger().error("fatal error", {{"error", e.what()}});
    return kExitFailure;
  }
}
