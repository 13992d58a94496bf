// SPDX-License-Identifier: Apache-2.0
// levqor-controld: the levqor ops daemon.
//
//   levqor-controld [--config FILE]
//   levqor-controld --check-config [--config FILE]
//   levqor-controld --version
//
// Settings come from defaults, then FILE (JSON, docs/controld.md), then the
// environment (LEVQOR_LISTEN, LEVQOR_DATA_DIR, ..., the five flags). Logs
// are JSON lines on stderr.
//
// --check-config loads the configuration as a start would and checks the
// files a start reads (check_config.h), binds nothing and starts no thread;
// it prints the effective settings as JSON (secrets masked) and exits 0, or
// prints "<key>: <reason>" on stderr and exits 2.
//
// Exit status: 0 after a clean stop (SIGTERM or SIGINT), 1 when the daemon
// cannot run (the listen address is in use, the data directory or flags
// file cannot be written), 2 for a usage or configuration error (the
// message names the setting and the value).
//
// SIGHUP re-reads FILE, the environment and the token files (App::reload).
//
// Shutdown: the first SIGTERM/SIGINT stops accepting connections and the
// queue's workers from fetching, and lets requests and jobs in flight finish;
// after the longer of Config::shutdown_grace (1.5 s) and
// queue.shutdown_grace_ms (default 5 s) the daemon exits 0 anyway (unfinished
// jobs are delivered again after their visibility timeout). A second signal
// exits 1 at once. Idle keep-alive connections are closed at once. Queued
// error events then get up to 1 s more (kErrorFlush) to be delivered: with the
// defaults a stop takes at most about 6 s (shutdown_budget(), printed by
// --check-config as shutdown.budget_ms; the systemd unit's TimeoutStopSec is
// longer).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <csignal>
#include <cstdlib>
#include <optional>
#include <string>

#include <unistd.h>

#include <CLI/CLI.hpp>

#include "levqor/controld/app.h"
#include "levqor/controld/check_config.h"
#include "levqor/controld/config.h"
#include "levqor/controld/core/files.h"
#include "levqor/controld/core/log.h"
#include "levqor/controld/core/sd_notify.h"
#include "levqor/controld/core/signals.h"
#include "levqor/controld/net/http_client.h"
#include "levqor/build_info.h"
#include "levqor/controld/version.h"

namespace {

using namespace levqor::controld;
using std::chrono::milliseconds;

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

void reload(App& app, Logger& log, const std::optional<std::string>& config_file) {
    log.info("reloading", {{"signal", "SIGHUP"}});
    Config next;
    try {
        next = load_config(config_file, process_environment());
    } catch (const ConfigError& e) {
        app.reload_failed(e.what());
        return;
    }
    log.set_min_level(next.log_level);
    app.reload(next);
}

// Serves until a stop signal; returns it, or 0 if the server stopped by itself.
// Under systemd (Type=notify) this loop also sends RELOADING=1 / READY=1
// around a SIGHUP and, with WatchdogSec=, WATCHDOG=1 every half interval:
// only from here, and only while the HTTP server runs, so the pings stop when
// this loop (signals, reload, stop) hangs or the server thread has ended.
int serve(const BlockedSignals& signals, App& app, Logger& log, const std::optional<std::string>& config_file,
          const Notifier& notifier, const std::string& status) {
    using Clock = std::chrono::steady_clock;
    std::optional<WatchdogClock> watchdog;
    auto tick = milliseconds(250);
    if (const auto interval = notifier.watchdog()) {
        watchdog.emplace(*interval, Clock::now());
        tick = std::clamp(std::chrono::duration_cast<milliseconds>(watchdog->period()), milliseconds(1), tick);
    }
    for (;;) {
        if (watchdog && watchdog->due(Clock::now()) && !app.stopped()) notifier.notify("WATCHDOG=1");
        const int signo = signals.wait_for(tick);
        if (signo == SIGHUP) {
            const auto now_us =
                std::chrono::duration_cast<std::chrono::microseconds>(Clock::now().time_since_epoch()).count();
            notifier.notify("RELOADING=1\nSTATUS=reloading the configuration\nMONOTONIC_USEC=" +
                            std::to_string(now_us));
            reload(app, log, config_file);
            notifier.notify("READY=1\nSTATUS=" + status);
            continue;
        }
        if (signo != 0) return signo;
        if (app.stopped()) return 0;
    }
}

int shut_down(const BlockedSignals& signals, App& app, const Config& config, const Logger& log) {
    app.stop();
    const auto grace = shutdown_grace(config);
    const auto deadline = std::chrono::steady_clock::now() + grace;
    while (!app.wait_stopped(milliseconds(20))) {
        const int again = signals.wait_for(milliseconds(0));
        if (again != 0 && again != SIGHUP) {
            log.warn("second signal; exiting without waiting for requests in flight", {{"signal", signal_name(again)}});
            std::_Exit(kExitFailure);
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            log.warn(
                "requests or jobs still in flight after the shutdown grace period; exiting "
                "(unfinished jobs are delivered again after their visibility timeout)",
                {{"grace_ms", grace.count()}});
            // The serving thread is still busy and cannot be joined; leave without
            // running destructors.
            std::_Exit(kExitOk);
        }
    }
    app.errors().flush(kErrorFlush);
    log.info("stopped");
    return kExitOk;
}

int run(const BlockedSignals& signals, const std::optional<std::string>& config_file, const Notifier& notifier) {
    Config config;
    try {
        config = load_config(config_file, process_environment());
    } catch (const ConfigError& e) {
        Logger().error("invalid configuration", {{"error", mask_config_error(e.what(), process_environment())}});
        return kExitUsage;
    }

    Logger log(config.log_level);
    std::optional<App> app;
    try {
        app.emplace(config, log);
    } catch (const ConfigError& e) {
        log.error("invalid configuration", {{"error", mask_config_error(e.what(), process_environment())}});
        return kExitUsage;
    } catch (const FileError& e) {
        log.error("cannot start", {{"error", e.what()}});
        return kExitFailure;
    } catch (const queue::BackendError& e) {
        log.error("cannot start: the queue cannot open its storage", {{"error", e.what()}});
        return kExitFailure;
    }
    std::string status;
    try {
        const auto bound = app->start();
        log.info(
            "listening",
            {{"addr", bound.to_string()}, {"version", kVersion}, {"build", std::string(levqor::build::kVersionLine)}});
        // Every component runs now (App::start starts the queue and the
        // scheduler before it returns).
        status = "serving on " + bound.to_string();
        notifier.notify("READY=1\nSTATUS=" + status);
    } catch (const api::ListenError& e) {
        log.error("cannot start", {{"error", e.what()}});
        return kExitFailure;
    } catch (const FileError& e) {
        log.error("cannot start", {{"error", e.what()}, {"hint", "check flags_file / LEVQOR_FLAGS_FILE"}});
        return kExitFailure;
    }

    const int signo = serve(signals, *app, log, config_file, notifier, status);
    if (signo == 0) {
        log.error("HTTP server stopped unexpectedly");
        notifier.notify("STOPPING=1\nSTATUS=the HTTP server stopped unexpectedly");
        return kExitFailure;
    }
    log.info("shutting down", {{"signal", signal_name(signo)}});
    notifier.notify("STOPPING=1\nSTATUS=stopping: requests and jobs in flight get up to " +
                    std::to_string(shutdown_grace(config).count()) + " ms");
    return shut_down(signals, *app, config, log);
}

// --check-config: the effective settings on stdout, or the error on stderr.
int check(const std::optional<std::string>& config_file) {
    const auto env = process_environment();
    try {
        const auto report = check_config(config_file, env);
        // A path from the environment may be any bytes: shown as U+FFFD.
        std::fputs((report.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n").c_str(), stdout);
        return kExitOk;
    } catch (const ConfigError& e) {
        std::fputs(("levqor-controld: " + mask_config_error(e.what(), env) + "\n").c_str(), stderr);
        return kExitUsage;
    } catch (const std::exception& e) {
        std::fputs(
            ("levqor-controld: cannot check the configuration: " + mask_config_error(e.what(), env) + "\n").c_str(),
            stderr);
        return kExitFailure;
    }
}

}  // namespace

int main(int argc, char** argv) {
    // Before anything can start a thread: every thread inherits this mask, so
    // these signals reach only the sigtimedwait() calls in run().
    const BlockedSignals signals{SIGTERM, SIGINT, SIGHUP};
    // A write past RLIMIT_FSIZE (a quota, a full-disk test) fails with EFBIG and is
    // reported by the caller (a backup job fails) instead of killing the daemon.
    std::signal(SIGXFSZ, SIG_IGN);
    const net::CurlGlobal curl;

    CLI::App cli{"levqor-controld " + std::string(kVersion) +
                 ": the levqor ops daemon (docs/controld.md).\n"
                 "The environment overrides the config file: LEVQOR_LISTEN (host:port, default "
                 "127.0.0.1:8089), LEVQOR_DATA_DIR, LEVQOR_ADMIN_TOKEN_FILE, "
                 "LEVQOR_PRODUCER_TOKEN_FILE, LEVQOR_FLAGS_FILE, LEVQOR_NGINX_STATUS_URLS, "
                 "LEVQOR_HTTP_JOB_ALLOW, LEVQOR_QUEUE_WORKERS, LEVQOR_COST_DAILY_BUDGET_USD, "
                 "LEVQOR_ABUSE_PEPPER_FILE, LEVQOR_ABUSE_ASN_MMDB, LEVQOR_LOG_LEVEL, REDIS_URL, "
                 "DATABASE_URL, SENTRY_DSN and "
                 "the five flags (SECURITY_HEADERS_ENABLED, RATELIMIT_ENABLED, WEBHOOK_VERIFY_ALL, "
                 "ABUSE_GUARDS_ENABLED, NEW_QUEUE_ENABLED = off|shadow|on).\n"
                 "Under systemd (Type=notify) it reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID.\n"
                 "SIGHUP reloads the config and the token files; SIGTERM stops gracefully."};
    std::optional<std::string> config_file;
    cli.add_option("--config", config_file, "JSON configuration file (docs/controld.md)")->type_name("FILE");
    bool check_only = false;
    cli.add_flag("--check-config", check_only,
                 "Load and check the configuration (file, environment, token/pepper/key files) as a start would, "
                 "print the effective settings as JSON (secrets masked) and exit 0, or print \"<key>: <reason>\" "
                 "and exit 2. Binds nothing, starts nothing.");
    cli.set_version_flag("--version", std::string(levqor::build::kVersionLine));
    try {
        cli.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return cli.exit(e) == 0 ? kExitOk : kExitUsage;
    }

    if (check_only) return check(config_file);
    Notifier notifier;
    try {
        notifier = Notifier::from_environment(process_environment(), ::getpid());
    } catch (const std::exception& e) {
        Logger().error("cannot use the systemd notification socket", {{"error", e.what()}});
        return kExitUsage;
    }
    try {
        return run(signals, config_file, notifier);
    } catch (const std::exception& e) {
        Logger().error("fatal error", {{"error", e.what()}});
        return kExitFailure;
    }
}
