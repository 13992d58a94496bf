// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/flags/routes.h"

#include "levqor/controld/api/errors.h"
#include "levqor/controld/core/files.h"

namespace levqor::controld::flags {

namespace {

// Applies a change through `change` and answers the full new set, or 500
// when the files cannot be written (nothing changed then).
template <typename Change>
void answer(httplib::Response& res, tracking::ErrorTracker& errors, const FlagStore& store, auth::Role role,
            const httplib::Request& req, Change&& change) {
    ApplyResult result;
    try {
        result = change(Actor{std::string(auth::to_string(role)), req.remote_addr});
    } catch (const FileError& e) {
        errors.capture("flags", "cannot write the flags file; the flags were not changed",
                       {{"flags_file", store.path()}, {"state_file", store.state_path()}, {"error", e.what()}});
        api::set_error(res, 500, "flags_file_error",
                       "the flags file could not be written, so nothing was changed; see the "
                       "levqor-controld log");
        return;
    }
    api::set_json(res, 200, to_json(result.flags).dump());
}

}  // namespace

void add_routes(api::Router& router, const api::Guard& guard, FlagStore& store, tracking::ErrorTracker& errors) {
    router.add(api::Method::get, "/ops/flags",
               guard.require(auth::Role::admin, [&store](const httplib::Request&, httplib::Response& res, auth::Role) {
                   api::set_json(res, 200, to_json(store.current()).dump());
               }));

    router.add(api::Method::put, "/ops/flags",
               guard.require(auth::Role::admin,
                             [&store, &errors](const httplib::Request& req, httplib::Response& res, auth::Role role) {
                                 FlagUpdate update;
                                 try {
                                     update = parse_flag_update(req.body);
                                 } catch (const FlagUpdateError& e) {
                                     api::set_error(res, 400, e.code(), e.what());
                                     return;
                                 }
                                 answer(res, errors, store, role, req,
                                        [&](const Actor& actor) { return store.apply(update, actor); });
                             }));

    // The explicit way back to the configured flags: a restart keeps the
    // runtime ones (H2).
    router.add(api::Method::post, "/ops/flags/reset",
               guard.require(auth::Role::admin, [&store, &errors](const httplib::Request& req, httplib::Response& res,
                                                                  auth::Role role) {
                   answer(res, errors, store, role, req, [&](const Actor& actor) { return store.reset(actor); });
               }));
}

}  // namespace levqor::controld::flags
