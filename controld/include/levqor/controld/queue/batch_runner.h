// SPDX-License-Identifier: Apache-2.0
// How a worker runs one fetched batch of jobs: the batch-execution policy of
// the queue, apart from its threads, its backend and its metrics so that it
// can be tested with a fake Executor and a fake clock. Consecutive jobs of
// one type run together in groups of the executor's concurrency() (jobs that
// finish at once, as one group); each group's outcomes go to the sink as
// soon as the group is done, so a kill re-runs at most the groups in flight.
// A group is not started after stop, nor, for queued jobs, when it could not
// finish within 90 % of the visibility timeout (the first group always
// runs): the rest of the batch is then released (queued: delivered again at
// once, no attempt counted) or dead (inline jobs run once or not at all).
// A failed attempt becomes a retry at its policy's delay, or dead when no
// retry is left (inline jobs are never retried). Thread-safety: run() may
// be called from several threads at once; the recorder and the sink must
// then be thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "levqor/controld/queue/executor.h"
#include "levqor/controld/queue/job.h"
#include "levqor/controld/queue/retry_policy.h"

namespace levqor::controld::queue {

class BatchRunner {
public:
    // queued: from a worker's fetch; inline_run: NEW_QUEUE_ENABLED=off, run
    // once for the caller.
    enum class Mode { queued, inline_run };
    using Sink = std::function<void(std::vector<Completion>&& done)>;
    // Counts what jobs of `type` came to; seconds_each is the time one
    // attempt took (0 for jobs that did not run). Released jobs are passed
    // too, for the recorder to skip.
    using Recorder =
        std::function<void(const std::string& type, const std::vector<Completion>& done, double seconds_each)>;
    // Time and chance; the defaults are the real ones.
    struct Clocks {
        std::function<std::chrono::steady_clock::time_point()> steady;  // durations, the budget
        std::function<UnixMs()> wall;                                   // a retry's run_at
        std::function<double()> random;                                 // in [0, 1): the retry jitter
    };

    // Everything is borrowed and must outlive the runner; `stopping` is read
    // before each group starts.
    BatchRunner(const ExecutorRegistry& executors, const RetryPolicy& retry,
                std::chrono::milliseconds visibility_timeout, const std::atomic<bool>& stopping, Recorder recorder,
                Clocks clocks = {});

    // Runs `batch`, handing every delivery's completion to `finished` once,
    // group by group, in the batch's order.
    void run(const std::vector<Delivery>& batch, Mode mode, const Sink& finished) const;

    // What one attempt's result means for the job: succeeded, dead, or a
    // retry at its time (dead when no retry is left).
    Outcome outcome_of(const Delivery& job, const ExecutionResult& result) const;

private:
    // Runs the consecutive jobs [begin, end) of one type; false when it
    // stopped early (the rest of the batch is then finished too).
    bool run_type(const std::vector<Delivery>& batch, std::size_t begin, std::size_t end, const Executor& executor,
                  Mode mode, bool& started_any, std::chrono::steady_clock::time_point fetched,
                  const Sink& finished) const;
    void refuse_unknown(const std::vector<Delivery>& batch, std::size_t begin, std::size_t end,
                        const Sink& finished) const;
    void give_up(const std::vector<Delivery>& batch, std::size_t from, Mode mode, const Sink& finished) const;

    const ExecutorRegistry& executors_;
    const RetryPolicy& retry_;
    const std::chrono::milliseconds budget_;
    const std::atomic<bool>& stopping_;
    Recorder recorder_;
    Clocks clocks_;
};

// The message of an inline job that was not run because controld stopped.
extern const char* const kInlineNotRun;

}  // namespace levqor::controld::queue
