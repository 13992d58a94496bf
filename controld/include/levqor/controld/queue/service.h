// SPDX-License-Identifier: Apache-2.0
// The job queue component (docs/controld.md, "Job queue"): QueueService owns
// the backend, the executors, the worker, inline and scheduler threads and the
// queue's metrics, and serves enqueues, inline runs and the dead-letter queue
// to the routes. Construct and start() from one thread; everything else may
// be called concurrently.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <stdexcept>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "levqor/controld/core/log.h"
#include "levqor/controld/metrics/registry.h"
#include "levqor/controld/queue/backend.h"
#include "levqor/controld/queue/batch_runner.h"
#include "levqor/controld/queue/executor.h"
#include "levqor/controld/queue/inline_pool.h"
#include "levqor/controld/queue/job_request.h"
#include "levqor/controld/queue/quota.h"
#include "levqor/controld/queue/retry_policy.h"
#include "levqor/controld/queue/settings.h"
#include "levqor/controld/tracking/tracker.h"

namespace levqor::controld::queue {

// POST /jobs refused because the queue holds queue.max_depth jobs or
// queue.max_bytes payload bytes (507). what() says which and the limit.
class QueueFull : public std::runtime_error {
public:
    QueueFull(std::string reason, const std::string& message)
        : std::runtime_error(message), reason_(std::move(reason)) {}
    const std::string& reason() const { return reason_; }  // "max_depth" or "max_bytes"

private:
    std::string reason_;
};

// POST /jobs with NEW_QUEUE_ENABLED=off refused because every inline
// thread is busy and queue.inline_queue requests already wait (503).
class InlineBusy : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// The job queue (docs/controld.md, "Job queue"): the backend (Redis when
// REDIS_URL is set, else SQLite in data_dir), the executors, the worker
// threads, the inline threads and one scheduler thread, and the metrics.
//
// Workers fetch in batches (queue.fetch_batch) and run them with a
// BatchRunner (batch_runner.h: groups by type and concurrency, the
// visibility budget, release on stop); each group's outcomes are recorded
// as soon as the group finishes, so a kill re-runs at most the groups in
// flight. At start, what this installation's previous process held is taken
// back at once (Backend::recover) before any worker fetches. The scheduler promotes due retries, reclaims deliveries past
// the visibility timeout, drains the spool and refreshes the gauges and
// the quota's counts.
//
// Inline jobs (NEW_QUEUE_ENABLED=off) run on their own bounded pool
// (queue.inline_workers, queue.inline_queue), never on the caller's thread.
//
// Thread-safety: construct, register_executor() and start() from one
// thread; everything else may be called concurrently.
class QueueService {
public:
    struct Settings {
        QueueSettings queue;
        std::optional<std::string> redis_url;
        std::string data_dir;
    };
    static Settings settings_from(const QueueSettings& queue, const CoreSettings& core);

    // Opens the backend (throws BackendError when the SQLite file cannot be
    // opened; an unreachable Redis is not an error: enqueues are spooled).
    QueueService(Settings settings, metrics::Registry& registry, const Logger& log, tracking::ErrorTracker& errors);
    ~QueueService();
    QueueService(const QueueService&) = delete;
    QueueService& operator=(const QueueService&) = delete;

    // Built-in job types of other components (backups, ...); before start().
    void register_executor(const std::string& type, std::shared_ptr<const Executor> executor);

    void start();
    // Stops fetching; jobs already started finish, the rest of each batch is
    // released for redelivery. Returns at once; see wait_stopped().
    void stop();
    bool wait_stopped(std::chrono::milliseconds timeout);

    // SIGHUP: the allow-list, exec commands and retry delays apply to jobs
    // run from now on; workers, batch size, visibility timeout and the
    // backend need a restart (logged by App::reload).
    void reconfigure(const Settings& settings);

    // A stored job and the attempts its type allows (queue/routes.cpp shows
    // it with to_json).
    struct StoredJob {
        JobRecord record;
        int max_attempts = 0;
    };

    // POST /jobs. Throws InvalidJob.
    JobRequest parse(std::string_view body) const;
    // Queued mode (NEW_QUEUE_ENABLED shadow/on). Throws QueueFull,
    // BackendError.
    EnqueueResult enqueue(const JobRequest& request, const std::optional<std::string>& key);
    // Synchronous mode (NEW_QUEUE_ENABLED off): each job runs once, now, on
    // an inline thread; the caller waits up to queue.inline_wait_ms (when
    // fewer than queue.inline_workers callers wait already) and gets the
    // records as stored then: `finished` says whether every job had reached
    // its final state. On an idempotent replay nothing runs and the stored
    // records are returned. Throws QueueFull, InlineBusy, BackendError.
    struct InlineResult {
        EnqueueResult enqueue;
        std::vector<StoredJob> jobs;
        bool finished = true;
    };
    InlineResult run_inline(const JobRequest& request, const std::optional<std::string>& key);

    // GET /jobs/{id}; nullopt for an unknown id. Throws BackendError.
    std::optional<StoredJob> job(const std::string& id);
    // GET /ops/dlq: the oldest `limit` dead jobs and how many there are.
    // Throws BackendError.
    struct DeadLetters {
        std::int64_t total = 0;
        std::vector<StoredJob> jobs;
    };
    DeadLetters dead_letters(std::size_t limit);
    // POST /ops/dlq/retry. Throws BackendError.
    std::size_t retry_dead(const std::vector<std::string>& ids, bool all);
    // GET /ops/queue_health: the backend's counts (stats.up false and
    // stats.error when it does not answer), the threads and the quota.
    struct Health {
        std::string_view backend;
        QueueStats stats;
        unsigned workers = 0;  // configured
        int busy_workers = 0;
        bool stopping = false;
        unsigned inline_workers = 0;
        std::size_t inline_busy = 0;
        std::size_t inline_waiting = 0;
        std::size_t inline_queue = 0;  // requests that may wait for an inline thread
        Quota::Usage usage;
        Quota::Usage limits;
    };
    Health health();

    std::string_view backend_name() const { return backend_->name(); }

private:
    struct InlineRun;
    struct TypeMetrics {
        metrics::Counter* succeeded;
        metrics::Counter* retried;
        metrics::Counter* dead;
        metrics::Counter* enqueued;
        metrics::Counter* retries;
        metrics::Histogram* duration;
    };
    struct Rules {
        ExecutorRegistry executors;
        RetryPolicy retry;
        JobLimits limits;
        std::chrono::milliseconds inline_wait;
    };

    std::shared_ptr<const Rules> make_rules(const Settings& settings) const;
    std::shared_ptr<const Rules> rules() const;
    TypeMetrics& metrics_for(const std::string& type);

    void work(unsigned index);
    void schedule();
    // Takes back what the previous process held (once; true when done).
    bool recover();
    // Runs a batch with the current rules (BatchRunner), counting the
    // outcomes in the metrics.
    void execute(const std::vector<Delivery>& batch, BatchRunner::Mode mode, const BatchRunner::Sink& finished);
    // Calls `store` until it succeeds, backing off while the backend is away,
    // for up to half the visibility timeout; then logs that `jobs` outcomes
    // were not recorded. Returns whether they were.
    bool persist(const std::function<void()>& store, std::size_t jobs, bool inline_jobs);
    void run_inline_batch(const std::vector<Delivery>& batch);
    void abandon_inline_batch(const std::vector<Delivery>& batch);
    // Counts the request against queue.max_depth/max_bytes; throws QueueFull.
    void admit(const JobRequest& request);
    void release_admission(const JobRequest& request);
    void refresh_quota();
    void record(const std::string& type, const std::vector<Completion>& done, double seconds_each);
    void record_each(const std::vector<Completion>& done);  // jobs that did not run
    void maintain();
    void refresh_gauges(const QueueStats& stats);
    void report_backend(bool ok, const std::string& error);

    const Settings settings_;
    const Logger& log_;
    tracking::ErrorTracker& errors_;
    std::unique_ptr<Backend> backend_;
    Quota quota_;
    InlinePool inline_pool_;
    std::atomic<unsigned> inline_waiting_{0};  // callers waiting in run_inline

    mutable std::mutex rules_mutex_;
    std::shared_ptr<const Rules> rules_;
    std::map<std::string, std::shared_ptr<const Executor>> builtins_;

    std::mutex metrics_mutex_;
    std::map<std::string, TypeMetrics> type_metrics_;
    metrics::Family<metrics::Counter>& jobs_total_;
    metrics::Family<metrics::Counter>& enqueued_total_;
    metrics::Family<metrics::Counter>& retries_total_;
    metrics::Family<metrics::Histogram>& duration_;
    metrics::Gauge& depth_;
    metrics::Gauge& dlq_depth_;
    metrics::Gauge& delayed_;
    metrics::Gauge& running_;
    metrics::Gauge& spool_;
    metrics::Gauge& backend_up_;
    metrics::Gauge& oldest_age_;
    metrics::Gauge& payload_bytes_;
    metrics::Counter& redelivered_;
    metrics::Counter& spooled_total_;
    metrics::Counter& taken_back_;
    metrics::Family<metrics::Counter>& rejected_;

    std::atomic<bool> stopping_{false};
    std::atomic<bool> recovered_{false};
    std::atomic<std::int64_t> stored_payload_bytes_{0};  // the backend's, last known
    std::atomic<int> busy_{0};
    std::atomic<bool> backend_ok_{true};
    std::mutex stop_mutex_;
    std::condition_variable stop_cv_;
    unsigned running_threads_ = 0;
    std::vector<std::thread> threads_;
};

}  // namespace levqor::controld::queue
