// SPDX-License-Identifier: Apache-2.0
// levqorctl schedules [run NAME [--wait]] (issue 14): GET /ops/schedules and
// POST /ops/schedules/{name}/run through an ApiClient. Each returns what to
// print and the exit code, like commands.h. Free functions; thread-safe as
// far as the client they are given is.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "levqor/controld/ctl/backup_commands.h"
#include "levqor/controld/ctl/client.h"

namespace levqor::controld::ctl {

// A schedule name as controld accepts them: 1 to 100 of [A-Za-z0-9_.:-].
bool schedule_name_shape(const std::string& text);

// `schedules`: GET /ops/schedules as a table (name, cron, next run, last
// run, last status) or, with --json, as received.
CommandResult run_schedules_list(const ApiClient& client, bool json);

// `schedules run NAME [--wait]`: POST /ops/schedules/{name}/run. Without
// --wait, exit 0 once accepted (prints the job id). With --wait, exit 0 only
// when the job succeeded; 1 when it is dead (its last error).
CommandResult run_schedules_run(const ApiClient& client, const std::string& name, const WaitOptions& wait, bool json);

// The listing of GET /ops/schedules as a table.
std::string schedules_table(const nlohmann::json& listing);

}  // namespace levqor::controld::ctl
