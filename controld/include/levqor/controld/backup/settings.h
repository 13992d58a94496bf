// SPDX-License-Identifier: Apache-2.0
// The backup component's settings (design.md "Backups"): the "backup"
// section of the config file. Plain values; thread-safe to copy and read.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "levqor/controld/core/config.h"

namespace levqor::controld::backup {

// One thing to back up: a PostgreSQL database (libpq URL) or a SQLite file.
struct BackupTarget {
    std::string name;      // 1 to 64 of [A-Za-z0-9_-]: the folder under backup.dir
    std::string kind;      // "postgres" | "sqlite"
    std::string url;       // postgres: libpq URL or conninfo (may hold a password)
    std::string path;      // sqlite: absolute path of the live database
    std::string schedule;  // UTC cron text (schedule/cron.h); the scheduler runs it as backup:<name>

    friend bool operator==(const BackupTarget& a, const BackupTarget& b) {
        return a.name == b.name && a.kind == b.kind && a.url == b.url && a.path == b.path && a.schedule == b.schedule;
    }
};

struct BackupSettings {
    std::string dir;  // empty: <data_dir>/backups (apply_derived_defaults)
    int retention_days = 7;
    std::optional<std::string> encryption_key_file;  // AES-256-GCM at rest when set
    std::string pg_bin_dir;                          // pg_dump/pg_restore; empty: the server's major's
    std::vector<BackupTarget> targets;

    const BackupTarget* find(const std::string& name) const {
        for (const auto& t : targets) {
            if (t.name == name) return &t;
        }
        return nullptr;
    }

    friend bool operator==(const BackupSettings& a, const BackupSettings& b) {
        return a.dir == b.dir && a.retention_days == b.retention_days &&
               a.encryption_key_file == b.encryption_key_file && a.pg_bin_dir == b.pg_bin_dir && a.targets == b.targets;
    }
};

// A cron expression (schedule/cron.h, the one grammar the scheduler runs):
// throws std::invalid_argument (schedule::CronError) naming the field.
void check_schedule_text(const std::string& text);

// The part's top-level keys with their effective values, as the config file
// writes them (levqor-controld --check-config); a
// postgres target's url with its credentials masked (masked_connection_url).
nlohmann::ordered_json settings_json(const BackupSettings& settings);

// The "backup" section, filling `out`.
ConfigPart config_part(BackupSettings& out);

}  // namespace levqor::controld::backup
