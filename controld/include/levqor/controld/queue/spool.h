// SPDX-License-Identifier: Apache-2.0
// The Redis backend's local spool: a SQLite file that keeps enqueue requests
// durably while Redis cannot be reached, drained in order once it answers.
// Thread-safe (one mutex).
#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "levqor/controld/queue/backend.h"
#include "levqor/controld/queue/sqlite_db.h"

namespace levqor::controld::queue {

// Where the Redis backend keeps enqueue requests while Redis cannot be
// reached: a local SQLite file (<data_dir>/queue-spool.sqlite, WAL), one
// row per request and one per job, so a 202 is durable before it is sent.
// The backend drains it in order when Redis answers again. An
// Idempotency-Key is unique within the spool (the Redis keys cannot be
// checked while Redis is away; see docs/controld.md).
//
// Thread-safety: every member may be called concurrently (one mutex).
class Spool {
public:
    explicit Spool(const std::string& path);

    // Stores the request (deliver must be true). With a key already in the
    // spool: stores nothing and answers the original ids (replayed).
    EnqueueResult add(const EnqueueRequest& request);

    // The oldest request, with its sequence number for remove().
    std::optional<std::pair<std::int64_t, EnqueueRequest>> oldest();
    void remove(std::int64_t seq);

    std::int64_t size();   // jobs
    std::int64_t bytes();  // their payload bytes
    std::optional<JobRecord> find(const std::string& id);

private:
    std::mutex mutex_;
    SqliteDb db_;
    std::int64_t size_ = 0;
    std::int64_t bytes_ = 0;
};

}  // namespace levqor::controld::queue
