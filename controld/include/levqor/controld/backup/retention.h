// SPDX-License-Identifier: Apache-2.0
// Retention (design.md "Backups", retention_days): which backups to delete.
// A pure function of the manifests, the window and an injected "now"; the
// caller logs the list, then deletes. Thread-safe (no state).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "levqor/controld/backup/manifest.h"

namespace levqor::controld::backup {

struct Deletion {
    std::string target;
    std::string id;
    std::string reason;  // "started 2026-11-20T00:00:00Z, older than 7 days"
};

// Per target, a backup is deleted when it started more than retention_days
// before `now`, except:
//   - a running backup (being dumped or drilled) is never deleted;
//   - the newest verified backup of each target is never deleted, even when
//     older than the window, so a target whose recent backups all failed
//     still has one that restores.
// retention_days <= 0 deletes nothing (retention off). Returned oldest first.
std::vector<Deletion> choose_deletions(const std::vector<Manifest>& backups, int retention_days,
                                       std::int64_t now_unix_seconds);

}  // namespace levqor::controld::backup
