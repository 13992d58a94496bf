// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/queue/service.h"

#include <unistd.h>

#include "levqor/controld/core/files.h"
#include "levqor/controld/core/urls.h"
#include "levqor/controld/queue/instance_id.h"
#include "levqor/controld/queue/redis_backend.h"
#include "levqor/controld/queue/sqlite_backend.h"

namespace levqor::controld::queue {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr milliseconds kFetchWait{250};
constexpr milliseconds kSchedulerTick{100};

const std::vector<double> kDurationBuckets = {0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                              0.5,    1,     2.5,   5,    10,    30,   60};

std::unique_ptr<Backend> open_backend(const QueueService::Settings& settings, const Logger& log) {
    // App creates data_dir too, but after its members: the queue comes first.
    ensure_directory(settings.data_dir, 0755);
    BackendSettings b;
    b.visibility_timeout = settings.queue.visibility_timeout;
    b.idempotency_ttl = settings.queue.idempotency_ttl;
    b.retention = settings.queue.retention;
    b.instance = load_or_create_instance_id(settings.data_dir);
    if (settings.redis_url) {
        return std::make_unique<RedisBackend>(redis_server_url(*settings.redis_url),
                                              settings.data_dir + "/queue-spool.sqlite", b, log);
    }
    return std::make_unique<SqliteBackend>(settings.data_dir + "/queue.sqlite", b);
}

std::int64_t payload_bytes(const JobRequest& request) {
    std::int64_t bytes = 0;
    for (const auto& job : request.jobs) bytes += static_cast<std::int64_t>(job.payload.size());
    return bytes;
}

std::vector<Delivery> inline_deliveries(const JobRequest& request) {
    std::vector<Delivery> batch;
    batch.reserve(request.jobs.size());
    for (const auto& job : request.jobs) {
        batch.push_back(Delivery{job.id, job.type, job.payload, 1, 0, "inline"});
    }
    return batch;
}

}  // namespace

// One inline request: the handler waits on it (bounded), the inline
// thread marks it done.
struct QueueService::InlineRun {
    std::mutex mutex;
    std::condition_variable cv;
    bool done = false;
    void finish() {
        {
            std::lock_guard<std::mutex> lock(mutex);
            done = true;
        }
        cv.notify_all();
    }
};

QueueService::Settings QueueService::settings_from(const QueueSettings& queue, const CoreSettings& core) {
    return {queue, core.redis_url, core.data_dir};
}

QueueService::QueueService(Settings settings, metrics::Registry& registry, const Logger& log,
                           tracking::ErrorTracker& errors)
    : settings_(std::move(settings)),
      log_(log),
      errors_(errors),
      backend_(open_backend(settings_, log)),
      quota_(settings_.queue.max_depth, settings_.queue.max_bytes),
      inline_pool_(settings_.queue.inline_workers, settings_.queue.inline_queue),
      jobs_total_(registry.counter("levqor_jobs_total",
                                   "Job attempts finished, by job type and result: succeeded, "
                                   "retry (failed, tried again later), dead (failed for good).",
                                   {"type", "result"})),
      enqueued_total_(
          registry.counter("levqor_jobs_enqueued_total", "Jobs accepted by POST /jobs, by job type.", {"type"})),
      retries_total_(registry.counter("levqor_job_retries_total",
                                      "Retries scheduled after a failed attempt, by job type.", {"type"})),
      duration_(registry.histogram("levqor_job_duration_seconds", "Time one attempt of a job took, by job type.",
                                   {"type"}, kDurationBuckets)),
      depth_(registry.gauge("levqor_queue_depth", "Jobs waiting for a worker (new, and retries that are due).")
                 .labels({})),
      dlq_depth_(registry.gauge("levqor_dlq_depth", "Jobs in the dead-letter queue.").labels({})),
      delayed_(registry.gauge("levqor_queue_delayed", "Retries waiting for their time.").labels({})),
      running_(registry.gauge("levqor_queue_running", "Jobs held by workers.").labels({})),
      spool_(registry.gauge("levqor_queue_spool_size", "Jobs in the local spool, waiting for Redis to come back.")
                 .labels({})),
      backend_up_(
          registry.gauge("levqor_queue_backend_up", "1 when the queue backend (redis or sqlite) answers.", {"backend"})
              .labels({std::string(backend_->name())})),
      oldest_age_(
          registry.gauge("levqor_queue_oldest_age_seconds", "Age of the oldest job waiting for a worker.").labels({})),
      payload_bytes_(registry
                         .gauge("levqor_queue_payload_bytes",
                                "Payload bytes the queue stores: jobs not succeeded "
                                "(waiting, running, retrying, dead) and the spool.")
                         .labels({})),
      redelivered_(registry
                       .counter("levqor_jobs_redelivered_total",
                                "Deliveries whose visibility timeout ran out (a worker "
                                "crashed or hung), delivered again.")
                       .labels({})),
      spooled_total_(
          registry.counter("levqor_jobs_spooled_total", "Jobs written to the local spool because Redis was away.")
              .labels({})),
      taken_back_(registry
                      .counter("levqor_jobs_taken_back_total",
                               "Deliveries the previous process of this controld held "
                               "when it ended, delivered again at start.")
                      .labels({})),
      rejected_(registry.counter("levqor_jobs_rejected_total",
                                 "Jobs POST /jobs refused for want of room, by reason: "
                                 "max_depth, max_bytes (507), inline_busy (503).",
                                 {"reason"})) {
    rules_ = make_rules(settings_);
    backend_up_.set(1);
    for (const auto& type : rules_->executors.types()) metrics_for(type);
    for (const char* reason : {"max_depth", "max_bytes", "inline_busy"}) rejected_.labels({reason});
}

QueueService::~QueueService() {
    stop();
    for (auto& t : threads_) {
        if (t.joinable()) t.join();
    }
    // inline_pool_ joins its threads; they may still call into this object.
    inline_pool_.wait_stopped(std::chrono::hours(1));
}

std::shared_ptr<const QueueService::Rules> QueueService::make_rules(const Settings& s) const {
    ExecutorRegistry executors;
    executors.add("noop", make_noop_executor());
    executors.add("http", make_http_executor(s.queue.http_job_allow, s.queue.http_timeout,
                                             s.queue.visibility_timeout - milliseconds(1000)));
    executors.add("exec", make_exec_executor(s.queue.exec));
    for (const auto& [type, executor] : builtins_) executors.add(type, executor);
    return std::make_shared<const Rules>(
        Rules{std::move(executors), RetryPolicy(s.queue.retry_delays, s.queue.retry_jitter),
              JobLimits{s.queue.max_payload_bytes, s.queue.max_batch}, s.queue.inline_wait});
}

std::shared_ptr<const QueueService::Rules> QueueService::rules() const {
    std::lock_guard<std::mutex> lock(rules_mutex_);
    return rules_;
}

void QueueService::register_executor(const std::string& type, std::shared_ptr<const Executor> executor) {
    std::lock_guard<std::mutex> lock(rules_mutex_);
    builtins_[type] = std::move(executor);
    auto next = std::make_shared<Rules>(*rules_);
    next->executors.add(type, builtins_[type]);
    rules_ = std::move(next);
}

void QueueService::reconfigure(const Settings& settings) {
    Settings next = settings_;
    next.queue.http_job_allow = settings.queue.http_job_allow;
    next.queue.exec = settings.queue.exec;
    next.queue.retry_delays = settings.queue.retry_delays;
    next.queue.retry_jitter = settings.queue.retry_jitter;
    next.queue.max_payload_bytes = settings.queue.max_payload_bytes;
    next.queue.max_batch = settings.queue.max_batch;
    next.queue.http_timeout = settings.queue.http_timeout;
    next.queue.inline_wait = settings.queue.inline_wait;
    quota_.set_limits(settings.queue.max_depth, settings.queue.max_bytes);
    auto rules = make_rules(next);
    std::lock_guard<std::mutex> lock(rules_mutex_);
    rules_ = std::move(rules);
}

QueueService::TypeMetrics& QueueService::metrics_for(const std::string& type) {
    std::lock_guard<std::mutex> lock(metrics_mutex_);
    auto found = type_metrics_.find(type);
    if (found != type_metrics_.end()) return found->second;
    TypeMetrics m{&jobs_total_.labels({type, "succeeded"}), &jobs_total_.labels({type, "retry"}),
                  &jobs_total_.labels({type, "dead"}),      &enqueued_total_.labels({type}),
                  &retries_total_.labels({type}),           &duration_.labels({type})};
    return type_metrics_.emplace(type, m).first->second;
}

void QueueService::start() {
    refresh_quota();
    // Before any worker fetches: nothing this process fetched can be taken
    // for its predecessor's. If the backend is away, the scheduler retries.
    recover();
    inline_pool_.start();
    std::lock_guard<std::mutex> lock(stop_mutex_);
    running_threads_ = settings_.queue.workers + 1;
    threads_.emplace_back([this] { schedule(); });
    for (unsigned i = 0; i < settings_.queue.workers; ++i) {
        threads_.emplace_back([this, i] { work(i); });
    }
    log_.info("queue started", {{"backend", std::string(backend_->name())},
                                {"workers", settings_.queue.workers},
                                {"fetch_batch", settings_.queue.fetch_batch},
                                {"visibility_timeout_s", settings_.queue.visibility_timeout.count()},
                                {"inline_workers", settings_.queue.inline_workers}});
}

void QueueService::stop() {
    if (stopping_.exchange(true)) return;
    backend_->notify();
    {
        std::lock_guard<std::mutex> lock(stop_mutex_);
        stop_cv_.notify_all();
    }
    inline_pool_.stop();
}

bool QueueService::wait_stopped(milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    std::unique_lock<std::mutex> lock(stop_mutex_);
    if (!stop_cv_.wait_until(lock, deadline, [this] { return running_threads_ == 0; })) return false;
    lock.unlock();
    for (auto& t : threads_) {
        if (t.joinable()) t.join();
    }
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
    return inline_pool_.wait_stopped(std::max(left, milliseconds(0)));
}

bool QueueService::recover() {
    if (recovered_) return true;
    try {
        const auto r = backend_->recover(now_ms());
        if (r.reclaimed > 0 || r.dead_lettered > 0 || r.inline_dead > 0) {
            taken_back_.inc(static_cast<double>(r.reclaimed + r.dead_lettered));
            log_.warn("queue: took back the jobs the previous process held", {{"delivered_again", r.reclaimed},
                                                                              {"dead_lettered", r.dead_lettered},
                                                                              {"inline_jobs_dead", r.inline_dead}});
        }
    } catch (const std::exception& e) {
        report_backend(false, e.what());
        return false;
    }
    std::lock_guard<std::mutex> lock(stop_mutex_);
    recovered_ = true;
    stop_cv_.notify_all();
    return true;
}

void QueueService::report_backend(bool ok, const std::string& error) {
    if (backend_ok_.exchange(ok) == ok) return;
    backend_up_.set(ok ? 1 : 0);
    if (ok) {
        log_.info("queue backend is reachable again", {{"backend", std::string(backend_->name())}});
    } else {
        errors_.capture("queue", std::string(backend_->name()) + " is not reachable", {{"error", error}});
    }
}

void QueueService::work(unsigned index) {
    std::unique_ptr<Consumer> consumer;
    milliseconds backoff{100};
    while (!stopping_) {
        if (!recovered_) {
            std::unique_lock<std::mutex> lock(stop_mutex_);
            stop_cv_.wait_for(lock, kSchedulerTick, [this] { return stopping_ || recovered_; });
            continue;
        }
        std::vector<Delivery> batch;
        try {
            if (!consumer) consumer = backend_->consumer(index);
            batch = consumer->fetch(settings_.queue.fetch_batch, kFetchWait);
            backoff = milliseconds(100);
        } catch (const std::exception& e) {
            report_backend(false, e.what());
            std::unique_lock<std::mutex> lock(stop_mutex_);
            stop_cv_.wait_for(lock, backoff, [this] { return stopping_.load(); });
            backoff = std::min(backoff * 2, milliseconds(2000));
            continue;
        }
        if (batch.empty()) continue;
        ++busy_;
        // Each group's outcomes are recorded as soon as it finishes.
        execute(batch, BatchRunner::Mode::queued, [&](std::vector<Completion>&& done) {
            persist([&] { consumer->complete(done, now_ms()); }, done.size(), false);
        });
        --busy_;
    }
    std::lock_guard<std::mutex> lock(stop_mutex_);
    if (--running_threads_ == 0) stop_cv_.notify_all();
}

bool QueueService::persist(const std::function<void()>& store, std::size_t jobs, bool inline_jobs) {
    // The outcomes must reach the backend; if it is away, keep trying for a
    // while (at worst queued jobs are delivered again after the timeout).
    const auto give_up = Clock::now() + settings_.queue.visibility_timeout / 2;
    for (milliseconds wait{50};; wait = std::min(wait * 2, milliseconds(1000))) {
        try {
            store();
            return true;
        } catch (const std::exception& e) {
            report_backend(false, e.what());
            if (Clock::now() >= give_up) {
                if (inline_jobs) {
                    errors_.capture("queue",
                                    "could not record the outcomes of inline jobs; they stay running until "
                                    "controld restarts, then are dead",
                                    {{"jobs", jobs}, {"error", e.what()}});
                } else {
                    log_.warn("queue: could not record job outcomes; the jobs will be delivered again",
                              {{"jobs", jobs}, {"error", e.what()}});
                }
                return false;
            }
            std::this_thread::sleep_for(wait);
        }
    }
}

void QueueService::execute(const std::vector<Delivery>& batch, BatchRunner::Mode mode,
                           const BatchRunner::Sink& finished) {
    const auto rules = this->rules();
    const BatchRunner runner(rules->executors, rules->retry, settings_.queue.visibility_timeout, stopping_,
                             [this](const std::string& type, const std::vector<Completion>& done, double seconds_each) {
                                 record(type, done, seconds_each);
                             });
    runner.run(batch, mode, finished);
}

void QueueService::record(const std::string& type, const std::vector<Completion>& done, double seconds_each) {
    if (done.empty()) return;
    auto& m = metrics_for(type);
    double ok = 0, retry = 0, dead = 0;
    for (const auto& c : done) {
        switch (c.outcome.kind) {
            case Outcome::Kind::succeeded:
                ++ok;
                break;
            case Outcome::Kind::retry:
                ++retry;
                break;
            case Outcome::Kind::dead:
                ++dead;
                break;
            case Outcome::Kind::released:
                continue;
        }
        m.duration->observe(seconds_each);
    }
    if (ok > 0) m.succeeded->inc(ok);
    if (retry > 0) {
        m.retried->inc(retry);
        m.retries->inc(retry);
    }
    if (dead > 0) m.dead->inc(dead);
}

void QueueService::record_each(const std::vector<Completion>& done) {
    for (const auto& c : done) record(c.delivery.type, {c}, 0);
}

void QueueService::schedule() {
    auto last_gauges = Clock::now();
    while (!stopping_) {
        // Nothing is reclaimed, promoted or drained before the previous
        // process's deliveries are taken back (recover() retries each tick).
        if (recover()) maintain();
        if (Clock::now() - last_gauges >= std::chrono::seconds(1)) {
            last_gauges = Clock::now();
            refresh_quota();
        }
        std::unique_lock<std::mutex> lock(stop_mutex_);
        stop_cv_.wait_for(lock, kSchedulerTick, [this] { return stopping_.load(); });
    }
    std::lock_guard<std::mutex> lock(stop_mutex_);
    if (--running_threads_ == 0) stop_cv_.notify_all();
}

void QueueService::maintain() {
    try {
        const auto r = backend_->maintain(now_ms());
        if (r.reclaimed > 0 || r.dead_lettered > 0) {
            redelivered_.inc(static_cast<double>(r.reclaimed + r.dead_lettered));
            log_.warn("queue: deliveries past the visibility timeout",
                      {{"delivered_again", r.reclaimed}, {"dead_lettered", r.dead_lettered}});
        }
        if (r.drained > 0) log_.info("queue: spool drained into redis", {{"jobs", r.drained}});
        report_backend(true, "");
    } catch (const std::exception& e) {
        report_backend(false, e.what());
    }
}

void QueueService::refresh_quota() {
    const auto mark = quota_.mark();
    const auto s = backend_->stats(now_ms());
    refresh_gauges(s);
    // While the backend is away its last known counts stand (the gauges
    // keep them); the spool's are always current.
    const auto stored = static_cast<std::int64_t>(depth_.value() + delayed_.value() + running_.value());
    const auto stored_bytes = s.up ? s.payload_bytes : stored_payload_bytes_.load();
    if (s.up) stored_payload_bytes_ = s.payload_bytes;
    quota_.refresh({stored + s.spool, stored_bytes + s.spool_bytes}, mark);
    payload_bytes_.set(static_cast<double>(stored_bytes + s.spool_bytes));
}

void QueueService::refresh_gauges(const QueueStats& s) {
    spool_.set(static_cast<double>(s.spool));
    if (!s.up) return;  // keep the last known values while the backend is away
    depth_.set(static_cast<double>(s.queued));
    dlq_depth_.set(static_cast<double>(s.dead));
    delayed_.set(static_cast<double>(s.delayed));
    running_.set(static_cast<double>(s.running));
    oldest_age_.set(s.oldest_age_s);
}

void QueueService::admit(const JobRequest& request) {
    const auto jobs = static_cast<std::int64_t>(request.jobs.size());
    const auto verdict = quota_.admit(jobs, payload_bytes(request));
    if (verdict == Quota::Verdict::admitted) return;
    const auto limits = quota_.limits();
    const auto usage = quota_.usage();
    const bool depth = verdict == Quota::Verdict::depth;
    const std::string reason = depth ? "max_depth" : "max_bytes";
    rejected_.labels({reason}).inc(static_cast<double>(jobs));
    throw QueueFull(reason, depth ? "the queue holds " + std::to_string(usage.depth) +
                                        " unfinished jobs; queue.max_depth is " + std::to_string(limits.depth)
                                  : "the queue stores " + std::to_string(usage.bytes) +
                                        " payload bytes; queue.max_bytes is " + std::to_string(limits.bytes));
}

void QueueService::release_admission(const JobRequest& request) {
    quota_.cancel(static_cast<std::int64_t>(request.jobs.size()), payload_bytes(request));
}

JobRequest QueueService::parse(std::string_view body) const {
    const auto rules = this->rules();
    return parse_job_request(body, rules->executors, rules->limits, now_ms());
}

EnqueueResult QueueService::enqueue(const JobRequest& request, const std::optional<std::string>& key) {
    admit(request);
    EnqueueRequest e{request.jobs, key, request.fingerprint, true, now_ms()};
    EnqueueResult result;
    try {
        result = backend_->enqueue(e);
    } catch (...) {
        release_admission(request);
        throw;
    }
    if (result.replayed) {
        release_admission(request);
    } else {
        for (const auto& job : request.jobs) metrics_for(job.type).enqueued->inc();
        if (result.spooled) spooled_total_.inc(static_cast<double>(request.jobs.size()));
    }
    return result;
}

void QueueService::run_inline_batch(const std::vector<Delivery>& batch) {
    execute(batch, BatchRunner::Mode::inline_run, [this](std::vector<Completion>&& done) {
        persist([&] { backend_->complete_inline(done, now_ms()); }, done.size(), true);
    });
}

void QueueService::abandon_inline_batch(const std::vector<Delivery>& batch) {
    std::vector<Completion> done;
    done.reserve(batch.size());
    for (const auto& d : batch) {
        Outcome outcome;
        outcome.kind = Outcome::Kind::dead;
        outcome.error = kInlineNotRun;
        done.push_back({d, outcome});
    }
    record_each(done);
    persist([&] { backend_->complete_inline(done, now_ms()); }, done.size(), true);
}

QueueService::InlineResult QueueService::run_inline(const JobRequest& request, const std::optional<std::string>& key) {
    // A job stored by an earlier process and not yet taken back would be
    // taken for one of this process's.
    if (!recovered_) throw BackendError("the queue is still taking back its previous jobs");
    auto place = inline_pool_.reserve();
    if (!place) {
        rejected_.labels({"inline_busy"}).inc(static_cast<double>(request.jobs.size()));
        throw InlineBusy("every inline job runner is busy (queue.inline_workers " +
                         std::to_string(inline_pool_.threads()) + ", queue.inline_queue " +
                         std::to_string(inline_pool_.capacity() - inline_pool_.threads()) + ")");
    }
    admit(request);
    InlineResult out;
    EnqueueRequest e{request.jobs, key, request.fingerprint, false, now_ms()};
    try {
        out.enqueue = backend_->enqueue(e);
    } catch (...) {
        release_admission(request);
        throw;
    }
    if (out.enqueue.replayed) {
        release_admission(request);
    } else {
        for (const auto& job : request.jobs) metrics_for(job.type).enqueued->inc();
        auto run = std::make_shared<InlineRun>();
        auto batch = std::make_shared<const std::vector<Delivery>>(inline_deliveries(request));
        inline_pool_.submit(std::move(*place), {[this, run, batch] {
                                                    run_inline_batch(*batch);
                                                    run->finish();
                                                },
                                                [this, run, batch] {
                                                    abandon_inline_batch(*batch);
                                                    run->finish();
                                                }});
        // At most inline_workers callers wait, each at most inline_wait: the
        // HTTP threads they hold are bounded, whatever the front.
        const auto wait = rules()->inline_wait;
        if (++inline_waiting_ <= settings_.queue.inline_workers) {
            std::unique_lock<std::mutex> lock(run->mutex);
            run->cv.wait_for(lock, wait, [&] { return run->done; });
        }
        --inline_waiting_;
        std::lock_guard<std::mutex> lock(run->mutex);
        out.finished = run->done;
    }
    for (const auto& id : out.enqueue.ids) {
        if (auto stored = job(id)) out.jobs.push_back(std::move(*stored));
    }
    return out;
}

std::optional<QueueService::StoredJob> QueueService::job(const std::string& id) {
    if (!is_job_id(id)) return std::nullopt;
    auto record = backend_->get(id);
    if (!record) return std::nullopt;
    const int max_attempts = rules()->retry.max_attempts(record->type);
    return StoredJob{std::move(*record), max_attempts};
}

QueueService::DeadLetters QueueService::dead_letters(std::size_t limit) {
    const auto rules = this->rules();
    DeadLetters out;
    for (auto& record : backend_->dead(limit)) {
        const int max_attempts = rules->retry.max_attempts(record.type);
        out.jobs.push_back({std::move(record), max_attempts});
    }
    out.total = backend_->stats(now_ms()).dead;
    return out;
}

std::size_t QueueService::retry_dead(const std::vector<std::string>& ids, bool all) {
    return backend_->retry_dead(ids, all, now_ms());
}

QueueService::Health QueueService::health() {
    Health out;
    out.backend = backend_->name();
    out.stats = backend_->stats(now_ms());
    out.workers = settings_.queue.workers;
    out.busy_workers = busy_.load();
    out.stopping = stopping_.load();
    out.inline_workers = inline_pool_.threads();
    out.inline_busy = inline_pool_.busy();
    out.inline_waiting = inline_pool_.waiting();
    out.inline_queue = inline_pool_.capacity() - inline_pool_.threads();
    out.usage = quota_.usage();
    out.limits = quota_.limits();
    return out;
}

}  // namespace levqor::controld::queue
