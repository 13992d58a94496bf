// SPDX-License-Identifier: Apache-2.0
// The levqorctl commands (health, status, flags, rollback, dlq, jobs): each
// calls the API through an ApiClient and returns what to print and the exit
// code, so main() only parses the command line. Free functions; thread-safe as
// far as the client they are given is.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "levqor/controld/ctl/client.h"

namespace levqor::controld::ctl {

// The levqorctl commands (docs/controld.md, "levqorctl"). Each returns what
// to print and the exit code; `json` prints controld's JSON as received
// instead of a table.

// `health`: GET /healthz. out is the body as received; exit 0 only for 200
// with {"status":"ok"}, 1 for anything else (unreachable, timeout, another
// status, "degraded"), with err saying why.
CommandResult run_health(const ApiClient& client);

// `status`: /healthz and /ops/flags in one readable screen. Exit 0 when both
// were read (even if the health is "degraded", which it shows), 1 otherwise.
CommandResult run_status(const ApiClient& client, bool json);

// `flags get`: the five flags.
CommandResult run_flags_get(const ApiClient& client, bool json);

// `flags set NAME VALUE`: a usage error (2) for an unknown name or value,
// checked before anything is sent.
CommandResult run_flags_set(const ApiClient& client, const std::string& name, const std::string& value, bool json);

// `flags reset`: POST /ops/flags/reset, back to the configured flags (config
// file and environment); prints the new set and what it changed.
CommandResult run_flags_reset(const ApiClient& client, bool json);

// `rollback`: every flag off in one PUT; prints the new set and what it
// changed (when the previous set could be read first). Like every change it
// is persisted: a restart of controld keeps the flags off.
CommandResult run_rollback(const ApiClient& client, bool json);

// `dlq list [--limit N]`: dead-lettered jobs, newest first.
CommandResult run_dlq_list(const ApiClient& client, int limit, bool json);

// `dlq retry ID...` or `dlq retry --all`: back into the queue. A usage
// error (2) for neither or both, or an id that is not a job id.
CommandResult run_dlq_retry(const ApiClient& client, const std::vector<std::string>& ids, bool all, bool json);

// `jobs get ID`: one job.
CommandResult run_jobs_get(const ApiClient& client, const std::string& id, bool json);

// The flags as a two-column table.
std::string flags_table(const nlohmann::json& flags);

}  // namespace levqor::controld::ctl
