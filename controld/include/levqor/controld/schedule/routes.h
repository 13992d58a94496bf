// SPDX-License-Identifier: Apache-2.0
// The scheduler's routes (docs/api.md, "Schedules"), added to the router App
// builds. What they use must outlive the server.
#pragma once

#include "levqor/controld/api/auth.h"
#include "levqor/controld/api/router.h"
#include "levqor/controld/schedule/scheduler.h"
#include "levqor/controld/tracking/tracker.h"

namespace levqor::controld::schedule {

//   GET  /ops/schedules              admin: [{"name","cron","job_type","next_run_at","last_run_at",
//                                    "last_status","last_job_id"}], by name
//   POST /ops/schedules/{name}/run   admin: the schedule's job now -> 202 {"job_id"}; 404 unknown
void add_routes(api::Router& router, const api::Guard& guard, Scheduler& scheduler, tracking::ErrorTracker& errors);

// One schedule as GET /ops/schedules shows it.
nlohmann::ordered_json to_json(const Scheduler::Status& status);

}  // namespace levqor::controld::schedule
