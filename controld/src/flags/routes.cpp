#include "levqor/controld/flags/routes.h"

#include "levqor/controld/api/errors.h"
#include "levqor/controld/core/files.h"

namespace levqor::controld::flags {

void add_routes(api::Router& router, const api::Guard& guard, FlagStore& store,
                tracking::ErrorTracker& errors) {
  router.add(api::Method::get, "/ops/flags",
             guard.require(auth::Role::admin,
                           [&store](const httplib::Request&, httplib::Response& res, auth::Role) {
                             api::set_json(res, 200, to_json(store.current()).dump());
                           }));

  router.add(
      api::Method::put, "/ops/flags",
      guard.require(auth::Role::admin, [&store, &errors](const httplib::Request& req,
                                                         httplib::Response& res, auth::Role role) {
        FlagUpdate update;
        try {
          update = parse_flag_update(req.body);
        } catch (const FlagUpdateError& e) {
          api::set_error(res, 400, e.code(), e.what());
          return;
        }
        ApplyResult result;
        try {
          result = store.apply(update, Actor{std::string(auth::to_string(role)), req.remote_addr});
        } catch (const FileError& e) {
          errors.capture("flags", "cannot write the flags file; the flags were not changed",
                         {{"flags_file", store.path()}, {"error", e.what()}});
          api::set_error(res, 500, "flags_file_error",
                         "the flags file could not be written, so nothing was changed; see the "
                         "levqor-controld log");
          return;
        }
        api::set_json(res, 200, to_json(result.flags).dump());
      }));
}

}  // namespace levqor::controld::flags
