// SPDX-License-Identifier: Apache-2.0
// The queue component's routes (POST /jobs, GET /jobs/{id}, and the admin
// routes /ops/queue_health and /ops/dlq), added to the router App builds. What
// they use must outlive the server.
#pragma once

#include "levqor/controld/api/auth.h"
#include "levqor/controld/api/router.h"
#include "levqor/controld/core/log.h"
#include "levqor/controld/flags/flag_store.h"
#include "levqor/controld/queue/service.h"
#include "levqor/controld/tracking/tracker.h"

namespace levqor::controld::queue {

// The queue's routes (docs/api.md, "Jobs"):
//   POST /jobs               producer: enqueue one job or a batch; runs them
//                            at once when NEW_QUEUE_ENABLED is off
//   GET  /jobs/{id}          producer: a job's state
//   GET  /ops/queue_health   admin
//   GET  /ops/dlq            admin: dead-lettered jobs
//   POST /ops/dlq/retry      admin: {"ids":[...]} or {"all":true}, audit-logged
// Everything they use must outlive the server the routes go to.
void add_routes(api::Router& router, const api::Guard& guard, QueueService& queue, const flags::FlagStore& flags,
                tracking::ErrorTracker& errors, const Logger& log);

}  // namespace levqor::controld::queue
