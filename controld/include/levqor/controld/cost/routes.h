// SPDX-License-Identifier: Apache-2.0
// POST /usage (docs/api.md): AI spend reported by applications that are not
// behind nginx, for the producer role (admin too). The service and guard must
// outlive the server the routes go to.
#pragma once

#include "levqor/controld/api/auth.h"
#include "levqor/controld/api/router.h"
#include "levqor/controld/cost/service.h"

namespace levqor::controld::cost {

// POST /usage {"connector":"<name>","usd":<number or decimal string>}
//   -> 200 {"connector":"<label counted under>","usd":"<exact decimal>"}
//   -> 400 {"error":"invalid_json"|"invalid_usage","message"} (counted in
//      levqor_cost_invalid_total{instance="controld"})
void add_routes(api::Router& router, const api::Guard& guard, CostService& service);

}  // namespace levqor::controld::cost
