// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/backup/routes.h"

#include "levqor/controld/api/errors.h"
#include "levqor/controld/backup/store.h"
#include "levqor/controld/core/json.h"

#include <filesystem>
#include <system_error>

namespace levqor::controld::backup {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

constexpr std::size_t kMaxBodyBytes = 16 * 1024;

// The body as a JSON object, or nullopt after answering 400.
std::optional<json> body_object(const httplib::Request& req, httplib::Response& res, const char* shape) {
    json body;
    try {
        body = parse_json(req.body, JsonLimits{kMaxBodyBytes});
    } catch (const JsonError& e) {
        api::set_error(res, 400, "invalid_json", std::string("the body is refused: ") + e.what() + "; " + shape);
        return std::nullopt;
    }
    if (!body.is_object()) {
        api::set_error(res, 400, "invalid_json", std::string("the body is not a JSON object; ") + shape);
        return std::nullopt;
    }
    return body;
}

std::string dump(const json& value) { return value.dump(-1, ' ', false, json::error_handler_t::replace); }

// "progress" of GET /ops/backups/{id}: while the backup runs, the bytes its engine has
// written into the folder so far (the dump file as it grows; the manifest not counted);
// once it ended, the bytes its manifest lists.
json progress_of(const Manifest& m, const std::string& dir) {
    std::uint64_t bytes = 0;
    if (m.status != BackupStatus::running) {
        for (const auto& f : m.files) bytes += f.bytes;
        return json{{"phase", "done"}, {"bytes", bytes}};
    }
    std::error_code ec;
    for (std::filesystem::directory_iterator it(backup_folder(dir, m.target, m.id), ec), end; !ec && it != end;
         it.increment(ec)) {
        if (it->path().filename() == "manifest.json") continue;
        std::error_code size_ec;
        const auto size = it->is_regular_file(size_ec) ? it->file_size(size_ec) : 0;
        if (!size_ec) bytes += size;
    }
    return json{{"phase", "dump"}, {"bytes", bytes}};
}

void unavailable(httplib::Response& res, tracking::ErrorTracker& errors, const std::string& what,
                 const std::exception& e) {
    errors.capture("backup", what, {{"error", e.what()}});
    api::set_error(res, 503, "backup_unavailable", what + "; try again (see GET /ops/queue_health)");
}

void post_backup(const httplib::Request& req, httplib::Response& res, BackupService& backups,
                 tracking::ErrorTracker& errors) {
    const char* shape = "expected {\"target\":\"<name>\"}";
    const auto body = body_object(req, res, shape);
    if (!body) return;
    if (!body->contains("target") || !(*body)["target"].is_string() || body->size() != 1) {
        api::set_error(res, 400, "invalid_request", shape);
        return;
    }
    const auto target = (*body)["target"].get<std::string>();
    try {
        const auto started = backups.start_backup(target);
        api::set_json(res, 202, ordered_json{{"id", started.id}, {"job_id", started.job_id}}.dump());
    } catch (const UnknownTarget& e) {
        api::set_error(res, 404, "unknown_target", e.what());
    } catch (const BackupBusy& e) {
        api::set_error(res, 409, "backup_running", e.what());
    } catch (const queue::QueueFull& e) {
        res.set_header("Retry-After", "5");
        api::set_error(res, 507, "queue_full", e.what());
    } catch (const queue::InvalidJob& e) {
        api::set_error(res, 400, e.code(), e.what());
    } catch (const std::runtime_error& e) {
        unavailable(res, errors, "cannot enqueue the backup", e);
    }
}

void post_restore(const httplib::Request& req, httplib::Response& res, BackupService& backups,
                  tracking::ErrorTracker& errors) {
    const std::string id = req.matches[1];
    const char* shape = "expected {\"into\":\"<new database name | sqlite path>\",\"force\":false}";
    const auto body = body_object(req, res, shape);
    if (!body) return;
    for (const auto& [key, value] : body->items()) {
        if (key != "into" && key != "force") {
            api::set_error(res, 400, "invalid_request", "unknown field \"" + key + "\"; " + shape);
            return;
        }
    }
    if (!body->contains("into") || !(*body)["into"].is_string() ||
        (body->contains("force") && !(*body)["force"].is_boolean())) {
        api::set_error(res, 400, "invalid_request", shape);
        return;
    }
    const auto into = (*body)["into"].get<std::string>();
    const bool force = body->value("force", false);
    try {
        const auto started = backups.start_restore(id, into, force);
        api::set_json(res, 202, ordered_json{{"job_id", started.job_id}}.dump());
    } catch (const BackupNotFound& e) {
        api::set_error(res, 404, "backup_not_found", e.what());
    } catch (const RestoreConflict& e) {
        api::set_error(res, 409, "restore_target_exists", e.what());
    } catch (const BadBackupRequest& e) {
        api::set_error(res, 400, "invalid_request", e.what());
    } catch (const queue::QueueFull& e) {
        res.set_header("Retry-After", "5");
        api::set_error(res, 507, "queue_full", e.what());
    } catch (const std::runtime_error& e) {
        unavailable(res, errors, "cannot start the restore", e);
    }
}

}  // namespace

void add_routes(api::Router& router, const api::Guard& guard, BackupService& backups, tracking::ErrorTracker& errors) {
    router.add(
        api::Method::post, "/ops/backups",
        guard.require(auth::Role::admin, [&backups, &errors](const httplib::Request& req, httplib::Response& res,
                                                             auth::Role) { post_backup(req, res, backups, errors); }));

    router.add(api::Method::get, "/ops/backups",
               guard.require(auth::Role::admin, [&backups, &errors](const httplib::Request& req, httplib::Response& res,
                                                                    auth::Role) {
                   const auto target = req.has_param("target") ? req.get_param_value("target") : std::string();
                   try {
                       json out = json::array();
                       for (const auto& m : backups.list(target)) out.push_back(to_json(m));
                       api::set_json(res, 200, dump(out));
                   } catch (const std::runtime_error& e) {
                       unavailable(res, errors, "cannot list the backups", e);
                   }
               }));

    router.add(api::Method::get, R"(/ops/backups/([^/]+))",
               guard.require(auth::Role::admin, [&backups, &errors](const httplib::Request& req, httplib::Response& res,
                                                                    auth::Role) {
                   const std::string id = req.matches[1];
                   try {
                       const auto m = backups.find(id);
                       if (!m) {
                           api::set_error(res, 404, "backup_not_found", "no backup " + id);
                           return;
                       }
                       auto answer = to_json(*m);
                       const auto restoring = backups.restore_progress(id);
                       answer["progress"] = restoring ? *restoring : progress_of(*m, backups.backup_dir());
                       api::set_json(res, 200, dump(answer));
                   } catch (const std::runtime_error& e) {
                       unavailable(res, errors, "cannot read the backups", e);
                   }
               }));

    router.add(api::Method::post, R"(/ops/backups/([^/]+)/verify)",
               guard.require(auth::Role::admin,
                             [&backups, &errors](const httplib::Request& req, httplib::Response& res, auth::Role) {
                                 const std::string id = req.matches[1];
                                 try {
                                     const auto started = backups.start_verify(id);
                                     api::set_json(res, 202, ordered_json{{"job_id", started.job_id}}.dump());
                                 } catch (const BackupNotFound& e) {
                                     api::set_error(res, 404, "backup_not_found", e.what());
                                 } catch (const queue::QueueFull& e) {
                                     res.set_header("Retry-After", "5");
                                     api::set_error(res, 507, "queue_full", e.what());
                                 } catch (const std::runtime_error& e) {
                                     unavailable(res, errors, "cannot start the verify", e);
                                 }
                             }));

    router.add(
        api::Method::post, R"(/ops/backups/([^/]+)/restore)",
        guard.require(auth::Role::admin, [&backups, &errors](const httplib::Request& req, httplib::Response& res,
                                                             auth::Role) { post_restore(req, res, backups, errors); }));
}

}  // namespace levqor::controld::backup
