// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/queue/routes.h"

#include <cstdlib>

#include "levqor/controld/api/errors.h"
#include "levqor/controld/core/json.h"

namespace levqor::controld::queue {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

// 10,000 job ids (the most one retry takes) are about 350 KB.
constexpr std::size_t kMaxDlqRetryBytes = 1024 * 1024;

void unavailable(httplib::Response& res, tracking::ErrorTracker& errors, const std::string& what,
                 const std::exception& e) {
    errors.capture("queue", what, {{"error", e.what()}});
    api::set_error(res, 503, "queue_unavailable",
                   "the queue backend cannot be reached; try again (see GET /ops/queue_health)");
}

// A job as GET /jobs/{id} shows it (docs/api.md, "Jobs").
ordered_json job_body(const QueueService::StoredJob& job) { return to_json(job.record, job.max_attempts); }

// The jobs or the request as stored now: one job's record, or {"jobs":[...]}.
ordered_json records_body(const JobRequest& request, const QueueService::InlineResult& result) {
    if (request.batch) {
        ordered_json jobs = ordered_json::array();
        for (const auto& job : result.jobs) jobs.push_back(job_body(job));
        return ordered_json{{"jobs", std::move(jobs)}};
    }
    if (result.jobs.empty()) return ordered_json::object();
    return job_body(result.jobs.front());
}

// GET /ops/queue_health (docs/api.md).
ordered_json health_body(const QueueService::Health& h) {
    const auto& s = h.stats;
    ordered_json out;
    out["backend"] = std::string(h.backend);
    out["status"] = s.up ? (s.spool > 0 ? "degraded" : "ok") : "down";
    out["queue_depth"] = s.queued;
    out["delayed"] = s.delayed;
    out["running"] = s.running;
    out["dlq_depth"] = s.dead;
    out["oldest_age_s"] = s.oldest_age_s;
    out["workers"] = {{"configured", h.workers}, {"busy", h.busy_workers}, {"stopping", h.stopping}};
    out["spool_size"] = s.spool;
    out["inline"] = {{"configured", h.inline_workers},
                     {"busy", h.inline_busy},
                     {"waiting", h.inline_waiting},
                     {"queue", h.inline_queue}};
    out["quota"] = {{"depth", h.usage.depth},
                    {"max_depth", h.limits.depth},
                    {"payload_bytes", h.usage.bytes},
                    {"max_bytes", h.limits.bytes}};
    if (!s.up) out["error"] = s.error;
    return out;
}

// GET /ops/dlq: {"total":N,"jobs":[<job record>...]}.
ordered_json dead_letters_body(const QueueService::DeadLetters& dead) {
    ordered_json jobs = ordered_json::array();
    for (const auto& job : dead.jobs) jobs.push_back(job_body(job));
    ordered_json out;
    out["total"] = dead.total;
    out["jobs"] = std::move(jobs);
    return out;
}

// Idempotency-Key: 1 to 255 visible ASCII characters.
bool valid_key(const std::string& key) {
    if (key.empty() || key.size() > 255) return false;
    for (unsigned char c : key) {
        if (c < 0x21 || c > 0x7e) return false;
    }
    return true;
}

void post_jobs(const httplib::Request& req, httplib::Response& res, QueueService& queue, const flags::FlagStore& flags,
               tracking::ErrorTracker& errors) {
    std::optional<std::string> key;
    if (req.has_header("Idempotency-Key")) {
        key = req.get_header_value("Idempotency-Key");
        if (!valid_key(*key)) {
            api::set_error(res, 400, "invalid_idempotency_key",
                           "Idempotency-Key must be 1 to 255 visible ASCII characters");
            return;
        }
    }
    JobRequest request;
    try {
        request = queue.parse(req.body);
    } catch (const InvalidJob& e) {
        api::set_error(res, 400, e.code(), e.what());
        return;
    }
    const bool queued = flags.current().get(Flag::new_queue) != FlagState::off;
    try {
        if (!queued) {
            auto result = queue.run_inline(request, key);
            if (result.enqueue.key_conflict) {
                api::set_error(res, 422, "idempotency_key_reused",
                               "this Idempotency-Key was used with a different request body");
                return;
            }
            if (result.enqueue.replayed) res.set_header("Idempotent-Replayed", "true");
            // 200: every job reached its final state; 202: some still run on the
            // inline threads after queue.inline_wait_ms (poll GET /jobs/{id}).
            api::set_json(res, result.finished ? 200 : 202,
                          records_body(request, result).dump(-1, ' ', false, json::error_handler_t::replace));
            return;
        }
        const auto result = queue.enqueue(request, key);
        if (result.key_conflict) {
            api::set_error(res, 422, "idempotency_key_reused",
                           "this Idempotency-Key was used with a different request body");
            return;
        }
        ordered_json body;
        if (request.batch) {
            body["ids"] = result.ids;
            body["status"] = "queued";
        } else {
            body["id"] = result.ids.empty() ? "" : result.ids.front();
            std::string status = "queued";
            if (result.replayed && !result.ids.empty()) {
                if (auto job = queue.job(result.ids.front())) status = to_string(job->record.state);
            }
            body["status"] = status;
        }
        if (result.spooled) body["spooled"] = true;
        if (result.replayed) {
            body["idempotent_replay"] = true;
            res.set_header("Idempotent-Replayed", "true");
        }
        api::set_json(res, result.replayed ? 200 : 202, body.dump());
    } catch (const QueueFull& e) {
        res.set_header("Retry-After", "5");
        api::set_json(res, 507,
                      ordered_json{{"error", "queue_full"},
                                   {"message", std::string(e.what()) + "; nothing was stored; retry when the queue "
                                                                       "has drained (GET /ops/queue_health)"},
                                   {"limit", e.reason()}}
                          .dump());
    } catch (const InlineBusy& e) {
        res.set_header("Retry-After", "1");
        api::set_error(res, 503, "inline_busy", std::string(e.what()) + "; nothing was stored; retry in a moment");
    } catch (const BackendError& e) {
        unavailable(res, errors, "cannot enqueue jobs", e);
    }
}

void post_dlq_retry(const httplib::Request& req, httplib::Response& res, auth::Role role, QueueService& queue,
                    tracking::ErrorTracker& errors, const Logger& log) {
    const char* shape = "expected {\"ids\":[\"<job id>\",...]} or {\"all\":true}";
    json body;
    try {
        body = parse_json(req.body, JsonLimits{kMaxDlqRetryBytes});
    } catch (const JsonError& e) {
        if (e.kind() != JsonError::Kind::syntax) {
            api::set_error(res, 400, "invalid_json", std::string("the body is refused: ") + e.what() + "; " + shape);
            return;
        }
    }
    if (!body.is_object()) {
        api::set_error(res, 400, "invalid_json", std::string("the body is not a JSON object; ") + shape);
        return;
    }
    bool all = false;
    std::vector<std::string> ids;
    if (body.contains("all")) {
        if (!body["all"].is_boolean() || !body["all"].get<bool>() || body.contains("ids")) {
            api::set_error(res, 400, "invalid_request", shape);
            return;
        }
        all = true;
    } else if (body.contains("ids") && body["ids"].is_array() && !body["ids"].empty() && body["ids"].size() <= 10000) {
        for (const auto& id : body["ids"]) {
            if (!id.is_string() || !is_job_id(id.get<std::string>())) {
                api::set_error(res, 400, "invalid_request", "ids: every entry is a job id");
                return;
            }
            ids.push_back(id.get<std::string>());
        }
    } else {
        api::set_error(res, 400, "invalid_request", shape);
        return;
    }
    try {
        const auto retried = queue.retry_dead(ids, all);
        Logger::Fields audit{{"audit", true},
                             {"role", std::string(auth::to_string(role))},
                             {"remote", req.remote_addr},
                             {"retried", retried}};
        if (all) {
            audit["all"] = true;
        } else {
            audit["ids"] = ids;
        }
        log.info("dlq retry", audit);
        api::set_json(res, 200, ordered_json{{"retried", retried}}.dump());
    } catch (const BackendError& e) {
        unavailable(res, errors, "cannot retry dead jobs", e);
    }
}

}  // namespace

void add_routes(api::Router& router, const api::Guard& guard, QueueService& queue, const flags::FlagStore& flags,
                tracking::ErrorTracker& errors, const Logger& log) {
    router.add(api::Method::post, "/jobs",
               guard.require(auth::Role::producer,
                             [&queue, &flags, &errors](const httplib::Request& req, httplib::Response& res,
                                                       auth::Role) { post_jobs(req, res, queue, flags, errors); }));

    router.add(api::Method::get, R"(/jobs/([^/]+))",
               guard.require(auth::Role::producer, [&queue, &errors](const httplib::Request& req,
                                                                     httplib::Response& res, auth::Role) {
                   const std::string id = req.matches[1];
                   try {
                       auto job = queue.job(id);
                       if (!job) {
                           api::set_error(res, 404, "job_not_found",
                                          "no job " + id + " (unknown, or expired after queue.retention_s)");
                           return;
                       }
                       api::set_json(res, 200, job_body(*job).dump(-1, ' ', false, json::error_handler_t::replace));
                   } catch (const BackendError& e) {
                       unavailable(res, errors, "cannot read a job", e);
                   }
               }));

    router.add(api::Method::get, "/ops/queue_health",
               guard.require(auth::Role::admin, [&queue](const httplib::Request&, httplib::Response& res, auth::Role) {
                   api::set_json(res, 200, health_body(queue.health()).dump());
               }));

    router.add(
        api::Method::get, "/ops/dlq",
        guard.require(auth::Role::admin, [&queue, &errors](const httplib::Request& req, httplib::Response& res,
                                                           auth::Role) {
            std::size_t limit = 100;
            if (req.has_param("limit")) {
                const auto text = req.get_param_value("limit");
                const long n = std::strtol(text.c_str(), nullptr, 10);
                if (n < 1 || n > 10000 || text.find_first_not_of("0123456789") != std::string::npos) {
                    api::set_error(res, 400, "invalid_request", "limit: a number from 1 to 10000");
                    return;
                }
                limit = static_cast<std::size_t>(n);
            }
            try {
                api::set_json(
                    res, 200,
                    dead_letters_body(queue.dead_letters(limit)).dump(-1, ' ', false, json::error_handler_t::replace));
            } catch (const BackendError& e) {
                unavailable(res, errors, "cannot list dead jobs", e);
            }
        }));

    router.add(api::Method::post, "/ops/dlq/retry",
               guard.require(auth::Role::admin, [&queue, &errors, &log](const httplib::Request& req,
                                                                        httplib::Response& res, auth::Role role) {
                   post_dlq_retry(req, res, role, queue, errors, log);
               }));
}

}  // namespace levqor::controld::queue
