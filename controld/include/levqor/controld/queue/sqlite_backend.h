// SPDX-License-Identifier: Apache-2.0
// The queue's Backend in one SQLite file (the default): WAL mode, every state
// transition one transaction. Thread-safe: members serialise on the
// connection's mutex.
#pragma once

#include <condition_variable>
#include <mutex>
#include <string>

#include "levqor/controld/queue/backend.h"
#include "levqor/controld/queue/sqlite_db.h"

namespace levqor::controld::queue {

// The embedded queue: one SQLite file (<data_dir>/queue.sqlite, WAL) with
// a `jobs` table (a lease column holds a job while a worker runs it) and an
// `idempotency` table whose primary key makes a second insert of one key
// fail, so concurrent requests cannot both create jobs. One connection,
// guarded by a mutex; every fetch, completion batch and enqueue is one
// transaction. docs/controld.md, "Job queue", has the schema.
//
// One controld owns the file: recover() at start takes back every lease
// (they can only be a previous process's). The payload of a job that
// succeeded is dropped (its record keeps state and result); the bytes of
// the payloads still stored are counted here (a scan at open, then kept).
//
// Thread-safety: every member may be called concurrently (they serialise on
// the connection's mutex); consumers may be used from their own threads.
class SqliteBackend final : public Backend {
public:
    SqliteBackend(const std::string& path, BackendSettings settings);

    std::string_view name() const override { return "sqlite"; }
    EnqueueResult enqueue(const EnqueueRequest& request) override;
    void complete_inline(const std::vector<Completion>& done, UnixMs now) override;
    std::unique_ptr<Consumer> consumer(unsigned worker) override;
    MaintenanceResult recover(UnixMs now) override;
    std::optional<JobRecord> get(const std::string& id) override;
    std::vector<JobRecord> dead(std::size_t limit) override;
    std::size_t retry_dead(const std::vector<std::string>& ids, bool all, UnixMs now) override;
    QueueStats stats(UnixMs now) override;
    MaintenanceResult maintain(UnixMs now) override;
    void notify() override;

    // For the consumers.
    std::vector<Delivery> fetch(const std::string& token, std::size_t max, std::chrono::milliseconds wait);
    void complete(const std::vector<Completion>& done, UnixMs now);

private:
    std::vector<Delivery> fetch_now(const std::string& token, std::size_t max, UnixMs now);
    // Leases that ran out by `expired_by` go back to the queue (due at once),
    // or to the DLQ after max_redeliveries. Caller holds mutex_ and a transaction.
    void reclaim_leases(UnixMs now, UnixMs expired_by, MaintenanceResult& r);

    const BackendSettings settings_;
    const std::string run_;  // this process's part of the lease tokens
    std::mutex mutex_;
    SqliteDb db_;
    UnixMs last_expiry_ = 0;
    std::int64_t payload_bytes_ = 0;  // guarded by mutex_

    std::mutex wake_mutex_;
    std::condition_variable wake_;
    std::uint64_t wake_generation_ = 0;
};

}  // namespace levqor::controld::queue
