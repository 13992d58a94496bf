#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "levqor/controld/core/config.h"
#include "levqor/controld/core/log.h"
#include "levqor/controld/metrics/registry.h"
#include "levqor/controld/queue/backend.h"
#include "levqor/controld/queue/executor.h"
#include "levqor/controld/queue/job_request.h"
#include "levqor/controld/queue/retry_policy.h"
#include "levqor/controld/tracking/tracker.h"

namespace levqor::controld::queue {

// The job queue (docs/controld.md, "Job queue"): the backend (Redis when
// REDIS_URL is set, else SQLite in data_dir), the executors, the worker
// threads and one scheduler thread, and the metrics.
//
// Workers fetch in batches (queue.fetch_batch), run the jobs (consecutive
// jobs of one type together: noop as a batch, http concurrently in groups of
// 16, exec one by one), and record every outcome of the batch in one
// backend call. A job is not started when it could not finish before its
// visibility timeout ran out, nor after stop(): it is released and delivered
// again at once. The scheduler promotes due retries, reclaims deliveries
// past the visibility timeout, drains the spool and refreshes the gauges.
//
// Thread-safety: construct, register_executor() and start() from one
// thread; everything else may be called concurrently.
class QueueService {
 public:
  struct Settings {
    QueueSettings queue;
    std::vector<std::string> http_job_allow;
    std::optional<std::string> redis_url;
    std::string data_dir;
  };
  static Settings settings_from(const Config& config);

  // Opens the backend (throws BackendError when the SQLite file cannot be
  // opened; an unreachable Redis is not an error: enqueues are spooled).
  QueueService(Settings settings, metrics::Registry& registry, const Logger& log,
               tracking::ErrorTracker& errors);
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

  // POST /jobs. Throws InvalidJob.
  JobRequest parse(std::string_view body) const;
  // Queued mode (NEW_QUEUE_ENABLED shadow/on). Throws BackendError.
  EnqueueResult enqueue(const JobRequest& request, const std::optional<std::string>& key);
  // Synchronous mode (NEW_QUEUE_ENABLED off): each job runs once, now, in
  // the caller's thread; the records are stored (final states) and
  // returned. On an idempotent replay nothing runs and the stored records
  // are returned. Throws BackendError.
  struct InlineResult {
    EnqueueResult enqueue;
    std::vector<nlohmann::ordered_json> jobs;
  };
  InlineResult run_inline(const JobRequest& request, const std::optional<std::string>& key);

  // GET /jobs/{id}; nullopt for an unknown id. Throws BackendError.
  std::optional<nlohmann::ordered_json> job(const std::string& id);
  // GET /ops/dlq. Throws BackendError.
  nlohmann::ordered_json dead_letters(std::size_t limit);
  // POST /ops/dlq/retry. Throws BackendError.
  std::size_t retry_dead(const std::vector<std::string>& ids, bool all);
  // GET /ops/queue_health.
  nlohmann::ordered_json health();

  std::string_view backend_name() const { return backend_->name(); }

 private:
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
  };

  std::shared_ptr<const Rules> make_rules(const Settings& settings) const;
  std::shared_ptr<const Rules> rules() const;
  TypeMetrics& metrics_for(const std::string& type);

  void work(unsigned index);
  void schedule();
  // Runs a fetched batch; returns one completion per delivery. Queued
  // batches stop early at stop() and at the visibility budget (the rest is
  // released); inline ones (NEW_QUEUE_ENABLED=off) run to the end.
  std::vector<Completion> execute(const std::vector<Delivery>& batch, bool queued);
  Outcome outcome_of(const Delivery& job, const ExecutionResult& result, const Rules& rules);
  void record(const std::string& type, const std::vector<Completion>& done,
              double seconds_each);
  void refresh_gauges(const QueueStats& stats);
  void report_backend(bool ok, const std::string& error);

  const Settings settings_;
  const Logger& log_;
  tracking::ErrorTracker& errors_;
  metrics::Registry& registry_;
  std::unique_ptr<Backend> backend_;

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
  metrics::Counter& redelivered_;
  metrics::Counter& spooled_total_;

  std::atomic<bool> stopping_{false};
  std::atomic<int> busy_{0};
  std::atomic<bool> backend_ok_{true};
  std::mutex stop_mutex_;
  std::condition_variable stop_cv_;
  unsigned running_threads_ = 0;
  std::vector<std::thread> threads_;
};

}  // namespace levqor::controld::queue
