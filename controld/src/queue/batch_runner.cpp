// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/queue/batch_runner.h"

#include <algorithm>
#include <random>

namespace levqor::controld::queue {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

double unit_random() {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
}

BatchRunner::Clocks with_defaults(BatchRunner::Clocks clocks) {
    if (!clocks.steady) clocks.steady = [] { return Clock::now(); };
    if (!clocks.wall) clocks.wall = [] { return now_ms(); };
    if (!clocks.random) clocks.random = unit_random;
    return clocks;
}

}  // namespace

const char* const kInlineNotRun =
    "not run: controld was stopping (NEW_QUEUE_ENABLED=off runs each job once; not retried)";

BatchRunner::BatchRunner(const ExecutorRegistry& executors, const RetryPolicy& retry, milliseconds visibility_timeout,
                         const std::atomic<bool>& stopping, Recorder recorder, Clocks clocks)
    : executors_(executors),
      retry_(retry),
      budget_(visibility_timeout * 9 / 10),
      stopping_(stopping),
      recorder_(std::move(recorder)),
      clocks_(with_defaults(std::move(clocks))) {}

Outcome BatchRunner::outcome_of(const Delivery& job, const ExecutionResult& result) const {
    Outcome out;
    if (!result.result.is_null()) {
        out.result = result.result.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
    switch (result.kind) {
        case ExecutionResult::Kind::succeeded:
            out.kind = Outcome::Kind::succeeded;
            return out;
        case ExecutionResult::Kind::permanent:
            out.kind = Outcome::Kind::dead;
            out.error = result.error;
            return out;
        case ExecutionResult::Kind::retryable:
            break;
    }
    out.error = result.error;
    const auto delay = retry_.delay_after(job.type, job.attempt, clocks_.random());
    if (!delay) {
        out.kind = Outcome::Kind::dead;
        out.error = result.error + " (attempt " + std::to_string(job.attempt) + " of " +
                    std::to_string(retry_.max_attempts(job.type)) + ", no retry left)";
        return out;
    }
    out.kind = Outcome::Kind::retry;
    out.run_at = clocks_.wall() + delay->count();
    return out;
}

void BatchRunner::run(const std::vector<Delivery>& batch, Mode mode, const Sink& finished) const {
    const auto fetched = clocks_.steady();
    bool started_any = false;
    std::size_t i = 0;
    while (i < batch.size()) {
        const auto& type = batch[i].type;
        // A run of consecutive jobs of one type.
        std::size_t end = i + 1;
        while (end < batch.size() && batch[end].type == type) ++end;
        const Executor* executor = executors_.find(type);
        if (executor == nullptr) {
            refuse_unknown(batch, i, end, finished);
        } else if (!run_type(batch, i, end, *executor, mode, started_any, fetched, finished)) {
            return;
        }
        i = end;
    }
}

void BatchRunner::refuse_unknown(const std::vector<Delivery>& batch, std::size_t begin, std::size_t end,
                                 const Sink& finished) const {
    const auto& type = batch[begin].type;
    std::vector<Completion> done;
    for (std::size_t i = begin; i < end; ++i) {
        Outcome dead;
        dead.kind = Outcome::Kind::dead;
        dead.error = "unknown job type \"" + type + "\" (no executor for it in this controld)";
        done.push_back({batch[i], dead});
    }
    recorder_(type, done, 0);
    finished(std::move(done));
}

bool BatchRunner::run_type(const std::vector<Delivery>& batch, std::size_t begin, std::size_t end,
                           const Executor& executor, Mode mode, bool& started_any, Clock::time_point fetched,
                           const Sink& finished) const {
    const auto& type = batch[begin].type;
    const bool queued = mode == Mode::queued;
    std::size_t i = begin;
    while (i < end) {
        const bool instant = executor.max_duration(batch[i]) == milliseconds(0);
        const std::size_t chunk_end =
            instant ? end : std::min(end, i + std::max<std::size_t>(executor.concurrency(), 1));
        milliseconds longest{0};
        std::vector<const Delivery*> chunk;
        for (std::size_t k = i; k < chunk_end; ++k) {
            chunk.push_back(&batch[k]);
            longest = std::max(longest, executor.max_duration(batch[k]));
        }
        // The first group always runs (config keeps every timeout under the
        // visibility timeout), so a batch always makes progress.
        const bool no_time = queued && started_any && clocks_.steady() - fetched + longest > budget_;
        if (stopping_ || no_time) {
            give_up(batch, i, mode, finished);
            return false;
        }
        started_any = true;
        const auto started = clocks_.steady();
        std::vector<ExecutionResult> results;
        try {
            results = executor.run(chunk);
        } catch (const std::exception& e) {
            results.assign(chunk.size(), ExecutionResult{ExecutionResult::Kind::retryable,
                                                         std::string("executor failed: ") + e.what(), nullptr});
        }
        const double seconds = std::chrono::duration<double>(clocks_.steady() - started).count();
        std::vector<Completion> done;
        done.reserve(chunk.size());
        for (std::size_t k = 0; k < chunk.size(); ++k) {
            done.push_back({*chunk[k], outcome_of(*chunk[k], results[k])});
            // No retries inline: the caller has the answer and decides.
            if (!queued && done.back().outcome.kind == Outcome::Kind::retry) {
                done.back().outcome.kind = Outcome::Kind::dead;
            }
        }
        recorder_(type, done, instant ? seconds / static_cast<double>(chunk.size()) : seconds);
        finished(std::move(done));
        i = chunk_end;
    }
    return true;
}

// Not started. Queued: back to the queue at once, no attempt counted.
// Inline: dead (inline jobs run once, now or not at all).
void BatchRunner::give_up(const std::vector<Delivery>& batch, std::size_t from, Mode mode, const Sink& finished) const {
    const bool queued = mode == Mode::queued;
    std::vector<Completion> rest;
    for (std::size_t k = from; k < batch.size(); ++k) {
        Outcome outcome;
        if (queued) {
            outcome.kind = Outcome::Kind::released;
        } else {
            outcome.kind = Outcome::Kind::dead;
            outcome.error = kInlineNotRun;
        }
        rest.push_back({batch[k], outcome});
    }
    if (!queued) {
        for (const auto& c : rest) recorder_(c.delivery.type, {c}, 0);
    }
    finished(std::move(rest));
}

}  // namespace levqor::controld::queue
