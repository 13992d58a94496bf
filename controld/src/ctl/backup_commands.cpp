// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/ctl/backup_commands.h"

#include <sys/stat.h>

#include <cstdio>
#include <iomanip>
#include <sstream>
#include <thread>

#include "levqor/controld/backup/encryption.h"
#include "output.h"

namespace levqor::controld::ctl {
using output::failure;
using output::job_id_shape;
using output::pretty;
using output::text_of;
using output::usage_error;

namespace {

std::string str(const nlohmann::json& object, const char* key) {
    return object.is_object() && object.contains(key) ? text_of(object[key]) : "-";
}

double number(const nlohmann::json& object, const char* key) {
    return object.is_object() && object.contains(key) && object[key].is_number() ? object[key].get<double>() : 0.0;
}

std::string seconds_text(double s) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f s", s);
    return buf;
}

double total_bytes(const nlohmann::json& manifest) {
    double sum = 0;
    if (manifest.is_object() && manifest.contains("files") && manifest["files"].is_array()) {
        for (const auto& f : manifest["files"]) sum += number(f, "bytes");
    }
    return sum;
}

const nlohmann::json& verify_of(const nlohmann::json& manifest) {
    static const nlohmann::json kNone;
    return manifest.is_object() && manifest.contains("verify") && manifest["verify"].is_object() ? manifest["verify"]
                                                                                                 : kNone;
}

// The verify column: the RTO and when, or the error.
std::string verify_cell(const nlohmann::json& manifest) {
    const auto& v = verify_of(manifest);
    if (!v.is_object()) return "-";
    if (v.value("ok", false)) return "ok at " + str(v, "checked_at");
    return "FAILED: " + str(v, "error");
}

// After a backup or verify job: the backup's manifest decides the exit code.
CommandResult finish_with_manifest(const ApiClient& client, const std::string& id, const JobOutcome& job,
                                   const std::string& what, bool json) {
    if (job.error) return failure(*job.error);
    const auto manifest = client.get("/ops/backups/" + id);
    if (job.job.value("status", "") == "dead") {
        std::string message =
            what + " " + id + ": job " + job.job.value("id", "") + " is dead: " + str(job.job, "last_error");
        return CommandResult{kExitFailure, json && !manifest.error ? pretty(manifest.json) : "",
                             "levqorctl: " + message + "\n"};
    }
    if (manifest.error) return failure(*manifest.error);
    const auto status = manifest.json.value("status", "");
    CommandResult result{kExitOk, json ? pretty(manifest.json) : manifest_text(manifest.json), ""};
    if (status != "verified") {
        result.exit_code = kExitFailure;
        result.err =
            "levqorctl: " + what + " " + id + " is " + status + ": " + str(verify_of(manifest.json), "error") + "\n";
    }
    return result;
}

}  // namespace

JobOutcome wait_for_job(const ApiClient& client, const std::string& job_id, const WaitOptions& wait,
                        const std::string& backup_id) {
    const auto start = std::chrono::steady_clock::now();
    for (;;) {
        const auto res = client.get("/jobs/" + job_id);
        const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        if (res.error) return {"following job " + job_id + ": " + *res.error, {}};
        const auto status = res.json.value("status", "");
        if (wait.progress) {
            WaitProgress p{status, res.json.value("attempts", 0), elapsed, "", -1};
            if (!backup_id.empty()) {
                const auto m = client.get("/ops/backups/" + backup_id);
                if (!m.error && m.json.is_object() && m.json.contains("progress") && m.json["progress"].is_object()) {
                    const auto& pr = m.json["progress"];
                    if (pr.contains("phase") && pr["phase"].is_string()) p.phase = pr["phase"].get<std::string>();
                    if (pr.contains("bytes") && pr["bytes"].is_number()) p.bytes = pr["bytes"].get<double>();
                }
            }
            wait.progress(p);
        }
        if (status == "succeeded" || status == "dead") return {std::nullopt, res.json};
        if (std::chrono::steady_clock::now() - start + wait.poll > wait.timeout) {
            return {"job " + job_id + " is still " + status + " after " + seconds_text(elapsed) +
                        " (levqorctl jobs get " + job_id + ")",
                    res.json};
        }
        std::this_thread::sleep_for(wait.poll);
    }
}

bool backup_name_shape(const std::string& text) {
    return !text.empty() && text.size() <= 64 &&
           text.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") ==
               std::string::npos;
}

std::string human_bytes(double bytes) {
    static const char* const kUnits[] = {"B", "kB", "MB", "GB", "TB"};
    int unit = 0;
    while (bytes >= 1000 && unit < 4) {
        bytes /= 1000;
        ++unit;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, unit == 0 ? "%.0f %s" : "%.1f %s", bytes, kUnits[unit]);
    return buf;
}

std::string progress_line(const WaitProgress& p) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "%-9s attempt %d, %.0f s", p.job_status.c_str(),
                  p.attempts + (p.job_status == "running" ? 1 : 0), p.elapsed_seconds);
    std::string line = buf;
    if (p.bytes >= 0) line += ", " + (p.phase.empty() ? std::string("bytes") : p.phase) + " " + human_bytes(p.bytes);
    return line;
}

std::string backups_table(const nlohmann::json& listing) {
    const nlohmann::json* items = &listing;
    if (listing.is_object() && listing.contains("backups")) items = &listing["backups"];
    std::ostringstream out;
    if (!items->is_array() || items->empty()) return "no backups\n";
    out << std::left << std::setw(26) << "ID" << std::setw(14) << "TARGET" << std::setw(10) << "STATUS" << std::setw(22)
        << "STARTED" << std::setw(11) << "SIZE" << std::setw(10) << "RTO"
        << "VERIFY\n";
    for (const auto& m : *items) {
        const auto& v = verify_of(m);
        out << std::setw(26) << str(m, "id") << std::setw(14) << str(m, "target") << std::setw(10) << str(m, "status")
            << std::setw(22) << str(m, "started_at") << std::setw(11) << human_bytes(total_bytes(m)) << std::setw(10)
            << (v.is_object() && v.contains("restore_seconds") ? seconds_text(number(v, "restore_seconds")) : "-")
            << verify_cell(m) << "\n";
    }
    return out.str();
}

std::string manifest_text(const nlohmann::json& manifest) {
    std::ostringstream out;
    out << std::left;
    for (const char* key : {"id", "target", "kind", "status", "started_at", "finished_at", "encrypted",
                            "server_version", "tool_version", "levqor_version"}) {
        if (manifest.is_object() && manifest.contains(key))
            out << std::setw(16) << key << text_of(manifest[key]) << "\n";
    }
    const auto& v = verify_of(manifest);
    if (v.is_object()) {
        out << std::setw(16) << "verify" << (v.value("ok", false) ? "ok" : "FAILED") << " at " << str(v, "checked_at")
            << ", restore (RTO) " << seconds_text(number(v, "restore_seconds"));
        if (!v.value("ok", false)) out << ": " << str(v, "error");
        out << "\n";
    } else {
        out << std::setw(16) << "verify"
            << "not yet\n";
    }
    if (manifest.is_object() && manifest.contains("timings") && manifest["timings"].is_object()) {
        out << std::setw(16) << "timings";
        bool first = true;
        for (const auto& [phase, s] : manifest["timings"].items()) {
            out << (first ? "" : ", ") << phase << " " << (s.is_number() ? seconds_text(s.get<double>()) : text_of(s));
            first = false;
        }
        out << "\n";
    }
    if (manifest.is_object() && manifest.contains("files") && manifest["files"].is_array()) {
        out << "\nFILE" << std::string(22, ' ') << std::setw(11) << "SIZE"
            << "SHA256\n";
        for (const auto& f : manifest["files"]) {
            out << std::setw(26) << str(f, "path") << std::setw(11) << human_bytes(number(f, "bytes"))
                << str(f, "sha256") << "\n";
        }
    }
    if (manifest.is_object() && manifest.contains("parity") && manifest["parity"].is_object() &&
        !manifest["parity"].empty()) {
        out << "\n"
            << std::setw(40) << "TABLE" << std::setw(14) << "ROWS"
            << "DIGEST\n";
        for (const auto& [table, p] : manifest["parity"].items()) {
            out << std::setw(40) << table << std::setw(14) << str(p, "rows") << str(p, "digest") << "\n";
        }
    }
    return out.str();
}

CommandResult run_backup_run(const ApiClient& client, const std::string& target, const WaitOptions& wait, bool json) {
    if (!backup_name_shape(target)) {
        return usage_error("\"" + target + "\" is not a target name (1 to 64 of A-Z a-z 0-9 _ -)");
    }
    const auto started = client.post("/ops/backups", {{"target", target}});
    if (started.error) return failure("backup run failed: " + *started.error);
    const auto id = started.json.value("id", "");
    const auto job_id = started.json.value("job_id", "");
    if (!wait.wait) {
        if (json) return CommandResult{kExitOk, pretty(started.json), ""};
        return CommandResult{kExitOk, "backup " + id + " of " + target + " queued (job " + job_id + ")\n", ""};
    }
    if (!backup_name_shape(id) || !job_id_shape(job_id)) {
        return failure("backup run: unexpected answer " + started.body);
    }
    return finish_with_manifest(client, id, wait_for_job(client, job_id, wait, id), "backup", json);
}

CommandResult run_backup_list(const ApiClient& client, const std::string& target, bool json) {
    if (!target.empty() && !backup_name_shape(target)) {
        return usage_error("\"" + target + "\" is not a target name (1 to 64 of A-Z a-z 0-9 _ -)");
    }
    const auto listing = client.get(target.empty() ? "/ops/backups" : "/ops/backups?target=" + target);
    if (listing.error) return failure(*listing.error);
    return CommandResult{kExitOk, json ? pretty(listing.json) : backups_table(listing.json), ""};
}

CommandResult run_backup_show(const ApiClient& client, const std::string& id, bool json) {
    if (!backup_name_shape(id)) return usage_error("\"" + id + "\" is not a backup id");
    const auto manifest = client.get("/ops/backups/" + id);
    if (manifest.error) return failure(*manifest.error);
    return CommandResult{kExitOk, json ? pretty(manifest.json) : manifest_text(manifest.json), ""};
}

CommandResult run_backup_verify(const ApiClient& client, const std::string& id, const WaitOptions& wait, bool json) {
    if (!backup_name_shape(id)) return usage_error("\"" + id + "\" is not a backup id");
    const auto started = client.post("/ops/backups/" + id + "/verify", nlohmann::json::object());
    if (started.error) return failure("backup verify failed: " + *started.error);
    const auto job_id = started.json.value("job_id", "");
    if (!wait.wait) {
        if (json) return CommandResult{kExitOk, pretty(started.json), ""};
        return CommandResult{kExitOk, "verify of " + id + " queued (job " + job_id + ")\n", ""};
    }
    if (!job_id_shape(job_id)) return failure("backup verify: unexpected answer " + started.body);
    return finish_with_manifest(client, id, wait_for_job(client, job_id, wait, id), "backup", json);
}

CommandResult run_backup_restore(const ApiClient& client, const std::string& id, const std::string& into, bool force,
                                 const WaitOptions& wait, bool json) {
    if (!backup_name_shape(id)) return usage_error("\"" + id + "\" is not a backup id");
    if (into.empty() || into.size() > 4096) return usage_error("--into: a database name or a SQLite file path");
    const auto started = client.post("/ops/backups/" + id + "/restore", {{"into", into}, {"force", force}});
    if (started.error) {
        std::string message = "backup restore failed: " + *started.error;
        if (started.status == 409 && !force) message += " (pass --force to replace it)";
        return failure(message);
    }
    const auto job_id = started.json.value("job_id", "");
    if (!wait.wait) {
        if (json) return CommandResult{kExitOk, pretty(started.json), ""};
        return CommandResult{kExitOk, "restore of " + id + " into " + into + " queued (job " + job_id + ")\n", ""};
    }
    if (!job_id_shape(job_id)) return failure("backup restore: unexpected answer " + started.body);
    const auto job = wait_for_job(client, job_id, wait, id);
    if (job.error) return failure(*job.error);
    if (job.job.value("status", "") != "succeeded") {
        return CommandResult{
            kExitFailure, json ? pretty(job.job) : "",
            "levqorctl: restore of " + id + " into " + into + " failed: " + str(job.job, "last_error") + "\n"};
    }
    if (json) return CommandResult{kExitOk, pretty(job.job), ""};
    return CommandResult{kExitOk, "restored " + id + " into " + into + "\n", ""};
}

CommandResult run_backup_decrypt(const std::string& key_file, const std::string& in, const std::string& out) {
    struct stat st {};
    if (::lstat(out.c_str(), &st) == 0) return usage_error(out + " exists; give a new file to decrypt into");
    if (::stat(in.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return failure(in + ": not a readable file");
    if (!backup::looks_encrypted(in)) {
        return failure(in + " is not an encrypted levqor backup file (no LVQBKENC header)");
    }
    try {
        const auto key = backup::read_key_file(key_file);
        const auto bytes = backup::decrypt_file(in, out, key);
        return CommandResult{kExitOk,
                             "decrypted " + in + " into " + out + " (" + human_bytes(static_cast<double>(bytes)) +
                                 ", every chunk authenticated)\n",
                             ""};
    } catch (const std::exception& e) {  // EncryptionError, FileError: they name the file, never the key
        return failure(e.what());
    }
}

}  // namespace levqor::controld::ctl
