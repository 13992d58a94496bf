// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/backup/service.h"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>

#include <libpq-fe.h>

#include "levqor/controld/core/elapsed.h"
#include "levqor/controld/backup/encryption.h"
#include "levqor/controld/backup/postgres.h"
#include "levqor/controld/backup/retention.h"
#include "levqor/controld/backup/sqlite.h"
#include "levqor/controld/backup/store.h"
#include "levqor/controld/core/files.h"
#include "levqor/controld/core/json.h"
#include "levqor/controld/version.h"
#include "levqor/url_credentials.h"

namespace levqor::controld::backup {
namespace {

using nlohmann::json;
using queue::ExecutionResult;

std::int64_t now_seconds() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

ExecutionResult failure(ExecutionResult::Kind kind, const std::string& error) {
    ExecutionResult r;
    r.kind = kind;
    r.error = mask_url_credentials(error);
    return r;
}

ExecutionResult permanent(const std::string& error) { return failure(ExecutionResult::Kind::permanent, error); }
ExecutionResult retryable(const std::string& error) { return failure(ExecutionResult::Kind::retryable, error); }

std::string payload_string(const json& payload, const char* key) {
    const auto it = payload.find(key);
    if (it == payload.end() || !it->is_string()) return "";
    return it->get<std::string>();
}

PostgresOptions pg_options(const BackupSettings& s, const BackupTarget& t) {
    PostgresOptions o;
    o.url = t.url;
    o.bin_dir = s.pg_bin_dir;
    return o;
}

std::optional<EncryptionKey> load_key(const BackupSettings& s) {
    if (!s.encryption_key_file) return std::nullopt;
    return read_key_file(*s.encryption_key_file);
}

void remove_file(const std::string& path) { ::unlink(path.c_str()); }

// The dump file of a stored backup (the manifest's "database" file).
std::string stored_file(const std::string& folder, const Manifest& m) {
    if (m.files.empty()) throw BadBackupRequest("backup " + m.id + " has no files");
    return folder + "/" + m.files.front().path;
}

// A PostgreSQL dump usable by pg_restore: the stored one, or a decrypted
// temporary copy removed when this goes away.
class PlainDump {
public:
    PlainDump(const std::string& file, const std::optional<EncryptionKey>& key, bool encrypted) : path_(file) {
        if (!encrypted) return;
        if (!key) throw EncryptionError("the backup is encrypted and backup.encryption_key_file is not set");
        temp_ = file + ".plain." + std::to_string(::getpid());
        decrypt_file(file, temp_, *key);
        path_ = temp_;
    }
    ~PlainDump() {
        if (!temp_.empty()) remove_file(temp_);
    }
    PlainDump(const PlainDump&) = delete;
    PlainDump& operator=(const PlainDump&) = delete;
    const std::string& path() const { return path_; }

private:
    std::string path_;
    std::string temp_;
};

// Whether database `name` on the server of `url` exists and holds any user
// relation. Throws PostgresError (redacted) when the server cannot be asked.
bool postgres_database_nonempty(const std::string& url, const std::string& name) {
    const auto ask = [&](const std::string& dbname, const std::string& sql, const char* param) -> std::string {
        const char* keys[] = {"dbname", "dbname", "connect_timeout", nullptr};
        const char* values[] = {url.c_str(), dbname.empty() ? nullptr : dbname.c_str(), "10", nullptr};
        if (dbname.empty()) {
            keys[1] = "connect_timeout";
            values[1] = "10";
            keys[2] = nullptr;
            values[2] = nullptr;
        }
        std::unique_ptr<PGconn, decltype(&PQfinish)> conn(PQconnectdbParams(keys, values, 1), &PQfinish);
        if (PQstatus(conn.get()) != CONNECTION_OK) {
            throw PostgresError(mask_url_credentials("cannot connect: " + std::string(PQerrorMessage(conn.get()))));
        }
        const char* params[] = {param};
        std::unique_ptr<PGresult, decltype(&PQclear)> res(PQexecParams(conn.get(), sql.c_str(), param ? 1 : 0, nullptr,
                                                                       param ? params : nullptr, nullptr, nullptr, 0),
                                                          &PQclear);
        if (PQresultStatus(res.get()) != PGRES_TUPLES_OK) {
            throw PostgresError(mask_url_credentials(PQerrorMessage(conn.get())));
        }
        return PQntuples(res.get()) > 0 ? PQgetvalue(res.get(), 0, 0) : "";
    };
    if (ask("", "SELECT count(*) FROM pg_database WHERE datname = $1", name.c_str()) == "0") return false;
    return ask(name,
               "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
               "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%' "
               "AND n.nspname NOT LIKE 'pg_temp%'",
               nullptr) != "0";
}

bool valid_database_name(const std::string& name) {
    if (name.empty() || name.size() > 63) return false;
    for (unsigned char c : name) {
        if (c < 0x20 || c == 0x7f) return false;
    }
    return true;
}

class Executor final : public queue::Executor {
public:
    using Run = queue::ExecutionResult (BackupService::*)(const json&);
    // from_api: POST /jobs may enqueue this type (a backup of a configured
    // target); verify and restore only come from the admin routes.
    Executor(BackupService& service, Run run, const char* field, bool from_api)
        : service_(service), run_(run), field_(field), from_api_(from_api) {}

    void validate(const json& payload) const override {
        if (!from_api_) {
            throw queue::InvalidJob("invalid_job",
                                    "this job type is started by the admin routes "
                                    "POST /ops/backups/{id}/verify and /restore, not by POST /jobs");
        }
        if (!payload.is_object() || !payload.contains(field_) || !payload[field_].is_string()) {
            throw queue::InvalidJob("invalid_job", std::string("payload.") + field_ + ": expected a string");
        }
    }
    ExecutionResult run_one(const queue::Delivery& job) const override {
        const auto payload = queue::parse_stored_json(job.payload);
        if (!payload.is_object()) return permanent("the payload is not a JSON object");
        return (service_.*run_)(payload);
    }
    std::chrono::milliseconds max_duration(const queue::Delivery&) const override {
        return service_.max_job_duration();
    }

private:
    BackupService& service_;
    Run run_;
    const char* field_;
    bool from_api_;
};

std::string busy_elsewhere(const std::string& target) {
    return "a backup or verify of \"" + target + "\" is running (its lock in backup.dir is held)";
}

// The target's lock across processes (TargetLock), or nullptr with `why`
// (retryable): another process holds it, or it cannot be made.
std::unique_ptr<TargetLock> take_target_lock(const std::string& dir, const std::string& target, std::string& why) {
    try {
        auto lock = std::make_unique<TargetLock>(dir, target);
        if (lock->held()) return lock;
        why = busy_elsewhere(target);
    } catch (const FileError& e) {
        why = e.what();
    }
    return nullptr;
}

}  // namespace

std::string new_backup_id(std::int64_t unix_seconds) {
    auto text = format_utc(unix_seconds);  // 2026-11-29T10:52:07Z
    std::string compact;
    for (char c : text) {
        if (c != '-' && c != ':') compact.push_back(c);
    }
    thread_local std::mt19937_64 rng{std::random_device{}()};
    char suffix[8];
    std::snprintf(suffix, sizeof suffix, "%06x", static_cast<unsigned>(rng() & 0xffffff));
    return compact + "-" + suffix;
}

bool is_backup_id(const std::string& text) {
    if (text.empty() || text.size() > 40) return false;
    return text.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") ==
           std::string::npos;
}

BackupService::BackupService(Settings settings, queue::QueueService& queue, metrics::Registry& registry,
                             const Logger& log, tracking::ErrorTracker& errors)
    : queue_(queue),
      log_(log),
      errors_(errors),
      last_success_(registry.gauge("levqor_backup_last_success_timestamp_seconds",
                                   "Unix time the newest verified backup of the target finished.", {"target"})),
      verify_ok_(registry.gauge("levqor_backup_verify_ok",
                                "1 when the target's last check (restore drill or checksums) passed, else 0.",
                                {"target"})),
      restore_seconds_(registry.gauge("levqor_backup_restore_seconds",
                                      "The last restore drill's restore time of the target (its measured RTO).",
                                      {"target"})),
      size_bytes_(registry.gauge("levqor_backup_size_bytes", "Bytes stored by the target's last backup.", {"target"})),
      backups_total_(registry.counter("levqor_backups_total",
                                      "Backups and checks by target and outcome: verified, failed, corrupt.",
                                      {"target", "outcome"})),
      settings_(std::move(settings)) {
    queue.register_executor("backup", std::make_shared<Executor>(*this, &BackupService::run_backup, "target", true));
    queue.register_executor("backup_verify",
                            std::make_shared<Executor>(*this, &BackupService::run_verify, "backup", false));
    queue.register_executor("backup_restore",
                            std::make_shared<Executor>(*this, &BackupService::run_restore, "backup", false));
    mark_interrupted();
    for (const auto& target : settings_.backup.targets) {
        metrics_for(target.name);
        // What is on disk already: the newest verified backup's time and size.
        try {
            const auto listing = list_backups(settings_.backup.dir, target.name);
            for (const auto& m : listing.backups) {
                if (m.status != BackupStatus::verified) continue;
                auto& tm = metrics_for(target.name);
                tm.last_success->set(static_cast<double>(m.finished_at.value_or(m.started_at)));
                std::uint64_t bytes = 0;
                for (const auto& f : m.files) bytes += f.bytes;
                tm.size_bytes->set(static_cast<double>(bytes));
                if (m.verify) tm.restore_seconds->set(m.verify->restore_seconds);
                tm.verify_ok->set(1);
                break;
            }
        } catch (const std::exception& e) {
            log.warn("cannot read the backups", {{"target", target.name}, {"error", e.what()}});
        }
    }
}

BackupService::~BackupService() = default;

void BackupService::mark_interrupted() {
    try {
        for (auto& m : list_backups(settings_.backup.dir).backups) {
            if (m.status != BackupStatus::running) continue;
            // Another controld sharing backup.dir is running it.
            if (target_locked(settings_.backup.dir, m.target)) continue;
            m.status = BackupStatus::failed;
            m.verify = VerifyResult{false, now_seconds(), 0, "interrupted: controld stopped while this backup ran"};
            write_manifest(backup_folder(settings_.backup.dir, m.target, m.id), m);
            log_.warn("backup interrupted by a stop; marked failed", {{"target", m.target}, {"id", m.id}});
        }
    } catch (const std::exception& e) {
        log_.warn("cannot read the backups", {{"dir", settings_.backup.dir}, {"error", e.what()}});
    }
}

void BackupService::reconfigure(const Settings& settings) {
    std::lock_guard<std::mutex> lock(mutex_);
    settings_ = settings;
}

std::string BackupService::backup_dir() const { return settings().backup.dir; }

BackupService::Settings BackupService::settings() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return settings_;
}

std::chrono::milliseconds BackupService::max_job_duration() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(settings().visibility_timeout) * 9 / 10;
}

BackupService::TargetMetrics& BackupService::metrics_for(const std::string& target) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = metrics_.find(target);
    if (it == metrics_.end()) {
        TargetMetrics m{&last_success_.labels({target}), &verify_ok_.labels({target}),
                        &restore_seconds_.labels({target}), &size_bytes_.labels({target})};
        for (const char* outcome : {"verified", "failed", "corrupt"}) backups_total_.labels({target, outcome});
        it = metrics_.emplace(target, m).first;
    }
    return it->second;
}

void BackupService::count(const std::string& target, const std::string& outcome) {
    metrics_for(target);
    backups_total_.labels({target, outcome}).inc();
}

std::shared_ptr<std::mutex> BackupService::target_lock(const std::string& target) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto& m = locks_[target];
    if (!m) m = std::make_shared<std::mutex>();
    return m;
}

void BackupService::clear_pending(const std::string& target, const std::string& id) {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto it = pending_.find(target);
    if (it != pending_.end() && it->second == id) pending_.erase(it);
}

std::string BackupService::enqueue(const std::string& type, const json& payload) {
    // Built here, not parsed: verify and restore are refused from POST /jobs.
    queue::JobRequest request;
    request.jobs.push_back({queue::new_job_id(queue::now_ms()), type, payload.dump()});
    request.fingerprint = type + ":" + request.jobs.front().id;
    const auto result = queue_.enqueue(request, std::nullopt);
    return result.ids.empty() ? "" : result.ids.front();
}

BackupService::Started BackupService::start_backup(const std::string& target) {
    const auto s = settings();
    if (!s.backup.find(target)) throw UnknownTarget("no backup target \"" + target + "\" in backup.targets");
    if (target_locked(s.backup.dir, target)) throw BackupBusy(busy_elsewhere(target));
    const auto id = new_backup_id(now_seconds());
    {
        std::lock_guard<std::mutex> lock(mutex_);
        const auto it = pending_.find(target);
        if (it != pending_.end()) {
            throw BackupBusy("a backup of \"" + target + "\" is already queued or running (" + it->second + ")");
        }
        pending_[target] = id;
    }
    try {
        return {id, enqueue("backup", {{"target", target}, {"id", id}})};
    } catch (...) {
        clear_pending(target, id);
        throw;
    }
}

std::vector<Manifest> BackupService::list(const std::string& target) const {
    const auto s = settings();
    auto listing = list_backups(s.backup.dir, target);
    for (const auto& problem : listing.problems) log_.warn("backup folder skipped", {{"problem", problem}});
    return std::move(listing.backups);
}

std::optional<std::pair<Manifest, std::string>> BackupService::locate(const Settings& s, const std::string& id) const {
    if (!is_backup_id(id)) return std::nullopt;
    for (auto& m : list_backups(s.backup.dir).backups) {
        if (m.id == id) {
            auto folder = backup_folder(s.backup.dir, m.target, m.id);
            return std::make_pair(std::move(m), std::move(folder));
        }
    }
    return std::nullopt;
}

std::optional<Manifest> BackupService::find(const std::string& id) const {
    auto found = locate(settings(), id);
    if (!found) return std::nullopt;
    return std::move(found->first);
}

BackupService::Started BackupService::start_verify(const std::string& id) {
    if (!find(id)) throw BackupNotFound("no backup " + id);
    return {"", enqueue("backup_verify", {{"backup", id}})};
}

BackupService::Started BackupService::start_restore(const std::string& id, const std::string& into, bool force) {
    const auto s = settings();
    const auto found = locate(s, id);
    if (!found) throw BackupNotFound("no backup " + id);
    const auto& m = found->first;
    if (m.status == BackupStatus::running) throw BadBackupRequest("backup " + id + " is still running");
    if (m.status == BackupStatus::corrupt) throw BadBackupRequest("backup " + id + " is corrupt");
    if (m.kind == "sqlite") {
        if (into.empty() || into.front() != '/' || into.size() > 4096) {
            throw BadBackupRequest("into: expected the absolute path of a new SQLite file");
        }
        struct stat st {};
        if (!force && ::stat(into.c_str(), &st) == 0 && st.st_size > 0) {
            throw RestoreConflict(into + " exists and is not empty; pass \"force\": true to replace it");
        }
    } else {
        if (!valid_database_name(into)) throw BadBackupRequest("into: expected a database name (1 to 63 characters)");
        const auto* target = s.backup.find(m.target);
        if (!target) throw BadBackupRequest("target \"" + m.target + "\" is no longer in backup.targets");
        if (!force && postgres_database_nonempty(target->url, into)) {
            throw RestoreConflict("database \"" + into +
                                  "\" exists and is not empty; pass \"force\": true to replace it");
        }
    }
    return {"", enqueue("backup_restore", {{"backup", id}, {"into", into}, {"force", force}})};
}

// Registers a restore or drill of a backup in restoring_ while it runs.
class RestoringScope {
public:
    RestoringScope(BackupService& service, std::string id, BackupService::Restoring what)
        : service_(service), id_(std::move(id)) {
        std::lock_guard<std::mutex> lock(service_.mutex_);
        service_.restoring_[id_] = std::move(what);
    }
    ~RestoringScope() {
        std::lock_guard<std::mutex> lock(service_.mutex_);
        service_.restoring_.erase(id_);
    }
    RestoringScope(const RestoringScope&) = delete;
    RestoringScope& operator=(const RestoringScope&) = delete;

private:
    BackupService& service_;
    std::string id_;
};

namespace {

std::optional<std::uint64_t> file_bytes(const std::string& path) {
    std::error_code ec;
    const auto size = std::filesystem::file_size(path, ec);
    if (ec) return std::nullopt;
    return size;
}

}  // namespace

std::optional<json> BackupService::restore_progress(const std::string& id) const {
    Restoring now;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        const auto it = restoring_.find(id);
        if (it == restoring_.end()) return std::nullopt;
        now = it->second;
    }
    json out{{"phase", now.phase}, {"into", now.into}};
    // Read outside the lock: a size query may take up to its connect timeout.
    if (now.bytes) {
        if (const auto bytes = now.bytes()) out["bytes"] = *bytes;
    }
    return out;
}

void BackupService::drill(const Settings& s, const BackupTarget& target, const std::string& folder,
                          Manifest& manifest) {
    VerifyResult v;
    const auto started = std::chrono::steady_clock::now();
    try {
        const auto key = load_key(s.backup);
        const auto file = stored_file(folder, manifest);
        if (manifest.kind == "sqlite") {
            // Outside backup.dir: a scratch folder a crash leaves behind must not
            // sit in a backup's folder (remove_backup refuses subfolders).
            const auto scratch = s.data_dir + "/backup-scratch";
            ensure_directory(scratch, 0700);
            RestoringScope restoring(*this, manifest.id, {"drill", "", {}});
            const auto r = drill_sqlite(file, manifest.parity, scratch, key ? &*key : nullptr);
            v.ok = r.ok;
            v.error = r.error;
            v.restore_seconds = r.restore_seconds;
        } else {
            PlainDump plain(file, key, manifest.encrypted);
            const auto options = pg_options(s.backup, target);
            const auto scratch = "levqor_verify_" + manifest.id;
            RestoringScope restoring(*this, manifest.id, {"drill", scratch, [options, scratch] {
                                                              return postgres_database_size(options, scratch);
                                                          }});
            const auto r = drill_postgres(options, plain.path(), manifest.parity, manifest.id);
            v.ok = r.ok;
            v.error = r.error;
            v.restore_seconds = r.restore_seconds;
        }
    } catch (const std::exception& e) {
        v.ok = false;
        v.error = e.what();
    }
    v.error = mask_url_credentials(v.error);
    v.checked_at = now_seconds();
    manifest.timings["drill"] = seconds_since(started);
    manifest.verify = v;
    manifest.status = v.ok ? BackupStatus::verified : BackupStatus::failed;
}

void BackupService::after_verify(const BackupTarget& target, const Manifest& m) {
    auto& tm = metrics_for(target.name);
    const bool ok = m.status == BackupStatus::verified;
    tm.verify_ok->set(ok ? 1 : 0);
    count(target.name, std::string(to_string(m.status)));
    if (m.verify) tm.restore_seconds->set(m.verify->restore_seconds);
    if (ok) {
        tm.last_success->set(static_cast<double>(m.finished_at.value_or(now_seconds())));
        std::uint64_t bytes = 0;
        for (const auto& f : m.files) bytes += f.bytes;
        tm.size_bytes->set(static_cast<double>(bytes));
        return;
    }
    errors_.capture("backup", m.status == BackupStatus::corrupt ? "backup is corrupt" : "backup verification failed",
                    {{"target", target.name},
                     {"id", m.id},
                     {"status", std::string(to_string(m.status))},
                     {"error", m.verify ? m.verify->error : std::string()}});
}

void BackupService::apply_retention(const Settings& s, const std::string& target) {
    try {
        const auto listing = list_backups(s.backup.dir, target);
        const auto deletions = choose_deletions(listing.backups, s.backup.retention_days, now_seconds());
        for (const auto& d : deletions) {
            log_.info("backup to be deleted by retention", {{"target", d.target}, {"id", d.id}, {"reason", d.reason}});
        }
        for (const auto& d : deletions) {
            remove_backup(s.backup.dir, d.target, d.id);
            log_.info("backup deleted", {{"target", d.target}, {"id", d.id}});
        }
    } catch (const std::exception& e) {
        errors_.capture("backup", "retention failed", {{"target", target}, {"error", e.what()}});
    }
}

ExecutionResult BackupService::run_backup(const json& payload) {
    const auto s = settings();
    const auto name = payload_string(payload, "target");
    const auto* target = s.backup.find(name);
    if (!target) return permanent("no backup target \"" + name + "\" in backup.targets");
    auto id = payload_string(payload, "id");
    if (id.empty()) id = new_backup_id(now_seconds());
    if (!is_backup_id(id)) return permanent("payload.id: 1 to 40 letters, digits, '_' or '-'");

    const auto lock = target_lock(name);
    std::unique_lock<std::mutex> held(*lock, std::try_to_lock);
    if (!held.owns_lock()) return retryable("another backup or verify of \"" + name + "\" is running");
    struct Pending {
        BackupService& self;
        const std::string& target;
        const std::string& id;
        ~Pending() { self.clear_pending(target, id); }
    } pending{*this, name, id};
    std::string busy;
    const auto file_lock = take_target_lock(s.backup.dir, name, busy);
    if (!file_lock) return retryable(busy);

    const auto folder = backup_folder(s.backup.dir, name, id);
    Manifest m;
    m.id = id;
    m.target = name;
    m.kind = target->kind;
    m.started_at = now_seconds();
    m.levqor_version = std::string(kVersion);
    try {
        if (std::filesystem::exists(folder)) {
            // This job ran before: its backup is kept once finished (a
            // delivery repeated after the visibility timeout must not redo
            // it); a `running` one is what a killed attempt left.
            try {
                const auto earlier = read_manifest(folder);
                if (earlier.status != BackupStatus::running) {
                    ExecutionResult done;
                    done.result = {{"id", id}, {"target", name}, {"status", std::string(to_string(earlier.status))}};
                    if (earlier.status != BackupStatus::verified) {
                        done.kind = ExecutionResult::Kind::permanent;
                        done.error = "backup " + id + " is " + std::string(to_string(earlier.status)) + ": " +
                                     (earlier.verify ? earlier.verify->error : std::string());
                    }
                    return done;
                }
            } catch (const std::exception&) {
                // no readable manifest: a partial folder
            }
            remove_backup(s.backup.dir, name, id);
        }
        ensure_directory(s.backup.dir, 0700);
        ensure_directory(s.backup.dir + "/" + name, 0700);
        ensure_directory(folder, 0700);
        write_manifest(folder, m);
        const auto key = load_key(s.backup);
        m.encrypted = key.has_value();
        const auto dump_started = std::chrono::steady_clock::now();
        if (target->kind == "sqlite") {
            const auto r = backup_sqlite(target->path, folder, "database", key ? &*key : nullptr);
            m.files.push_back({"database", std::filesystem::path(r.path).filename().string(), r.bytes, r.sha256});
            m.parity = r.parity;
            m.server_version = "SQLite " + r.sqlite_version;
            m.tool_version = "SQLite " + r.sqlite_version;
            m.timings["copy"] = r.copy.seconds;
            m.timings["integrity"] = r.integrity_seconds;
            m.timings["parity"] = r.parity_seconds;
            if (key) m.timings["encrypt"] = r.encrypt_seconds;
        } else {
            const auto r = dump_postgres(pg_options(s.backup, *target), folder);
            std::string file = r.file;
            if (key) {
                const auto enc_started = std::chrono::steady_clock::now();
                encrypt_file(r.file, r.file + ".enc", *key);
                remove_file(r.file);
                file = r.file + ".enc";
                m.timings["encrypt"] = seconds_since(enc_started);
            }
            const auto digest = sha256_file(file);
            m.files.push_back(
                {"database", std::filesystem::path(file).filename().string(), digest.bytes, digest.sha256});
            m.parity = r.parity;
            m.server_version = "PostgreSQL " + r.server_version;
            m.tool_version = r.pg_dump_version;
            m.timings["dump"] = r.dump_seconds;
            m.timings["parity"] = r.parity_seconds;
        }
        m.timings["backup"] = seconds_since(dump_started);
        write_manifest(folder, m);
    } catch (const std::exception& e) {
        const auto error = mask_url_credentials(e.what());
        try {
            if (std::filesystem::exists(folder)) remove_backup(s.backup.dir, name, id);
        } catch (const std::exception& cleanup) {
            log_.error("cannot remove a failed backup's folder", {{"folder", folder}, {"error", cleanup.what()}});
        }
        count(name, "failed");
        metrics_for(name);
        errors_.capture("backup", "backup failed", {{"target", name}, {"id", id}, {"error", error}});
        return retryable("backup of \"" + name + "\" failed: " + error);
    }

    drill(s, *target, folder, m);
    m.finished_at = now_seconds();
    try {
        write_manifest(folder, m);
    } catch (const std::exception& e) {
        errors_.capture("backup", "cannot write a manifest", {{"target", name}, {"id", id}, {"error", e.what()}});
        return retryable(e.what());
    }
    after_verify(*target, m);
    log_.info("backup finished", {{"target", name},
                                  {"id", id},
                                  {"status", std::string(to_string(m.status))},
                                  {"restore_seconds", m.verify ? m.verify->restore_seconds : 0.0}});
    apply_retention(s, name);

    ExecutionResult result;
    result.result = {{"id", id}, {"target", name}, {"status", std::string(to_string(m.status))}};
    if (m.status != BackupStatus::verified) {
        result.kind = ExecutionResult::Kind::permanent;
        result.error = "backup " + id + " failed its restore drill: " + (m.verify ? m.verify->error : "");
    }
    return result;
}

ExecutionResult BackupService::run_verify(const json& payload) {
    const auto s = settings();
    const auto id = payload_string(payload, "backup");
    const auto found = locate(s, id);
    if (!found) return permanent("no backup " + id);
    Manifest m = found->first;
    const auto& folder = found->second;
    const auto* target = s.backup.find(m.target);
    if (!target) return permanent("target \"" + m.target + "\" is no longer in backup.targets");

    const auto lock = target_lock(m.target);
    std::unique_lock<std::mutex> held(*lock, std::try_to_lock);
    if (!held.owns_lock()) return retryable("another backup or verify of \"" + m.target + "\" is running");
    std::string busy;
    const auto file_lock = take_target_lock(s.backup.dir, m.target, busy);
    if (!file_lock) return retryable(busy);
    m = read_manifest(folder);  // as it is now, under the lock
    if (m.status == BackupStatus::running) return retryable("backup " + id + " is still running");

    const auto problems = check_files(folder, m);
    if (!problems.empty()) {
        std::string error;
        for (const auto& p : problems) error += (error.empty() ? "" : "; ") + p;
        m.status = BackupStatus::corrupt;
        m.verify = VerifyResult{false, now_seconds(), 0, error};
    } else {
        drill(s, *target, folder, m);
    }
    write_manifest(folder, m);
    after_verify(*target, m);
    log_.info("backup verified", {{"target", m.target}, {"id", id}, {"status", std::string(to_string(m.status))}});
    ExecutionResult result;
    result.result = {{"id", id}, {"status", std::string(to_string(m.status))}};
    if (m.status != BackupStatus::verified) {
        result.kind = ExecutionResult::Kind::permanent;
        result.error = "backup " + id + " is " + std::string(to_string(m.status)) + ": " + m.verify->error;
    }
    return result;
}

ExecutionResult BackupService::run_restore(const json& payload) {
    const auto s = settings();
    const auto id = payload_string(payload, "backup");
    const auto into = payload_string(payload, "into");
    const bool force = payload.value("force", false);
    const auto found = locate(s, id);
    if (!found) return permanent("no backup " + id);
    const auto& [m, folder] = *found;
    const auto* target = s.backup.find(m.target);
    if (m.kind == "postgres" && !target) return permanent("target \"" + m.target + "\" is no longer in backup.targets");
    try {
        const auto problems = check_files(folder, m);
        if (!problems.empty()) return permanent("backup " + id + " is corrupt: " + problems.front());
        const auto key = load_key(s.backup);
        const auto file = stored_file(folder, m);
        double seconds = 0;
        if (m.kind == "sqlite") {
            RestoringScope restoring(*this, id, {"restore", into, [into] { return file_bytes(into); }});
            seconds = restore_sqlite(file, into, force, key ? &*key : nullptr);
        } else {
            PlainDump plain(file, key, m.encrypted);
            const auto options = pg_options(s.backup, *target);
            RestoringScope restoring(
                *this, id, {"restore", into, [options, into] { return postgres_database_size(options, into); }});
            const auto r = restore_postgres(options, plain.path(), into, force);
            if (r.conflict) return permanent("database \"" + into + "\" exists and is not empty (use force)");
            if (!r.ok) return permanent("restore of " + id + " into \"" + into + "\" failed: " + r.error);
            seconds = r.restore_seconds;
        }
        log_.info("backup restored", {{"target", m.target}, {"id", id}, {"into", into}, {"seconds", seconds}});
        ExecutionResult result;
        result.result = {{"id", id}, {"into", into}, {"restore_seconds", seconds}};
        return result;
    } catch (const RestoreTargetExists& e) {
        return permanent(e.what());
    } catch (const std::exception& e) {
        errors_.capture("backup", "restore failed",
                        {{"target", m.target}, {"id", id}, {"error", mask_url_credentials(e.what())}});
        return permanent(std::string("restore of ") + id + " failed: " + e.what());
    }
}

}  // namespace levqor::controld::backup
