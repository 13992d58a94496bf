// SPDX-License-Identifier: Apache-2.0
// The backups on disk: <dir>/<target>/<id>/ holding the dump and
// manifest.json (design.md "Backups"). Listing (for GET /ops/backups and
// retention) and removal (for retention). Free functions; listing is safe
// concurrently with writers (a manifest is replaced atomically), removal of
// one folder must not race with its backup (callers hold the target's lock).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "levqor/controld/backup/manifest.h"
#include "levqor/controld/core/unique_fd.h"

namespace levqor::controld::backup {

// <dir>/<target>/<id>
std::string backup_folder(const std::string& dir, const std::string& target, const std::string& id);

struct BackupListing {
    std::vector<Manifest> backups;      // newest first (started_at, then id)
    std::vector<std::string> problems;  // a folder without a readable manifest, one sentence each
};

// Every <dir>/<target>/<id>/manifest.json (only `target`'s when not empty).
// A folder whose manifest is missing, unreadable, or names another target
// or id than its folder is a problem, not a backup (so retention never
// touches it). At most `max_backups` manifests are read; more is a problem.
// A missing `dir` is an empty listing. Throws FileError only when `dir`
// exists and cannot be read.
BackupListing list_backups(const std::string& dir, const std::string& target = "", std::size_t max_backups = 100000);

// Removes <dir>/<target>/<id>/: its regular files and symlinks (never
// followed), then the folder. A subfolder inside is refused (FileError):
// that is not a backup this code wrote.
void remove_backup(const std::string& dir, const std::string& target, const std::string& id);

// An exclusive flock(2) on <dir>/<target>/.lock (created 0600, with the
// target's folder) while a backup or verify of the target runs, so two
// controld processes sharing backup.dir never work on one target at once,
// and one starting does not mark the other's running backup interrupted.
// The kernel drops the lock when the process dies. Taken without waiting:
// held() is false when another process (or another open of the file) has
// it. Throws FileError when the folder or file cannot be made.
class TargetLock {
public:
    TargetLock(const std::string& dir, const std::string& target);
    bool held() const { return held_; }

private:
    UniqueFd fd_;
    bool held_ = false;
};

// Whether the target's lock is held now (by another process, or by this
// one's running backup or verify); false when there is no lock file.
bool target_locked(const std::string& dir, const std::string& target);

}  // namespace levqor::controld::backup
