// SPDX-License-Identifier: Apache-2.0
// The backup component (design.md "Backups"): BackupService runs backups,
// verifies and restores as queue jobs (types backup, backup_verify,
// backup_restore) and answers the routes from the manifests on disk.
//
// One backup (job `backup`, payload {"target", "id"?}): the folder
// <dir>/<target>/<id>/ with a `running` manifest; the engine's dump or copy
// (encrypted when a key is configured) and the sha256 of each file; the
// restore drill; `verified` or `failed` (an error event when failed); then
// retention (what it deletes is logged first). A dump that fails removes
// its folder and is retried by the queue (1/5/15 s, then the DLQ) with the
// engine's redacted error. One backup (or verify) of a target at a time,
// also across processes sharing backup.dir (TargetLock, store.h). At start,
// a backup left `running` by a stopped process is marked `failed` unless
// another process holds its target's lock.
//
// Thread-safety: construct (it registers the executors) before the queue
// starts; everything else may be called concurrently.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "levqor/controld/backup/manifest.h"
#include "levqor/controld/backup/settings.h"
#include "levqor/controld/core/log.h"
#include "levqor/controld/metrics/registry.h"
#include "levqor/controld/queue/executor.h"
#include "levqor/controld/queue/service.h"
#include "levqor/controld/tracking/tracker.h"

namespace levqor::controld::backup {

// POST /ops/backups for a target backup.targets does not name (404).
class UnknownTarget : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};
// A backup of the target is queued or running (409).
class BackupBusy : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};
// No backup with this id (404).
class BackupNotFound : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};
// The restore's `into` exists and is not empty, without force (409).
class RestoreConflict : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};
// A request the service refuses (400): a bad `into`, a backup that is not restorable.
class BadBackupRequest : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// "20261129T111403Z-3fa9c2": UTC start time then 6 random hex digits (sorts by age).
std::string new_backup_id(std::int64_t unix_seconds);
bool is_backup_id(const std::string& text);

class BackupService {
public:
    struct Settings {
        BackupSettings backup;  // backup.dir already defaulted
        std::string data_dir;
        // queue.visibility_timeout_s: a backup job must finish within it (or
        // it is delivered again while it runs).
        std::chrono::seconds visibility_timeout{30};
    };

    // Registers the executors with `queue` (before queue.start()).
    BackupService(Settings settings, queue::QueueService& queue, metrics::Registry& registry, const Logger& log,
                  tracking::ErrorTracker& errors);
    ~BackupService();
    BackupService(const BackupService&) = delete;
    BackupService& operator=(const BackupService&) = delete;

    // SIGHUP: targets, retention and the key apply to jobs run from now on.
    void reconfigure(const Settings& settings);

    struct Started {
        std::string id;  // the backup's (empty for verify/restore)
        std::string job_id;
    };
    // POST /ops/backups. Throws UnknownTarget, BackupBusy, queue::QueueFull, queue::BackendError.
    Started start_backup(const std::string& target);
    // GET /ops/backups: newest first (only `target`'s when not empty).
    std::vector<Manifest> list(const std::string& target) const;
    // GET /ops/backups/{id}: nullopt when unknown.
    std::optional<Manifest> find(const std::string& id) const;
    // backup.dir as configured now (GET /ops/backups/{id} reads a running dump's size there).
    std::string backup_dir() const;
    // The restore or drill of backup `id` running now, as the "progress" of
    // GET /ops/backups/{id}: {"phase": "drill"|"restore", "into", "bytes"?}
    // where bytes is what is restored so far (the database's size on disk,
    // pg_database_size, or the SQLite file's); nullopt when none runs.
    std::optional<nlohmann::json> restore_progress(const std::string& id) const;
    // POST /ops/backups/{id}/verify. Throws BackupNotFound.
    Started start_verify(const std::string& id);
    // POST /ops/backups/{id}/restore. Throws BackupNotFound, BadBackupRequest,
    // RestoreConflict (checked now, and again by the job).
    Started start_restore(const std::string& id, const std::string& into, bool force);

    // The executors' work (one job each); public for the unit tests.
    queue::ExecutionResult run_backup(const nlohmann::json& payload);
    queue::ExecutionResult run_verify(const nlohmann::json& payload);
    queue::ExecutionResult run_restore(const nlohmann::json& payload);

    // What the batch runner is told one job may take: the whole visibility
    // budget, so a backup job only starts first in its batch.
    std::chrono::milliseconds max_job_duration() const;

private:
    struct TargetMetrics {
        metrics::Gauge* last_success;
        metrics::Gauge* verify_ok;
        metrics::Gauge* restore_seconds;
        metrics::Gauge* size_bytes;
    };

    Settings settings() const;
    // At start: a `running` manifest is a backup the previous process did
    // not finish; it becomes `failed` (so retention may delete it, and a
    // repeated delivery of its job does not redo it).
    void mark_interrupted();
    std::string enqueue(const std::string& type, const nlohmann::json& payload);
    std::shared_ptr<std::mutex> target_lock(const std::string& target);
    TargetMetrics& metrics_for(const std::string& target);
    void count(const std::string& target, const std::string& outcome);
    void clear_pending(const std::string& target, const std::string& id);
    // The drill of a stored backup into the manifest's verify (no throw).
    void drill(const Settings& s, const BackupTarget& target, const std::string& folder, Manifest& manifest);
    void after_verify(const BackupTarget& target, const Manifest& manifest);
    void apply_retention(const Settings& s, const std::string& target);
    std::optional<std::pair<Manifest, std::string>> locate(const Settings& s, const std::string& id) const;

    queue::QueueService& queue_;
    const Logger& log_;
    tracking::ErrorTracker& errors_;
    metrics::Family<metrics::Gauge>& last_success_;
    metrics::Family<metrics::Gauge>& verify_ok_;
    metrics::Family<metrics::Gauge>& restore_seconds_;
    metrics::Family<metrics::Gauge>& size_bytes_;
    metrics::Family<metrics::Counter>& backups_total_;

    mutable std::mutex mutex_;
    Settings settings_;
    std::map<std::string, std::string> pending_;  // target -> backup id queued or running
    std::map<std::string, std::shared_ptr<std::mutex>> locks_;
    std::map<std::string, TargetMetrics> metrics_;
    // Backup id -> the restore or drill of it running now (restore_progress).
    struct Restoring {
        std::string phase;
        std::string into;
        std::function<std::optional<std::uint64_t>()> bytes;  // restored so far
    };
    std::map<std::string, Restoring> restoring_;
    friend class RestoringScope;
};

}  // namespace levqor::controld::backup
