// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/schedule/routes.h"

#include "levqor/controld/api/errors.h"

namespace levqor::controld::schedule {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

ordered_json optional_time(const std::optional<Seconds>& t) { return t ? ordered_json(iso_utc(*t)) : ordered_json(); }

template <typename T>
ordered_json optional_value(const std::optional<T>& v) {
    return v ? ordered_json(*v) : ordered_json();
}

void post_schedule_run(const std::string& name, httplib::Response& res, Scheduler& scheduler,
                       tracking::ErrorTracker& errors) {
    try {
        const auto job_id = scheduler.run_now(name);
        api::set_json(res, 202, ordered_json{{"job_id", job_id}}.dump());
    } catch (const UnknownSchedule& e) {
        api::set_error(res, 404, "schedule_not_found", e.what());
    } catch (const queue::InvalidJob& e) {
        api::set_error(res, 409, e.code(), std::string("the schedule's job is refused: ") + e.what());
    } catch (const queue::QueueFull& e) {
        res.set_header("Retry-After", "5");
        api::set_error(res, 507, "queue_full", e.what());
    } catch (const std::runtime_error& e) {  // BackendError
        errors.capture("schedule", "cannot enqueue a schedule's job", {{"schedule", name}, {"error", e.what()}});
        api::set_error(res, 503, "queue_unavailable",
                       "cannot enqueue the schedule's job; try again (see GET /ops/queue_health)");
    }
}

}  // namespace

ordered_json to_json(const Scheduler::Status& s) {
    return ordered_json{{"name", s.name},
                        {"cron", optional_value(s.cron)},
                        {"job_type", s.job_type},
                        {"next_run_at", optional_time(s.next_run_at)},
                        {"last_run_at", optional_time(s.last_run_at)},
                        {"last_status", optional_value(s.last_status)},
                        {"last_job_id", optional_value(s.last_job_id)}};
}

void add_routes(api::Router& router, const api::Guard& guard, Scheduler& scheduler, tracking::ErrorTracker& errors) {
    router.add(
        api::Method::get, "/ops/schedules",
        guard.require(auth::Role::admin, [&scheduler](const httplib::Request&, httplib::Response& res, auth::Role) {
            ordered_json out = ordered_json::array();
            for (const auto& s : scheduler.list()) out.push_back(to_json(s));
            api::set_json(res, 200, out.dump(-1, ' ', false, json::error_handler_t::replace));
        }));
    router.add(api::Method::post, R"(/ops/schedules/([^/]+)/run)",
               guard.require(auth::Role::admin,
                             [&scheduler, &errors](const httplib::Request& req, httplib::Response& res, auth::Role) {
                                 post_schedule_run(req.matches[1], res, scheduler, errors);
                             }));
}

}  // namespace levqor::controld::schedule
