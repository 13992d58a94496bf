#include "levqor/controld/app.h"

#include "levqor/controld/api/health.h"

namespace levqor::controld {
namespace {

api::HttpServer::Options server_options() {
  api::HttpServer::Options options;
  options.quiet_paths = {"/healthz"};
  return options;
}

}  // namespace

App::App(const Config& config, const Logger& log)
    : config_(config),
      started_(std::chrono::steady_clock::now()),
      server_(routes(started_), log, server_options()) {}

api::Router App::routes(std::chrono::steady_clock::time_point started) {
  api::Router router;
  router.add(api::Method::get, "/healthz", api::health_handler(started));
  return router;
}

ListenAddress App::start() { return server_.start(config_.listen); }

}  // namespace levqor::controld
