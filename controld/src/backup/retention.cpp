// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/backup/retention.h"

#include <algorithm>
#include <map>

namespace levqor::controld::backup {
namespace {

// Newer = later start; the id breaks ties so the choice does not depend on
// the order the caller listed the folders in.
bool newer(const Manifest& a, const Manifest& b) {
    if (a.started_at != b.started_at) return a.started_at > b.started_at;
    return a.id > b.id;
}

}  // namespace

std::vector<Deletion> choose_deletions(const std::vector<Manifest>& backups, int retention_days,
                                       std::int64_t now_unix_seconds) {
    std::vector<Deletion> out;
    if (retention_days <= 0) return out;
    const std::int64_t cutoff = now_unix_seconds - static_cast<std::int64_t>(retention_days) * 86400;

    std::map<std::string, const Manifest*> newest_verified;
    for (const auto& m : backups) {
        if (m.status != BackupStatus::verified) continue;
        auto& slot = newest_verified[m.target];
        if (slot == nullptr || newer(m, *slot)) slot = &m;
    }

    std::vector<const Manifest*> doomed;
    for (const auto& m : backups) {
        if (m.status == BackupStatus::running) continue;
        if (m.started_at >= cutoff) continue;
        auto it = newest_verified.find(m.target);
        if (it != newest_verified.end() && it->second == &m) continue;
        doomed.push_back(&m);
    }
    std::sort(doomed.begin(), doomed.end(), [](const Manifest* a, const Manifest* b) { return newer(*b, *a); });
    for (const Manifest* m : doomed) {
        out.push_back({m->target, m->id,
                       std::string(to_string(m->status)) + " backup started " + format_utc(m->started_at) +
                           ", older than " + std::to_string(retention_days) + " days"});
    }
    return out;
}

}  // namespace levqor::controld::backup
