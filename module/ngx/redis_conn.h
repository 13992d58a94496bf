// SPDX-License-Identifier: Apache-2.0
// One hiredis async connection per worker and Redis-backed zone, driven by
// nginx's own event loop: the hiredis socket is wrapped in an nginx
// connection (epoll, edge-triggered), commands queued during one loop
// iteration are written together (pipelining), replies are dispatched to the
// waiting requests. Setup (AUTH, SELECT, SCRIPT LOAD) happens off the request
// path, at worker start and on reconnect (with backoff). Not thread-safe:
// lives in one worker.
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
// connection refers to it only through a Pending record, which the request
// detaches when it stops waiting (deadline, close), so a late reply never
// touches freed memory.
struct RedisWait;

class RedisConn {
public:
    // Counters the connection reports through the zone's metrics.
    struct Cells {
        std::size_t timeout, connection, error, unavailable;
    };

    RedisConn(std::string zone, redis::Endpoint endpoint, ngx_log_t* log, Cells cells);
    ~RedisConn();
    RedisConn(const RedisConn&) = delete;
    RedisConn& operator=(const RedisConn&) = delete;

    void start() noexcept;  // connect now (worker start)
    bool ready() const { return ready_; }

    // The start of an EVALSHA command for `args` more arguments (RESP); the
    // caller appends the arguments (numkeys, keys, ARGV) to it.
    std::string evalsha_head(std::size_t args) const;
    // Queues the command for the wait (written at the end of this loop
    // iteration). `tail_at`: where the arguments after the SHA start.
    bool submit(RedisWait* wait, std::string command, std::size_t tail_at, std::size_t tail_args,
                std::size_t buckets) noexcept;

    redis::CircuitBreaker breaker;
    const Cells cells;
    const std::string zone;

private:
    struct Pending;

    void connect() noexcept;
    void schedule_reconnect() noexcept;
    // Queues p's command (EVAL after NOSCRIPT); a failure is delivered to p.
    void send(Pending* p) noexcept;
    void deliver(Pending* p, const void* reply) noexcept;
    void lost(const char* why) noexcept;

    // hiredis and nginx callbacks
    static void on_read(ngx_event_t* ev) noexcept;
    static void on_write(ngx_event_t* ev) noexcept;
    static void on_reconnect_timer(ngx_event_t* ev) noexcept;
    static void ev_add_write(void* data) noexcept;
    static void ev_noop(void* data) noexcept;
    static void ev_cleanup(void* data) noexcept;
    static void on_connected(const redisAsyncContext* ac, int status) noexcept;
    static void on_disconnected(const redisAsyncContext* ac, int status) noexcept;
    static void on_setup_reply(redisAsyncContext* ac, void* reply, void* privdata) noexcept;
    static void on_script_reply(redisAsyncContext* ac, void* reply, void* privdata) noexcept;

    redis::Endpoint endpoint_;
    const std::string display_;  // endpoint_.display(), made once: the callbacks that log it must not allocate
    ngx_log_t* log_;
    std::string sha_;
    redisAsyncContext* ac_ = nullptr;
    ngx_connection_t* c_ = nullptr;
    bool ready_ = false;
    bool in_write_ = false;
    ngx_msec_t backoff_ms_ = 0;
    ngx_event_t reconnect_{};
    bool logged_down_ = false;
};

// The request side.
struct RedisWait {
    ngx_http_request_t* r;
    void* pending;  // the connection's record while a reply is awaited
    ngx_event_t deadline;
    ngx_event_t resume;
    enum class State : std::uint8_t { Waiting, Answered, Failed } state;
    const char* failure;          // why, when Failed
    redis::ScriptResult* result;  // in the request pool (trivially destructible)
};
// Lives in a pool cleanup's memory (no destructor runs).
static_assert(std::is_trivially_destructible_v<RedisWait>);

// Creates a wait for r (request pool; cleaned up with the request).
RedisWait* redis_wait_create(ngx_http_request_t* r, ngx_msec_t timeout) noexcept;

}  // namespace levqor::ngx
