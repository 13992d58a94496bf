// SPDX-License-Identifier: Apache-2.0
// The flags component's routes, GET and PUT /ops/flags (admin only), added
// to the router App builds. What they use must outlive the server.
#pragma once

#include "levqor/controld/api/auth.h"
#include "levqor/controld/api/router.h"
#include "levqor/controld/flags/flag_store.h"
#include "levqor/controld/tracking/tracker.h"

namespace levqor::controld::flags {

// GET /ops/flags and PUT /ops/flags (docs/api.md), both for the admin role.
// PUT answers the full new set; a body that names an unknown flag or a bad
// state is a 400 and changes nothing; a flags file that cannot be written is
// a 500 (and an error event) and changes nothing.
// The store, guard and tracker must outlive the server the routes go to.
void add_routes(api::Router& router, const api::Guard& guard, FlagStore& store, tracking::ErrorTracker& errors);

}  // namespace levqor::controld::flags
