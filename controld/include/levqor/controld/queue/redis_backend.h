// SPDX-License-Identifier: Apache-2.0
// The queue's Backend on Redis: a stream, hashes and sorted sets, every state
// transition one Lua script, a local spool while Redis is away, and recovery
// of what a previous process held. Thread-safe: API calls share a small pool of
// connections, each consumer owns one.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "levqor/controld/core/log.h"
#include "levqor/controld/core/urls.h"
#include "levqor/controld/queue/backend.h"
#include "levqor/controld/net/redis_connection.h"
#include "levqor/controld/queue/spool.h"

namespace levqor::controld::queue {

// The queue on Redis (REDIS_URL): a stream `levqor:jobs` read by the
// consumer group `workers` (XREADGROUP COUNT n, one consumer per worker
// thread), a hash per job `levqor:job:<id>`, retries waiting in the sorted
// set `levqor:delayed`, the dead-letter queue in the sorted set `levqor:dlq`,
// idempotency keys `levqor:idem:<key>` (SET NX EX). Every transition is one
// Lua script, so it is atomic: enqueue (key + hashes + XADDs), complete (a
// whole batch: hashes, XACK, XDEL, ZADD), promote, reclaim (XAUTOCLAIM of
// deliveries idle past the visibility timeout, re-added to the stream),
// DLQ retry. A completion whose stream entry is no longer the job's current
// one (it was reclaimed meanwhile) changes nothing.
//
// Worker i's consumer is "controld-<instance>-<i>" (instance_id.h), the same
// after a restart: recover() at start claims whatever the consumers of this
// instance still hold and delivers it again at once; XAUTOCLAIM after the
// visibility timeout stays for consumers of other controlds that are gone
// or hung. Inline jobs are listed per instance (levqor:inline:<instance>)
// until they finish; levqor:payload_bytes counts the payload bytes stored
// (a job's payload is dropped when it succeeds). Every reply is
// shape-checked before use (redis_reply.h).
//
// When Redis cannot be reached, enqueue() writes to the Spool and
// maintain() drains it into Redis, oldest first, once Redis answers.
// No job is lost on a Redis restart as long as Redis persists what it
// acknowledged (appendonly yes; docs/controld.md).
//
// Thread-safety: every member may be called concurrently; API calls share
// a small pool of connections, each consumer owns one.
class RedisBackend final : public Backend {
public:
    RedisBackend(const RedisUrl& url, const std::string& spool_path, BackendSettings settings, const Logger& log);
    ~RedisBackend() override;

    std::string_view name() const override { return "redis"; }
    EnqueueResult enqueue(const EnqueueRequest& request) override;
    void complete_inline(const std::vector<Completion>& done, UnixMs now) override;
    std::unique_ptr<Consumer> consumer(unsigned worker) override;
    MaintenanceResult recover(UnixMs now) override;
    std::optional<JobRecord> get(const std::string& id) override;
    std::vector<JobRecord> dead(std::size_t limit) override;
    std::size_t retry_dead(const std::vector<std::string>& ids, bool all, UnixMs now) override;
    QueueStats stats(UnixMs now) override;
    MaintenanceResult maintain(UnixMs now) override;

    // For the consumers.
    std::unique_ptr<net::RedisConnection> connect() const;
    void mark(bool up);
    void complete_on(net::RedisConnection& connection, const std::vector<Completion>& done, UnixMs now);
    void ensure_group(net::RedisConnection& connection);
    // Delivers again at once what `consumer` holds (its worker runs nothing).
    MaintenanceResult take_back_own(net::RedisConnection& connection, const std::string& consumer);
    void log_taken_back(const std::string& consumer, const MaintenanceResult& r);

private:
    class Lease;
    std::unique_ptr<net::RedisConnection> acquire();
    void release(std::unique_ptr<net::RedisConnection> connection);
    EnqueueResult enqueue_redis(net::RedisConnection& connection, const EnqueueRequest& request);
    // The recover script: match "prefix" or "name"; instance "" leaves inline jobs.
    MaintenanceResult take_back(net::RedisConnection& connection, std::string_view match, std::string_view pattern,
                                std::string_view instance);
    std::size_t drain(UnixMs now);

    const RedisUrl url_;
    const BackendSettings settings_;
    const Logger& log_;
    Spool spool_;
    std::atomic<bool> up_{true};
    std::atomic<UnixMs> down_since_{0};
    std::mutex pool_mutex_;
    std::vector<std::unique_ptr<net::RedisConnection>> pool_;
    std::unique_ptr<net::RedisConnection> maintenance_;  // the scheduler thread's own
    UnixMs last_cleanup_ = 0;                            // scheduler thread only
};

}  // namespace levqor::controld::queue
