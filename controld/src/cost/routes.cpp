// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/cost/routes.h"

#include <nlohmann/json.hpp>

#include "levqor/controld/api/errors.h"
#include "levqor/controld/cost/usage.h"

namespace levqor::controld::cost {

void add_routes(api::Router& router, const api::Guard& guard, CostService& service) {
    router.add(api::Method::post, "/usage",
               guard.require(auth::Role::producer, [&service](const httplib::Request& req, httplib::Response& res,
                                                              auth::Role) {
                   Usage usage;
                   try {
                       usage = parse_usage(req.body);
                   } catch (const UsageError& e) {
                       service.count_invalid();
                       api::set_error(res, 400, e.code(), e.what());
                       return;
                   }
                   const auto label = service.record_usage(usage.connector, usage.nanos);
                   api::set_json(res, 200,
                                 nlohmann::ordered_json{{"connector", label}, {"usd", format_usd(usage.nanos)}}.dump());
               }));
}

}  // namespace levqor::controld::cost
