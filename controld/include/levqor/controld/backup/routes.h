// SPDX-License-Identifier: Apache-2.0
// The backup routes (docs/api.md, "Backups"), all behind the admin token:
//   POST /ops/backups                {"target"} -> 202 {"id","job_id"}; 404 unknown target; 409 one runs
//   GET  /ops/backups                newest first (?target=): the manifests
//   GET  /ops/backups/{id}           one manifest
//   POST /ops/backups/{id}/verify    -> 202 {"job_id"}
//   POST /ops/backups/{id}/restore   {"into","force"} -> 202 {"job_id"}; 409 an existing non-empty target
// Everything they use must outlive the server the routes go to.
#pragma once

#include "levqor/controld/api/auth.h"
#include "levqor/controld/api/router.h"
#include "levqor/controld/backup/service.h"
#include "levqor/controld/tracking/tracker.h"

namespace levqor::controld::backup {

void add_routes(api::Router& router, const api::Guard& guard, BackupService& backups, tracking::ErrorTracker& errors);

}  // namespace levqor::controld::backup
