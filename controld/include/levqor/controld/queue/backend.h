// SPDX-License-Identifier: Apache-2.0
// The queue's storage interface: a Backend (SQLite or Redis) stores jobs and
// makes every state transition atomic, a Consumer is one worker's view of it,
// and the requests, results and settings they exchange. Backends are
// thread-safe; a Consumer belongs to its worker thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "levqor/controld/core/dependency_error.h"
#include "levqor/controld/queue/job.h"

namespace levqor::controld::queue {

// The storage could not do what was asked (Redis down with no spool to
// fall back to, a SQLite I/O error). what() says why, without credentials.
// The same type net::RedisConnection throws.
using BackendError = DependencyError;

struct EnqueueRequest {
    std::vector<NewJob> jobs;
    std::optional<std::string> idempotency_key;
    std::string fingerprint;  // of the request's content (JobRequest::fingerprint)
    // false: the jobs are run by the caller (NEW_QUEUE_ENABLED=off): stored as
    // running, never delivered to a worker; finished with complete_inline().
    bool deliver = true;
    UnixMs now = 0;
};

struct EnqueueResult {
    std::vector<std::string> ids;  // the request's jobs, or the original ones on a replay
    bool replayed = false;         // the key was seen before: nothing was stored
    bool key_conflict = false;     // the key was seen before with another body
    bool spooled = false;          // Redis was away: the jobs wait in the local spool
};

// What GET /ops/queue_health and the gauges report.
struct QueueStats {
    std::int64_t queued = 0;   // waiting for a worker (first attempt or retry due)
    std::int64_t delayed = 0;  // retries waiting for their time
    std::int64_t running = 0;  // held by workers (and inline jobs not finished)
    std::int64_t dead = 0;     // the dead-letter queue
    double oldest_age_s = 0;   // age of the oldest job waiting for a worker
    // Payload bytes stored: every job not succeeded (waiting, running,
    // retrying, dead); a job's payload is dropped when it succeeds.
    std::int64_t payload_bytes = 0;
    std::int64_t spool = 0;        // jobs in the local spool (Redis backend)
    std::int64_t spool_bytes = 0;  // their payload bytes
    bool up = true;                // the backend answers
    std::string error;             // why not
};

// One round of background work, for the scheduler thread.
struct MaintenanceResult {
    std::size_t promoted = 0;       // delayed retries made deliverable
    std::size_t reclaimed = 0;      // deliveries whose visibility timeout ran out, delivered again
    std::size_t dead_lettered = 0;  // of those, jobs delivered too often: dead
    std::size_t drained = 0;        // jobs moved from the spool to Redis
    std::size_t expired = 0;        // old records and idempotency keys removed
    std::size_t inline_dead = 0;    // recover(): inline jobs a previous process left unfinished
};

struct BackendSettings {
    std::chrono::milliseconds visibility_timeout{30000};
    std::chrono::seconds idempotency_ttl{86400};
    std::chrono::seconds retention{7 * 86400};
    // A job whose visibility timeout ran out this many times is dead
    // (a job that crashes or hangs its worker every time).
    int max_redeliveries = 5;
    // This installation (instance_id.h): names its Redis consumers
    // "controld-<instance>-<worker index>" and its set of inline jobs.
    std::string instance = "00000000000000000000000000000000";
};

// A worker's view of the queue: one per worker thread, owning its own
// connection. Not thread-safe: use it from its thread only.
class Consumer {
public:
    virtual ~Consumer() = default;
    // Up to `max` jobs, waiting up to `wait` for the first. Each is held for
    // the visibility timeout. Throws BackendError (the worker backs off).
    virtual std::vector<Delivery> fetch(std::size_t max, std::chrono::milliseconds wait) = 0;
    // Records the outcomes, all in one transaction / round trip. A completion
    // whose delivery is stale (the job was delivered again meanwhile) is
    // ignored. Throws BackendError; nothing is then recorded and the jobs are
    // delivered again after the visibility timeout.
    virtual void complete(const std::vector<Completion>& done, UnixMs now) = 0;
};

// Where jobs live: SqliteBackend (default) or RedisBackend (REDIS_URL).
// Every state transition is atomic (one SQLite transaction, one Lua script):
// a crash between two cannot lose a job or run it more than at-least-once
// allows. Thread-safety: every member may be called concurrently.
class Backend {
public:
    virtual ~Backend() = default;
    virtual std::string_view name() const = 0;  // "sqlite" or "redis"

    // Stores the jobs, or with an idempotency key seen within its TTL, stores
    // nothing and answers the original ids. Atomic: concurrent requests with
    // one key create the jobs once. Throws BackendError.
    virtual EnqueueResult enqueue(const EnqueueRequest& request) = 0;
    // Finishes jobs stored with deliver = false.
    virtual void complete_inline(const std::vector<Completion>& done, UnixMs now) = 0;

    // The consumer of worker `worker` (0, 1, ...) of this installation.
    virtual std::unique_ptr<Consumer> consumer(unsigned worker) = 0;

    // Takes back, at once, what an earlier process of this installation held
    // when it ended (kill -9, a crash): its deliveries are delivered again
    // now (each counts as a redelivery), its unfinished inline jobs are dead
    // (inline jobs run once). Call before any consumer of this process
    // fetches: SQLite, one controld per file, takes back every lease; Redis
    // every delivery held by a consumer named for this instance. Throws
    // BackendError (call again later).
    virtual MaintenanceResult recover(UnixMs now) = 0;

    // nullopt: no such job (or it expired). Throws BackendError.
    virtual std::optional<JobRecord> get(const std::string& id) = 0;
    // Dead jobs, newest first. Throws BackendError.
    virtual std::vector<JobRecord> dead(std::size_t limit) = 0;
    // Puts dead jobs back in the queue as new (attempts from zero); ids that
    // are not dead are skipped. Returns how many. Throws BackendError.
    virtual std::size_t retry_dead(const std::vector<std::string>& ids, bool all, UnixMs now) = 0;

    // Never throws: a backend that does not answer reports up = false.
    virtual QueueStats stats(UnixMs now) = 0;

    // Promotes due retries, reclaims deliveries past the visibility timeout,
    // drains the spool, expires old records. Called by one thread.
    virtual MaintenanceResult maintain(UnixMs now) = 0;

    // Wakes consumers waiting in fetch() (new jobs, or shutdown).
    virtual void notify() {}
};

}  // namespace levqor::controld::queue
