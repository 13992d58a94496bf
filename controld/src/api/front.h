// SPDX-License-Identifier: Apache-2.0
// Private to the HTTP server: Front, the epoll loop that owns every
// connection, and the worker pools that run handlers for HttpServer.
// Connection state is touched only by the loop thread; request_stop(),
// wait_listener_closed() and complete() are safe from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "levqor/controld/api/host_allow_list.h"
#include "levqor/controld/api/http_server.h"
#include "levqor/controld/core/unique_fd.h"
#include "responder.h"
#include "worker_pool.h"

namespace levqor::controld::api {

// HttpServer's machinery: the epoll loop that owns every connection, and
// the worker pools that run handlers (the behaviour is described at
// HttpServer). Connections live only on the loop thread; a worker gets a
// copy of the request and hands back the response bytes through complete(),
// keyed by the connection's id (a connection closed meanwhile is simply no
// longer found).
//
// Thread-safety: run() on one thread; request_stop(), wait_listener_closed()
// and complete() from any thread.
class Front {
public:
    // `listener`: bound, listening, non-blocking. `listen_host` joins the
    // Host allow-list.
    Front(const Router& router, const Logger& log, const HttpServer::Options& options, UniqueFd listener,
          const std::string& listen_host);
    ~Front();
    Front(const Front&) = delete;
    Front& operator=(const Front&) = delete;

    // Serves until request_stop() and the requests in flight are answered.
    void run();
    void request_stop();
    // Waits (up to `timeout`) until the loop has stopped accepting.
    bool wait_listener_closed(std::chrono::milliseconds timeout);

private:
    using Clock = std::chrono::steady_clock;
    struct Connection;
    struct Completion {
        std::uint64_t id;
        std::string bytes;
        bool keep_alive;
    };

    void on_event(std::uint64_t key, std::uint32_t events);
    void accept_connections();
    void admit(UniqueFd fd);
    bool evict_oldest_unauthenticated();
    void pause_accepting();
    void resume_accepting();
    void on_readable(Connection& c);
    bool process(Connection& c);
    bool on_headers(Connection& c);
    void dispatch(Connection& c);
    void complete(std::uint64_t id, std::string bytes, bool keep_alive);
    void take_completions();
    void refuse(Connection& c, const RequestError& error);
    void begin_write(Connection& c, std::string bytes, bool keep_alive);
    void write_some(Connection& c);
    void response_written(Connection& c);
    void linger(Connection& c);
    void on_deadline(Connection& c);
    void expire_deadlines();
    int wait_ms() const;
    void begin_stop();
    void close(Connection& c);
    void drop(Connection& c, std::string_view reason);
    void note_capped(std::string_view reason);

    void set_deadline(Connection& c, Clock::time_point when);
    void set_events(Connection& c, std::uint32_t events);
    void mark_authenticated(Connection& c);
    httplib::Request take_request(Connection& c);

    const Logger& log_;
    const HttpServer::Options& options_;
    const Responder responder_;
    const HostAllowList hosts_;
    UniqueFd epoll_;
    UniqueFd wake_;  // eventfd: completions and stop
    UniqueFd listener_;

    // Loop-thread state.
    std::map<std::uint64_t, std::unique_ptr<Connection>> connections_;  // by id = by age
    std::set<std::pair<Clock::time_point, std::uint64_t>> deadlines_;
    std::uint64_t next_id_;
    std::size_t unauthenticated_ = 0;
    std::size_t in_flight_ = 0;  // requests handed to a worker, not yet back
    bool stopping_ = false;
    bool accept_paused_ = false;
    Clock::time_point accept_resume_{};
    Clock::time_point last_cap_warning_{};
    std::size_t capped_since_warning_ = 0;

    std::atomic<bool> stop_requested_{false};
    std::mutex mutex_;  // guards completions_ and listener_closed_
    std::condition_variable listener_closed_cv_;
    bool listener_closed_ = false;
    std::vector<Completion> completions_;

    // Last: destroyed (and joined) first, while everything their tasks touch
    // still exists.
    WorkerPool general_pool_;
    WorkerPool admin_pool_;
};

}  // namespace levqor::controld::api
