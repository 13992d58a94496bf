// SPDX-License-Identifier: Apache-2.0
// The four abuse routes (docs/api.md, "Abuse controls"), for the producer
// role (admin too). The mode is the ABUSE_GUARDS_ENABLED flag's current
// state. The service, guard and flag store must outlive the server.
#pragma once

#include "levqor/controld/abuse/service.h"
#include "levqor/controld/api/auth.h"
#include "levqor/controld/api/router.h"
#include "levqor/controld/flags/flag_store.h"
#include "levqor/controld/tracking/tracker.h"

namespace levqor::controld::abuse {

// POST /abuse/device {"account","plan","device","ip"}
//   -> 200 {"decision":"allow|deny","reason","changes_24h","limit"}
// GET /abuse/device (X-Levqor-Account, X-Levqor-Plan, X-Levqor-Device, X-Real-IP)
//   -> 204 allow / 403 deny with the JSON body; X-Levqor-Abuse-Reason on both
// POST /abuse/signup {"email","ip","referrer"}
//   -> 200 {"decision","reason","signups_today","limit"}
// GET /abuse/signup (X-Levqor-Email, X-Real-IP, X-Levqor-Referrer): 204 / 403
// Errors: 400 {"error":"invalid_request","message","field"}; 503
// abuse_unconfigured (no abuse.pepper_file), store_unavailable, deny_list_error
// (the last two reported to `errors`).
void add_routes(api::Router& router, const api::Guard& guard, AbuseService& service, const flags::FlagStore& flags,
                tracking::ErrorTracker& errors);

}  // namespace levqor::controld::abuse
