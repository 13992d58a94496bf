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
// Thread-safety: every member may be called concurrently (they serialise on
// the connection's mutex); consumers may be used from their own threads.
class SqliteBackend final : public Backend {
 public:
  SqliteBackend(const std::string& path, BackendSettings settings);

  std::string_view name() const override { return "sqlite"; }
  EnqueueResult enqueue(const EnqueueRequest& request) override;
  void complete_inline(const std::vector<Completion>& done, UnixMs now) override;
  std::unique_ptr<Consumer> consumer(const std::string& name) override;
  std::optional<JobRecord> get(const std::string& id) override;
  std::vector<JobRecord> dead(std::size_t limit) override;
  std::size_t retry_dead(const std::vector<std::string>& ids, bool all, UnixMs now) override;
  QueueStats stats(UnixMs now) override;
  MaintenanceResult maintain(UnixMs now) override;
  void notify() override;

  // For the consumers.
  std::vector<Delivery> fetch(const std::string& token, std::size_t max,
                              std::chrono::milliseconds wait);
  void complete(const std::vector<Completion>& done, UnixMs now);

 private:
  std::vector<Delivery> fetch_now(const std::string& token, std::size_t max, UnixMs now);

  const BackendSettings settings_;
  std::mutex mutex_;
  SqliteDb db_;
  UnixMs last_expiry_ = 0;

  std::mutex wake_mutex_;
  std::condition_variable wake_;
  std::uint64_t wake_generation_ = 0;
};

}  // namespace levqor::controld::queue
