#pragma once

#include <chrono>

#include "levqor/controld/api/http_server.h"
#include "levqor/controld/core/config.h"
#include "levqor/controld/core/listen_address.h"
#include "levqor/controld/core/log.h"

namespace levqor::controld {

// levqor-controld without its process concerns (arguments, signals, exit
// codes): the components and the routes that expose them. main() and the
// in-process tests both drive it through start()/stop().
//
// New components are constructed here, before the server, and register
// their routes in the constructor.
//
// Thread-safety: as HttpServer: start() once from one thread; stop(),
// stopped() and wait_stopped() from any thread. The Logger must outlive it.
class App {
 public:
  App(const Config& config, const Logger& log);

  // Binds config.listen and serves in the background; returns the bound
  // address. Throws api::ListenError.
  ListenAddress start();
  void stop() { server_.stop(); }
  bool stopped() const { return server_.stopped(); }
  bool wait_stopped(std::chrono::milliseconds timeout) const {
    return server_.wait_stopped(timeout);
  }

 private:
  static api::Router routes(std::chrono::steady_clock::time_point started);

  const Config config_;
  const std::chrono::steady_clock::time_point started_;
  api::HttpServer server_;  // last: stopped and joined before the rest goes
};

}  // namespace levqor::controld
