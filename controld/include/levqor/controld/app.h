// SPDX-License-Identifier: Apache-2.0
// The composition root of levqor-controld: App builds every component from the
// Config, puts their routes on the HTTP server and drives start, SIGHUP reload
// and stop; main() keeps only the process concerns (arguments, signals, exit
// codes). A new component is wired in here. start() once from one thread,
// reload() from one thread at a time, stop() and the waits from any thread.
#pragma once

#include <chrono>
#include <mutex>

#include "levqor/controld/abuse/service.h"
#include "levqor/controld/api/auth.h"
#include "levqor/controld/api/http_server.h"
#include "levqor/controld/api/router.h"
#include "levqor/controld/auth/token_store.h"
#include "levqor/controld/backup/service.h"
#include "levqor/controld/config.h"
#include "levqor/controld/core/listen_address.h"
#include "levqor/controld/core/log.h"
#include "levqor/controld/cost/service.h"
#include "levqor/controld/flags/flag_store.h"
#include "levqor/controld/health/health_service.h"
#include "levqor/controld/metrics/registry.h"
#include "levqor/controld/metrics/service.h"
#include "levqor/controld/queue/service.h"
#include "levqor/controld/schedule/scheduler.h"
#include "levqor/controld/tracking/tracker.h"

namespace levqor::controld {

// levqor-controld without its process concerns (arguments, signals, exit
// codes): the components and the routes that expose them. main() and the
// in-process tests both drive it through start()/reload()/stop().
//
// A new component (queue, backup, abuse) gets its folder under src/ (with
// its settings in <component>/settings.*), its settings in Config
// (config.h), a member here constructed before server_, a reconfigure step
// in reload(), and registers its routes in routes() (see docs/controld.md,
// "Adding a component").
//
// Thread-safety: start() once from one thread; reload() from one thread at a
// time (main's signal loop); stop(), stopped() and wait_stopped() from any
// thread. The Logger must outlive the App.
class App {
public:
    // Creates the data directory and loads the token files. Throws
    // ConfigError for a token file that cannot be used, FileError when the
    // data directory cannot be created.
    App(const Config& config, const Logger& log);

    // Binds config.listen and serves in the background, then writes the flags
    // file; returns the bound address. Throws api::ListenError, or FileError
    // (after stopping the server again).
    ListenAddress start();

    // SIGHUP: applies a new configuration. Token files are re-read (a broken
    // one keeps the previous tokens and is reported); nginx instances, scrape
    // timeout, latency window, redis/postgres URLs and error tracking change
    // at once; listen, data_dir, flags_file and the http limits need a restart
    // and are logged as such; the flags keep their runtime state (PUT
    // /ops/flags owns it), even if the config's flags changed: the new
    // configured flags are what POST /ops/flags/reset applies.
    void reload(const Config& next);
    // SIGHUP with a configuration that does not load: reported, counted, and
    // everything keeps running as it was.
    void reload_failed(const std::string& error);

    // Stops accepting requests and stops the queue's workers from fetching.
    void stop();
    bool stopped() const { return server_.stopped(); }
    // Waits for the requests in flight and the jobs being run.
    bool wait_stopped(std::chrono::milliseconds timeout);

    tracking::ErrorTracker& errors() { return errors_; }
    const flags::FlagStore& flags() const { return flags_; }
    queue::QueueService& queue() { return queue_; }
    schedule::Scheduler& scheduler() { return scheduler_; }

private:
    bool register_daily_reset();  // for daily_reset_registered_
    bool register_abuse_purge();  // for abuse_purge_registered_
    api::Router routes();
    api::HttpServer::Options server_options(const Config& config);
    // Loads the token files; at start a problem is a ConfigError, on reload
    // it is reported and the old tokens stay.
    void load_tokens(const Config& config, bool at_start);
    void count_response(const httplib::Request& req, const httplib::Response& res);

    Config config_;
    std::mutex config_mutex_;
    const Logger& log_;
    const std::chrono::steady_clock::time_point started_;

    metrics::Registry registry_;
    auth::TokenStore tokens_;
    tracking::ErrorTracker errors_;
    api::Guard guard_;
    flags::FlagStore flags_;
    metrics::MetricsService metrics_;
    health::HealthService health_;
    queue::QueueService queue_;
    backup::BackupService backups_;  // registers its job types with queue_
    cost::CostService cost_;         // hears metrics_' scrapes
    // True once cost's job type (metrics_daily_reset) is registered: before
    // scheduler_, which checks the job types of its built-ins when built.
    bool daily_reset_registered_;
    abuse::AbuseService abuse_;  // before scheduler_: registers abuse_purge (abuse_purge_registered_)
    bool abuse_purge_registered_;
    schedule::Scheduler scheduler_;  // after every component that registers job types
    metrics::Family<metrics::Counter>& requests_;
    metrics::Family<metrics::Counter>& dropped_;
    metrics::Counter& reloads_ok_;
    metrics::Counter& reloads_failed_;
    api::Router router_;
    api::HttpServer server_;  // last: stopped and joined before the rest goes
};

}  // namespace levqor::controld
