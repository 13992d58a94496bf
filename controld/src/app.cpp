// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/app.h"

#include <algorithm>
#include <filesystem>

#include "levqor/controld/abuse/routes.h"
#include "levqor/controld/api/errors.h"
#include "levqor/controld/backup/routes.h"
#include "levqor/controld/core/files.h"
#include "levqor/controld/cost/routes.h"
#include "levqor/controld/flags/routes.h"
#include "levqor/controld/queue/routes.h"
#include "levqor/controld/schedule/routes.h"
#include "levqor/build_info.h"
#include "levqor/controld/version.h"

namespace levqor::controld {
namespace {

health::HealthService::Settings health_settings(const Config& config) {
    return {config.redis_url, config.database_url};
}

backup::BackupService::Settings backup_settings(const Config& config) {
    return {config.backup, config.data_dir, config.queue.visibility_timeout};
}

abuse::StoreOptions abuse_store_options(const Config& config) {
    abuse::StoreOptions options;
    options.sqlite_path = abuse::abuse_db_path(config.data_dir);
    options.database_url = config.database_url;
    return options;
}

schedule::Scheduler::Settings scheduler_settings(const Config& config) {
    return {scheduled(config), config.schedules.catch_up};
}

// A Config built by hand (tests) may leave flags.file to its default.
Config with_defaults(Config config) {
    apply_derived_defaults(config);
    return config;
}

// The persisted runtime flags: controld's own record, next to its databases.
std::string flags_state_file(const Config& config) { return config.data_dir + "/flags.state"; }

std::string status_class(int status) { return std::to_string(status / 100) + "xx"; }

// Any token is a method on the wire; a label must come from a fixed set, or
// a client could create label values without end.
std::string method_label(const std::string& method) {
    for (const char* known : {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}) {
        if (method == known) return method;
    }
    return "other";
}

metrics::Family<metrics::Counter>& reloads(metrics::Registry& registry) {
    return registry.counter("levqor_config_reloads_total",
                            "Configuration reloads (SIGHUP), by result: success or failure.", {"result"});
}

}  // namespace

App::App(const Config& config, const Logger& log)
    : config_(with_defaults(config)),
      log_(log),
      started_(std::chrono::steady_clock::now()),
      errors_(
          registry_, log, [this](std::string_view word) { return tokens_.authenticate(word).has_value(); },
          tracking::ErrorTracker::settings_from(config_.error_tracking, config_)),
      guard_(tokens_, registry_),
      flags_(config_.flags.file, flags_state_file(config_), config_.flags.configured, log, registry_),
      metrics_(registry_, log, config_.metrics,
               [this](const metrics::InstanceStatus& status) {
                   if (status.up) return;
                   errors_.capture("metrics", "nginx instance is down",
                                   {{"instance", status.name}, {"url", status.url}, {"error", status.error}});
               }),
      health_(metrics_, registry_, health_settings(config_),
              [this](const std::string& backend, const std::string& error) {
                  errors_.capture("health", backend + " is down", {{"error", error}});
              }),
      queue_(queue::QueueService::settings_from(config_.queue, config_), registry_, log, errors_),
      backups_(backup_settings(config_), queue_, registry_, log, errors_),
      cost_({config_.cost, config_.data_dir}, registry_, log,
            [this](const std::string& message, const std::string& error) {
                errors_.capture("cost", message, {{"error", error}});
            }),
      daily_reset_registered_(register_daily_reset()),
      abuse_(config_.abuse, abuse_store_options(config_), registry_, log),
      abuse_purge_registered_(register_abuse_purge()),
      scheduler_(
          scheduler_settings(config_), queue_,
          [this] { return flags_.current().get(Flag::new_queue) != FlagState::off; }, registry_, log, errors_),
      requests_(registry_.counter("levqor_controld_requests_total",
                                  "HTTP requests controld answered, by route pattern, method "
                                  "and status class.",
                                  {"route", "method", "code"})),
      dropped_(registry_.counter("levqor_controld_http_dropped_connections_total",
                                 "Connections the HTTP front closed without an answer: evicted "
                                 "(the oldest unauthenticated, to make room), refused (no room), "
                                 "timeout (silent for header_timeout, or not reading its "
                                 "answer within write_timeout).",
                                 {"reason"})),
      reloads_ok_(reloads(registry_).labels({"success"})),
      reloads_failed_(reloads(registry_).labels({"failure"})),
      router_(routes()),
      server_(router_, log, server_options(config_)) {
    for (const char* reason : {"evicted", "refused", "timeout"}) dropped_.labels({reason});
    metrics_.add_scrape_listener(
        [this](const std::string& instance, const std::vector<metrics::MetricFamily>& families,
               const metrics::ScrapeWindow& window) { cost_.observe_scrape(instance, families, window); });
    // Each module's levqor_build_info merges into the same family under its
    // nginx's instance label; controld's own sample has none (Prometheus
    // gives it the scrape target's, controld's, as for every own metric).
    registry_.gauge(std::string(build::kMetricName), std::string(build::kMetricHelp), {"version", "nginx", "git"})
        .labels({std::string(build::kVersion), std::string(build::kNginx), std::string(build::kGit)})
        .set(1);
    registry_.gauge("levqor_controld_start_time_seconds", "Unix time controld started.")
        .labels({})
        .set(std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count());
    ensure_directory(config_.data_dir, 0755);
    ensure_directory(std::filesystem::path(config_.flags.file).parent_path().string(), 0755);
    load_tokens(config_, /*at_start=*/true);
}

bool App::register_daily_reset() {
    // The reset scrapes every instance first (concurrently, each bounded by
    // the scrape timeout), so the last increases of the day count in it; it
    // takes about that long (the timeout at start: a hint for the batch
    // runner, not a limit).
    queue_.register_executor(std::string(cost::kDailyResetJob),
                             cost::make_daily_reset_executor(
                                 cost_, [this] { metrics_.refresh(); },
                                 std::chrono::duration_cast<std::chrono::milliseconds>(config_.metrics.scrape_timeout) +
                                     std::chrono::seconds(1)));
    return true;
}

bool App::register_abuse_purge() {
    queue_.register_executor(schedule::kAbusePurgeJobType, abuse::make_purge_executor(abuse_));
    return true;
}

api::HttpServer::Options App::server_options(const Config& config) {
    const auto& http = config.http;
    api::HttpServer::Options options;
    options.quiet_paths = {"/healthz", "/metrics"};
    options.limits.max_body_bytes = http.max_body_bytes;
    options.limits.max_request_line_bytes = http.max_request_line_bytes;
    options.limits.max_header_bytes = http.max_header_bytes;
    options.limits.max_headers = http.max_headers;
    options.header_timeout = http.header_timeout;
    options.body_timeout = http.body_timeout;
    options.read_timeout = http.read_timeout;
    options.write_timeout = http.write_timeout;
    options.max_connections = http.max_connections;
    options.max_unauthenticated_connections = http.max_unauthenticated_connections;
    options.worker_threads = http.worker_threads;
    options.admin_threads = http.admin_threads;
    options.allowed_hosts = http.allowed_hosts;
    // Admin requests get the reserved pool; any valid token lifts the
    // connection out of the unauthenticated cap.
    options.classify = [this](const httplib::Request& req) {
        const auto role = guard_.role_of(req);
        if (!role) return api::Caller::anonymous;
        return *role == auth::Role::admin ? api::Caller::admin : api::Caller::authenticated;
    };
    options.on_exception = [this](const httplib::Request& req, const std::string& error) {
        errors_.capture("api", "request handler failed",
                        {{"method", req.method}, {"path", req.path}, {"error", error}});
    };
    options.on_response = [this](const httplib::Request& req, const httplib::Response& res) {
        count_response(req, res);
    };
    options.on_dropped = [this](std::string_view reason) { dropped_.labels({std::string(reason)}).inc(); };
    return options;
}

void App::count_response(const httplib::Request& req, const httplib::Response& res) {
    auto route = router_.route_for(req.path);
    if (route.empty()) route = "unmatched";
    requests_.labels({route, method_label(req.method), status_class(res.status)}).inc();
}

api::Router App::routes() {
    api::Router router;
    // Open to anyone; only the admin token sees instance URLs and error text.
    router.add(api::Method::get, "/healthz", [this](const httplib::Request& req, httplib::Response& res) {
        const auto uptime =
            std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started_);
        const auto detail = guard_.role_of(req) == auth::Role::admin ? health::Detail::full : health::Detail::summary;
        auto report = health_.report(uptime, detail);
        report["checks"]["abuse"] = abuse_.status(detail == health::Detail::full);
        api::set_json(res, 200, report.dump());
    });
    router.add(api::Method::get, "/metrics", [this](const httplib::Request&, httplib::Response& res) {
        res.status = 200;
        res.body = metrics_.exposition();  // set_content() would copy it
        res.set_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    });
    flags::add_routes(router, guard_, flags_, errors_);
    queue::add_routes(router, guard_, queue_, flags_, errors_, log_);
    backup::add_routes(router, guard_, backups_, errors_);
    cost::add_routes(router, guard_, cost_);
    schedule::add_routes(router, guard_, scheduler_, errors_);
    abuse::add_routes(router, guard_, abuse_, flags_, errors_);
    return router;
}

void App::load_tokens(const Config& config, bool at_start) {
    try {
        for (const auto& status : tokens_.load(config.tokens)) {
            log_.log(status.tokens == 0 ? LogLevel::warn : LogLevel::info, "bearer tokens",
                     {{"role", std::string(auth::to_string(status.role))},
                      {"file", status.file},
                      {"tokens", status.tokens},
                      {"status", status.note}});
        }
    } catch (const auth::TokenFileError& e) {
        if (at_start) throw ConfigError(e.what());
        errors_.capture("auth", "cannot reload the token files; the previous tokens stay valid", {{"error", e.what()}});
        throw;
    }
}

ListenAddress App::start() {
    // Bind first: a second controld started by mistake on a taken port must
    // fail before it overwrites the running one's flags file. Serve only once
    // the file is written and the queue runs, so whoever sees /healthz answer
    // sees the flags and can enqueue.
    const auto bound = server_.start(config_.listen, [this] {
        flags_.write_initial();
        queue_.start();
        scheduler_.start();
    });
    log_.info("configuration", {{"data_dir", config_.data_dir},
                                {"flags_file", config_.flags.file},
                                {"nginx_instances", config_.metrics.nginx_instances.size()},
                                {"errors_to", errors_.destination()},
                                {"admin_role", tokens_.enabled(auth::Role::admin)},
                                {"producer_role", tokens_.enabled(auth::Role::producer)}});
    return bound;
}

void App::reload(const Config& next) {
    std::lock_guard<std::mutex> lock(config_mutex_);
    bool ok = true;
    try {
        load_tokens(next, /*at_start=*/false);
    } catch (const auth::TokenFileError&) {
        ok = false;
    }
    metrics_.reconfigure(next.metrics);
    health_.reconfigure(health_settings(next));
    errors_.reconfigure(tracking::ErrorTracker::settings_from(next.error_tracking, next));
    queue_.reconfigure(queue::QueueService::settings_from(next.queue, next));
    auto backups = backup_settings(next);
    backups.visibility_timeout = config_.queue.visibility_timeout;  // the queue's needs a restart
    backups_.reconfigure(backups);
    cost_.reconfigure(next.cost);
    bool abuse_ok = true;
    try {
        abuse_.reconfigure(next.abuse);
    } catch (const ConfigError& e) {
        abuse_ok = false;
        errors_.capture("config", "cannot reload the abuse settings; the previous ones stay", {{"error", e.what()}});
    }
    bool schedules_ok = true;
    try {
        scheduler_.reconfigure(scheduler_settings(next));
    } catch (const ConfigError& e) {
        schedules_ok = false;
        errors_.capture("config", "cannot reload the schedules; the previous ones stay", {{"error", e.what()}});
    }

    const auto needs_restart = [&](const char* key, bool changed) {
        if (changed) log_.warn("setting changed but needs a restart to apply", {{"setting", key}});
    };
    needs_restart("listen", !(next.listen == config_.listen));
    needs_restart("data_dir", next.data_dir != config_.data_dir);
    needs_restart("flags_file", next.flags.file != config_.flags.file);
    needs_restart("http", !(next.http == config_.http));
    needs_restart("redis_url (for the queue)", next.redis_url != config_.redis_url);
    needs_restart("queue.workers", next.queue.workers != config_.queue.workers);
    needs_restart("queue.fetch_batch", next.queue.fetch_batch != config_.queue.fetch_batch);
    needs_restart("queue.visibility_timeout_s", next.queue.visibility_timeout != config_.queue.visibility_timeout);
    needs_restart("queue.inline_workers", next.queue.inline_workers != config_.queue.inline_workers);
    needs_restart("queue.inline_queue", next.queue.inline_queue != config_.queue.inline_queue);
    if (next.flags.configured != config_.flags.configured) {
        log_.warn(
            "the configured flags changed; runtime flags are not reset by a reload "
            "(levqorctl flags reset applies the configured flags; flags set changes one)",
            {{"configured", to_json(next.flags.configured)}, {"current", to_json(flags_.current())}});
    }
    flags_.set_configured(next.flags.configured);
    const auto listen = config_.listen;
    const auto data_dir = config_.data_dir;
    const auto flags_file = config_.flags.file;
    const auto http = config_.http;
    const auto abuse_settings = config_.abuse;
    config_ = next;
    // What was not applied stays as it runs.
    config_.listen = listen;
    config_.data_dir = data_dir;
    config_.flags.file = flags_file;
    config_.http = http;
    if (!abuse_ok) config_.abuse = abuse_settings;
    (ok && schedules_ok && abuse_ok ? reloads_ok_ : reloads_failed_).inc();
    log_.info(!ok             ? "configuration reloaded except the token files"
              : !schedules_ok ? "configuration reloaded except the schedules"
              : !abuse_ok     ? "configuration reloaded except the abuse settings"
                              : "configuration reloaded",
              {{"nginx_instances", next.metrics.nginx_instances.size()}, {"errors_to", errors_.destination()}});
}

void App::stop() {
    server_.stop();
    scheduler_.stop();
    queue_.stop();
}

bool App::wait_stopped(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    if (!server_.wait_stopped(timeout)) return false;
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    const bool stopped = queue_.wait_stopped(std::max(left, std::chrono::milliseconds(0)));
    cost_.flush();  // what /usage added since the last write
    return stopped;
}

void App::reload_failed(const std::string& error) {
    reloads_failed_.inc();
    errors_.capture("config", "cannot reload the configuration; running on the previous one", {{"error", error}});
}

}  // namespace levqor::controld
