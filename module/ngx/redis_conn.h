// SPDX-License-Identifier: Apache-2.0
// One hiredis async connection per worker and Redis-backed zone, driven by
// nginx's own event loop: the hiredis socket is wrapped in an nginx
// connection (epoll, edge-triggered). The decisions of one event-loop
// iteration are gathered into one batch and sent as ONE script call when
// nginx has handled the iteration's events (a posted event), or earlier when
// the batch is full; the reply is fanned back to the waiting requests. Each
// batch has one deadline timer. Buffers (batches, the command, the reply)
// are kept and reused: after warm-up a decision allocates nothing. Setup
// (AUTH, SELECT, SCRIPT LOAD) happens off the request path, at worker start
// and on reconnect (with backoff). For a redis-sentinel:// zone each
// (re)connection first asks the Sentinels, one at a time over the same
// glue, for the master's address, and checks ROLE before SCRIPT LOAD
// (docs/redis-deployments.md "1a"). Not thread-safe: lives in one worker.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "levqor/limit_redis.h"
#include "ngx_shim.h"

struct redisAsyncContext;

namespace levqor::ngx {

// What a request waiting for Redis sees. Lives in the request pool; the
// connection refers to it only through its batch's slot, which the request
// clears when it stops waiting (closed), so a late reply never touches freed
// memory.
struct RedisWait;

class RedisConn {
public:
    // Counters the connection reports through the zone's metrics.
    struct Cells {
        std::size_t timeout, connection, error, unavailable;
    };
    static constexpr std::size_t kMaxBatches = 16;  // in flight (and open) at once, per connection
    static constexpr std::size_t kMaxBatchBytes = 256 * 1024;
    // Batches past their deadline and still unanswered that make the
    // connection count as dead (a stopped or partitioned Redis keeps TCP up):
    // it is dropped and made again, so the batches do not hold every slot.
    static constexpr std::size_t kMaxExpiredInFlight = kMaxBatches / 2;
    // AUTH, SELECT and SCRIPT LOAD must be answered within this, or the
    // connection is dropped and made again.
    static constexpr ngx_msec_t kSetupTimeoutMs = 2000;
    // Bytes of replies received but not yet whole that make the server count as broken.
    static constexpr std::size_t kMaxUnreadBytes = 1024 * 1024;

    RedisConn(std::string zone, redis::Endpoint endpoint, const redis::KeySecret& secret, ngx_msec_t timeout_ms,
              ngx_log_t* log, Cells cells);
    ~RedisConn();
    RedisConn(const RedisConn&) = delete;
    RedisConn& operator=(const RedisConn&) = delete;

    void start() noexcept;  // connect now (worker start)
    bool ready() const { return ready_; }

    // Adds the decision of n buckets to this iteration's batch. False: Redis
    // cannot take it now (not connected, too many batches in flight).
    bool submit(RedisWait* wait, const redis::BucketName* names, const limit::BucketRequest* reqs,
                std::size_t n) noexcept;

    redis::CircuitBreaker breaker;
    const Cells cells;
    const std::string zone;

    struct Reply;  // the reply being read (hiredis reader callbacks; see redis_conn.cpp)

private:
    struct Batch;

    void connect() noexcept;
    // redis-sentinel://: asks endpoint_.sentinels[sentinel_next_] for the master.
    void connect_sentinel() noexcept;
    // Wraps ac in an nginx connection and starts the setup deadline. False:
    // ac is freed and lost() was called.
    bool attach(redisAsyncContext* ac) noexcept;
    void send_script_load(redisAsyncContext* ac) noexcept;
    void schedule_reconnect() noexcept;
    void reconnect_now() noexcept;  // the next step at once (a timer: never inside a hiredis callback)
    Batch* take_batch() noexcept;
    void release(Batch* b) noexcept;
    void flush() noexcept;
    // Sends b (EVAL after NOSCRIPT); a failure is delivered to b's requests.
    void send(Batch* b) noexcept;
    void fail(Batch* b, const char* why, std::size_t cell) noexcept;
    void deliver(Batch* b, const void* reply) noexcept;
    void lost(const char* why) noexcept;
    // Frees the hiredis context now (outside its callbacks): the batches in
    // flight fail; then lost(why).
    void drop(const char* why) noexcept;

    // hiredis and nginx callbacks
    static void on_read(ngx_event_t* ev) noexcept;
    static void on_write(ngx_event_t* ev) noexcept;
    static void on_flush(ngx_event_t* ev) noexcept;
    static void on_deadline(ngx_event_t* ev) noexcept;
    static void on_reconnect_timer(ngx_event_t* ev) noexcept;
    static void on_setup_timeout(ngx_event_t* ev) noexcept;
    static void ev_add_write(void* data) noexcept;
    static void ev_noop(void* data) noexcept;
    static void ev_cleanup(void* data) noexcept;
    static void on_connected(const redisAsyncContext* ac, int status) noexcept;
    static void on_disconnected(const redisAsyncContext* ac, int status) noexcept;
    static void on_setup_reply(redisAsyncContext* ac, void* reply, void* privdata) noexcept;
    static void on_script_reply(redisAsyncContext* ac, void* reply, void* privdata) noexcept;
    static void on_sentinel_reply(redisAsyncContext* ac, void* reply, void* privdata) noexcept;
    static void on_role_reply(redisAsyncContext* ac, void* reply, void* privdata) noexcept;

    redis::Endpoint endpoint_;
    const redis::KeySecret secret_;
    const ngx_msec_t timeout_ms_;
    const std::string display_;  // endpoint_.display(), made once: the callbacks that log it must not allocate
    ngx_log_t* log_;
    std::string sha_;
    redisAsyncContext* ac_ = nullptr;
    ngx_connection_t* c_ = nullptr;
    bool ready_ = false;
    bool in_write_ = false;
    ngx_msec_t backoff_ms_ = 0;
    ngx_event_t reconnect_{};
    ngx_event_t flush_{};
    ngx_event_t setup_{};                // the setup's deadline
    std::size_t expired_in_flight_ = 0;  // batches past their deadline, still unanswered
    bool logged_down_ = false;
    // redis-sentinel:// (endpoint_.sentinel()): the master is asked for
    // before every data connection (after every loss), one Sentinel at a
    // time, starting with the last that answered.
    bool querying_ = false;      // ac_ is a Sentinel connection
    bool master_known_ = false;  // master_ is what a Sentinel just named: connect to it
    bool demoted_ = false;       // -READONLY seen on this data connection: it is being closed
    std::size_t sentinel_next_ = 0, sentinel_at_ = 0, sentinel_failed_ = 0;
    redis::MasterAddr master_{};
    std::vector<std::unique_ptr<Batch>> batches_;  // every batch made (at most kMaxBatches)
    std::vector<Batch*> free_;                     // capacity kMaxBatches: pushing never allocates
    Batch* open_ = nullptr;                        // gathering this iteration's decisions
    std::string command_;                          // the formatted command, capacity kept
    std::unique_ptr<Reply> reply_;
};

// The request side.
struct RedisWait {
    ngx_http_request_t* r;
    RedisWait** slot;  // the batch's slot while a reply is awaited
    ngx_event_t resume;
    enum class State : std::uint8_t { Waiting, Answered, Failed } state;
    const char* failure;         // why, when Failed
    redis::ScriptResult result;  // when Answered
};
// Lives in a pool cleanup's memory (no destructor runs).
static_assert(std::is_trivially_destructible_v<RedisWait>);

// Creates a wait for r (request pool; cleaned up with the request).
RedisWait* redis_wait_create(ngx_http_request_t* r) noexcept;

}  // namespace levqor::ngx
