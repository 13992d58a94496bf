// SPDX-License-Identifier: Apache-2.0
// Quota: the queue.max_depth and queue.max_bytes admission check, kept without
// a backend query per request (the scheduler's counts plus this process's
// admissions since). Thread-safe.
#pragma once

#include <cstdint>
#include <mutex>

namespace levqor::controld::queue {

// queue.max_depth and queue.max_bytes (docs/controld.md, "Quota"): an
// enqueue is admitted while the jobs not finished (waiting, running,
// retrying, delayed, spooled) and the payload bytes stored stay within the
// limits. The counts are what the backend reported at the last refresh (the
// scheduler's, every second) plus what this process admitted since: no
// query per request. Several controlds on one Redis each add only their own
// admissions, so together they may overshoot by what they admit in a second.
//
// Refresh protocol: mark() before the backend is asked, refresh(counts,
// mark) after; admissions counted in the mark are then in the counts.
// Thread-safety: every member may be called concurrently.
class Quota {
public:
    struct Usage {
        std::int64_t depth = 0;
        std::int64_t bytes = 0;
    };
    enum class Verdict { admitted, depth, bytes };

    Quota(std::int64_t max_depth, std::int64_t max_bytes);
    void set_limits(std::int64_t max_depth, std::int64_t max_bytes);

    // Counts `jobs` jobs of `bytes` payload bytes as stored, if they fit.
    Verdict admit(std::int64_t jobs, std::int64_t bytes);
    // An admission that stored nothing after all (an error, an idempotent replay).
    void cancel(std::int64_t jobs, std::int64_t bytes);

    Usage mark();
    void refresh(Usage counted, Usage mark);

    Usage usage();
    Usage limits();

private:
    std::mutex mutex_;
    Usage max_;
    Usage counted_;  // at the last refresh
    Usage since_;    // admitted since (minus cancellations)
};

}  // namespace levqor::controld::queue
