// SPDX-License-Identifier: Apache-2.0
// controld's HTTP/1.1 server (docs/controld.md, "The HTTP front"): its options
// (limits, timeouts, thread pools, hooks) and its lifecycle; the event loop and
// worker pools behind it are private (src/api/front.h). start() once from one
// thread, stop() and the waits from any thread; handlers run concurrently on
// the worker threads.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <httplib.h>

#include "levqor/controld/api/request_parser.h"
#include "levqor/controld/api/router.h"
#include "levqor/controld/core/listen_address.h"
#include "levqor/controld/core/log.h"

namespace levqor::controld::api {

// The server could not listen where it was asked to; what() says where and
// why (address in use, permission denied, unknown host, ...).
class ListenError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Who sent a request, as far as the front can tell from its headers.
enum class Caller {
    anonymous,      // no valid token
    authenticated,  // a valid token of a role without the reserved pool
    admin,          // the admin token: served by the reserved pool
};

class Front;

// controld's HTTP/1.1 server: one event-loop thread that accepts
// connections and reads requests without blocking, and worker pools that run
// the handlers (docs/controld.md, "The HTTP front").
//
// What the loop enforces before a handler runs (docs/api.md, "Limits"):
// - the caps of RequestParser: request line (414), header bytes and count
//   (431), body size whatever the framing (413, refused as soon as the
//   declared or decoded size passes the cap), no compressed bodies (415);
// - deadlines: the request line and headers within header_timeout (then 408
//   and close), the body within body_timeout with no pause longer than
//   read_timeout (408), the response written within write_timeout, an idle
//   keep-alive connection closed after keep_alive_timeout;
// - the Host allow-list (421);
// - a request without a valid token (classify() says anonymous) that has a
//   body is refused with 401 before the body is read: every route that takes
//   a body needs a token;
// - max_connections in total, of which at most
//   max_unauthenticated_connections have not yet sent a request with a valid
//   token. A new connection past either cap closes the oldest
//   unauthenticated connection that is not being answered (idle, slow or
//   lingering), so slow clients cannot lock the admin out; when there is
//   none to close, the new connection is closed instead.
//
// Complete requests go to a worker pool: those of admin callers to a
// reserved pool of admin_threads, the rest to worker_threads. Responses are
// written by the loop, non-blocking: a client that does not read holds no
// thread. Every refusal is a JSON error body (api/errors.h) and closes the
// connection.
//
// Lifecycle: construct, start() once (binds synchronously, then serves on
// the background thread), stop() to stop accepting, and wait_stopped() until
// the requests in flight have been answered. The destructor stops and
// joins, so an HttpServer never outlives its threads.
//
// Thread-safety: start() must be called once, from one thread. stop(),
// stopped() and wait_stopped() are safe from any thread, concurrently.
// Handlers run concurrently on the worker threads; classify runs on the
// loop thread. The Logger must outlive the server.
class HttpServer {
public:
    struct Options {
        RequestLimits limits;
        std::chrono::milliseconds header_timeout{10000};
        std::chrono::milliseconds body_timeout{60000};
        std::chrono::milliseconds read_timeout{5000};  // longest pause within a body
        std::chrono::milliseconds write_timeout{5000};
        std::chrono::milliseconds keep_alive_timeout{5000};
        std::size_t max_connections = 512;
        std::size_t max_unauthenticated_connections = 256;
        unsigned worker_threads = 8;
        unsigned admin_threads = 2;
        // Host names accepted besides localhost, 127.0.0.1, ::1, the listen host
        // and the address each connection arrived on.
        std::vector<std::string> allowed_hosts;
        // Exact paths whose successful requests are access-logged at debug level
        // rather than info (health checks poll every few seconds).
        std::set<std::string> quiet_paths;
        // Says who sent a request, from its headers; unset: every request counts
        // as authenticated (no token checks in the front). Runs on the loop
        // thread: must be quick and must not throw.
        std::function<Caller(const httplib::Request&)> classify;
        // Called after a handler threw (the client gets a 500 JSON error); the
        // error tracker listens here. Runs on the request's worker thread.
        std::function<void(const httplib::Request&, const std::string& error)> on_exception;
        // Called once per response, when it is complete and about to be written
        // (for request metrics); on a worker thread, or on the loop thread for
        // the front's own refusals.
        std::function<void(const httplib::Request&, const httplib::Response&)> on_response;
        // Called on the loop thread when the front closes a connection without
        // an answer: "evicted" (the oldest unauthenticated one, to make room),
        // "refused" (no room), "timeout" (header, body, write or linger deadline
        // without a chance to answer).
        std::function<void(std::string_view reason)> on_dropped;
    };

    HttpServer(const Router& router, const Logger& log, Options options);
    ~HttpServer();
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;

    // Binds and starts serving. Returns the address actually bound (with the
    // real port when `where.port` is 0). Throws ListenError.
    // `before_serving` runs once bound and before the first connection is
    // accepted (clients that connect meanwhile wait in the listen backlog); if
    // it throws, nothing is served and the exception propagates.
    ListenAddress start(const ListenAddress& where, const std::function<void()>& before_serving = {});

    // Stops accepting connections and closes idle ones; requests in flight
    // are answered (with Connection: close). Idempotent.
    void stop();

    // True once the loop has ended and every in-flight request was answered
    // (or if the server never started).
    bool stopped() const;
    // Waits up to `timeout` for stopped(); returns stopped().
    bool wait_stopped(std::chrono::milliseconds timeout) const;

private:
    void serve();

    const Logger& log_;
    const Options options_;
    const Router router_;
    std::unique_ptr<Front> front_;

    mutable std::mutex mutex_;
    mutable std::condition_variable stopped_cv_;
    bool started_ = false;
    bool finished_ = false;
    std::thread thread_;  // last member: started after everything it uses
};

}  // namespace levqor::controld::api
