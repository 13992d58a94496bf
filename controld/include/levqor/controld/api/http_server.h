#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>

#include <httplib.h>

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

// Owns an httplib::Server and the thread that runs its accept loop.
//
// Lifecycle: construct (routes installed), start() once (binds synchronously,
// then serves on a background thread), stop() to stop accepting, and
// wait_stopped() until the requests in flight have finished. The destructor
// stops and joins, so an HttpServer never outlives its thread.
//
// Every error response without a body of its own (404 for unknown paths,
// 400, 413, ...) gets the JSON error body; an exception escaping a handler
// becomes a logged 500 JSON error. Each request is access-logged.
//
// Thread-safety: start() must be called once, from one thread. stop(),
// stopped() and wait_stopped() are safe from any thread, concurrently.
// Handlers run concurrently on httplib's worker pool. The Logger must
// outlive the server.
class HttpServer {
 public:
  struct Options {
    // Idle keep-alive connections are closed after this; short, because an
    // idle connection delays shutdown by up to this long.
    std::chrono::seconds keep_alive_timeout{1};
    std::chrono::milliseconds read_timeout{5000};
    std::chrono::milliseconds write_timeout{5000};
    std::size_t max_body_bytes = 1024 * 1024;
    // Exact paths whose successful requests are access-logged at debug level
    // rather than info (health checks poll every few seconds).
    std::set<std::string> quiet_paths;
    // Called after a handler threw (the client gets a 500 JSON error); the
    // error tracker listens here. Runs on the request's worker thread.
    std::function<void(const httplib::Request&, const std::string& error)> on_exception;
    // Called once per response, after it was sent (for request metrics).
    std::function<void(const httplib::Request&, const httplib::Response&)> on_response;
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

  // Stops accepting connections; requests in flight run to completion. Idempotent.
  void stop();

  // True once the accept loop has ended and every in-flight request finished
  // (or if the server never started).
  bool stopped() const;
  // Waits up to `timeout` for stopped(); returns stopped().
  bool wait_stopped(std::chrono::milliseconds timeout) const;

 private:
  void install_handlers(const Router& router);
  void access_log(const httplib::Request& req, const httplib::Response& res) const;
  void serve();

  const Logger& log_;
  const Options options_;
  httplib::Server server_;
  int listening_fd_ = -1;  // the socket being bound; owned by server_

  mutable std::mutex mutex_;
  mutable std::condition_variable stopped_cv_;
  bool started_ = false;
  bool stop_requested_ = false;
  bool finished_ = false;
  std::thread thread_;  // last member: started after everything it uses
};

}  // namespace levqor::controld::api
