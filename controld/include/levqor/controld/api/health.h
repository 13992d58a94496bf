#pragma once

#include <chrono>
#include <string>

#include "levqor/controld/api/router.h"

namespace levqor::controld::api {

// GET /healthz: 200 {"status":"ok","version":"0.1.0","uptime_s":N}.
// Liveness only for now; dependency checks (redis, postgres, the nginx
// status endpoint) join the body when those components exist.
std::string health_body(std::chrono::seconds uptime);

// The handler; uptime counts from `started` on the monotonic clock.
// Thread-safety: the handler holds only a copy of `started`; safe to run
// concurrently.
Router::Handler health_handler(std::chrono::steady_clock::time_point started);

}  // namespace levqor::controld::api
