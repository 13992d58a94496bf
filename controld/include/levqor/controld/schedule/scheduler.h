// SPDX-License-Identifier: Apache-2.0
// The scheduler (design.md "Scheduler"; docs/controld.md "Schedules"): one
// thread that enqueues each schedule's job at its cron slots through the
// queue, with the Idempotency-Key schedule:<name>:<slot ISO time>, so any
// number of controld instances on one Redis, and restarts, give one job per
// slot (the queue's idempotency store dedupes). With NEW_QUEUE_ENABLED off
// the job runs inline through the same executors, waited for on the
// scheduler's thread (never an HTTP thread).
//
// Time is injected: tick(now) does one round (due slots, catch-up at the
// first round, the outcomes of the jobs it follows); the thread only calls
// tick() with the clock and waits for the next slot. Unit tests call tick()
// with the times they want.
//
// Thread-safety: construct and start() from one thread; list(), run_now(),
// reconfigure() and tick() may be called concurrently.
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "levqor/controld/core/log.h"
#include "levqor/controld/metrics/registry.h"
#include "levqor/controld/queue/service.h"
#include "levqor/controld/schedule/cron.h"
#include "levqor/controld/schedule/settings.h"
#include "levqor/controld/tracking/tracker.h"

namespace levqor::controld::schedule {

// POST /ops/schedules/{name}/run for a name that is not a schedule (404).
class UnknownSchedule : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

class Scheduler {
public:
    using Clock = std::function<Seconds()>;
    // Whether jobs go through the queue (NEW_QUEUE_ENABLED shadow/on) or run
    // inline (off).
    using Queued = std::function<bool()>;

    struct Settings {
        std::vector<ScheduleSpec> schedules;  // resolve_schedules()
        std::chrono::seconds catch_up{21600};
    };

    // What GET /ops/schedules shows of one schedule.
    struct Status {
        std::string name;
        std::optional<std::string> cron;  // nullopt: disabled
        std::string job_type;
        std::optional<Seconds> next_run_at;
        std::optional<Seconds> last_run_at;
        std::optional<std::string> last_status;  // queued, running, retrying, succeeded, failed
        std::optional<std::string> last_job_id;
    };

    // Checks every schedule's job as POST /jobs would (a ConfigError naming
    // schedules.<name>.job). A built-in whose job type is not registered
    // (its component is not in this build, or registers later) is listed
    // but not scheduled (logged at start and on SIGHUP).
    Scheduler(Settings settings, queue::QueueService& queue, Queued queued, metrics::Registry& registry,
              const Logger& log, tracking::ErrorTracker& errors, Clock clock = nullptr);
    ~Scheduler();
    Scheduler(const Scheduler&) = delete;
    Scheduler& operator=(const Scheduler&) = delete;

    // Starts the thread (after the queue started).
    void start();
    // Tells the thread to end after the round it is in (which may wait for
    // an inline job up to queue.inline_wait_ms); returns at once. The
    // destructor joins it.
    void stop();

    // SIGHUP. Throws ConfigError (and changes nothing) for a bad job.
    void reconfigure(Settings settings);

    // One round at `now`: the first round runs the most recent slot missed
    // within catch_up (if any); then every slot that is due runs (several
    // missed slots of one schedule: only the latest); then the outcomes of
    // the jobs followed are read back.
    void tick(Seconds now);

    std::vector<Status> list() const;
    // POST /ops/schedules/{name}/run: the job now, without an Idempotency-
    // Key; returns its id. Queued: enqueued here (throws QueueFull,
    // BackendError). Inline: handed to the scheduler's thread. Throws
    // UnknownSchedule, queue::InvalidJob.
    std::string run_now(const std::string& name);

    // The next wake-up after `now`: the earliest next slot, at most 1 s away
    // (outcomes are polled once a second).
    Seconds wake_at(Seconds now) const;

private:
    struct State {
        ScheduleSpec spec;
        std::optional<Cron> cron;
        std::optional<Seconds> next;
        std::optional<Seconds> last_run_at;
        std::optional<Seconds> last_slot;
        std::optional<std::string> last_status;
        std::optional<std::string> last_job_id;
        bool follow = false;   // last_job_id not in a final state yet
        bool counted = false;  // this instance enqueued it: count its outcome
    };

    struct Manual {
        std::string name;
        queue::JobRequest request;
    };

    std::map<std::string, State> build(const Settings& settings) const;
    // Sets state.next (and the period gauge) from `now`.
    void plan(State& state, Seconds now);
    // Enqueues (or runs inline) a job of schedule `name`, outside the lock;
    // then records what happened in its state and the metrics.
    void fire(const std::string& name, const queue::JobRequest& request, const std::optional<std::string>& key,
              Seconds now);
    void follow_outcomes(Seconds now);
    void count(const std::string& name, const char* outcome);
    void loop();

    queue::QueueService& queue_;
    Queued queued_;
    const Logger& log_;
    tracking::ErrorTracker& errors_;
    Clock clock_;

    mutable std::mutex mutex_;
    std::map<std::string, State> states_;
    std::chrono::seconds catch_up_;
    bool started_round_ = false;
    std::vector<Manual> manual_;  // run_now in inline mode: jobs for the thread
    std::condition_variable wake_;
    bool stopping_ = false;
    std::thread thread_;

    metrics::Family<metrics::Gauge>& last_success_;
    metrics::Family<metrics::Counter>& runs_;
    metrics::Family<metrics::Gauge>& period_;
};

}  // namespace levqor::controld::schedule
