// SPDX-License-Identifier: Apache-2.0
// The "backup" section of the config file (backup/settings.h) through
// load_config, and the backup ids (backup/service.h).
#include <gtest/gtest.h>

#include "levqor/controld/backup/service.h"
#include "levqor/controld/backup/settings.h"
#include "levqor/controld/config.h"
#include "test_support.h"

namespace levqor::controld::backup {
namespace {

using controld::testing::env_of;
using controld::testing::TempDir;

std::string error_of(const TempDir& dir, const std::string& backup) {
    try {
        load_config(dir.write("c.json", R"({"backup": )" + backup + "}"), env_of({}));
    } catch (const ConfigError& e) {
        return e.what();
    }
    return "";
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(BackupSettings, Defaults) {
    const auto config = load_config(std::nullopt, env_of({{"LEVQOR_DATA_DIR", "/srv/levqor"}}));
    EXPECT_EQ(config.backup.dir, "/srv/levqor/backups");  // follows data_dir
    EXPECT_EQ(config.backup.retention_days, 7);
    EXPECT_FALSE(config.backup.encryption_key_file);
    EXPECT_TRUE(config.backup.pg_bin_dir.empty());
    EXPECT_TRUE(config.backup.targets.empty());
}

TEST(BackupSettings, FileSetsEveryKey) {
    TempDir dir;
    const auto path = dir.write("c.json", R"({"backup": {"dir": "/backups", "retention_days": 14,
        "encryption_key_file": "/etc/levqor/backup.key", "pg_bin_dir": "/usr/lib/postgresql/15/bin",
        "targets": [
          {"name": "main", "kind": "postgres", "url": "postgresql://app:pw@db/app", "schedule": "0 3 * * *"},
          {"name": "local", "kind": "sqlite", "path": "/var/lib/app/app.db", "schedule": "*/15 0-6 * * 1,3"}]}})");
    const auto b = load_config(path, env_of({})).backup;
    EXPECT_EQ(b.dir, "/backups");
    EXPECT_EQ(b.retention_days, 14);
    EXPECT_EQ(b.encryption_key_file, "/etc/levqor/backup.key");
    EXPECT_EQ(b.pg_bin_dir, "/usr/lib/postgresql/15/bin");
    ASSERT_EQ(b.targets.size(), 2u);
    EXPECT_EQ(b.targets[0], (BackupTarget{"main", "postgres", "postgresql://app:pw@db/app", "", "0 3 * * *"}));
    EXPECT_EQ(b.targets[1], (BackupTarget{"local", "sqlite", "", "/var/lib/app/app.db", "*/15 0-6 * * 1,3"}));
    ASSERT_NE(b.find("local"), nullptr);
    EXPECT_EQ(b.find("local")->kind, "sqlite");
    EXPECT_EQ(b.find("nope"), nullptr);
}

TEST(BackupSettings, BadValuesNameTheKey) {
    TempDir dir;
    EXPECT_TRUE(contains(error_of(dir, R"({"retention_day": 3})"),
                         "unknown key \"backup.retention_day\" (did you mean \"backup.retention_days\"?)"));
    EXPECT_TRUE(contains(error_of(dir, R"({"retention_days": -1})"), "\"backup.retention_days\" = -1 is invalid"));
    EXPECT_TRUE(contains(error_of(dir, R"({"targets": {}})"), "\"backup.targets\" = {} is invalid"));
    EXPECT_TRUE(contains(error_of(dir, R"({"targets": [{"name": "a/b", "kind": "sqlite", "path": "/x"}]})"),
                         "\"backup.targets[0].name\" = \"a/b\" is invalid"));
    EXPECT_TRUE(contains(error_of(dir, R"({"targets": [{"name": "..", "kind": "sqlite", "path": "/x"}]})"),
                         "backup.targets[0].name"));
    EXPECT_TRUE(contains(error_of(dir, R"({"targets": [{"name": "a", "kind": "mysql", "url": "x"}]})"),
                         "expected postgres or sqlite"));
    EXPECT_TRUE(
        contains(error_of(dir, R"({"targets": [{"name": "a", "kind": "sqlite"}]})"), "a sqlite target needs \"path\""));
    EXPECT_TRUE(contains(error_of(dir, R"({"targets": [{"name": "a", "kind": "postgres"}]})"),
                         "a postgres target needs \"url\""));
    EXPECT_TRUE(contains(error_of(dir, R"({"targets": [{"name": "a", "kind": "sqlite", "path": "rel.db"}]})"),
                         "expected an absolute path"));
    EXPECT_TRUE(contains(error_of(dir, R"({"targets": [{"name": "a", "kind": "sqlite", "path": "/x", "url": "u"}]})"),
                         "a sqlite target has \"path\", not \"url\""));
    EXPECT_TRUE(contains(error_of(dir, R"({"targets": [{"name": "a", "kind": "sqlite", "path": "/x", "cron": "x"}]})"),
                         "unknown key \"backup.targets[0].cron\""));
    EXPECT_TRUE(contains(error_of(dir, R"({"targets": [{"name": "a", "kind": "sqlite", "path": "/x"},
                                                       {"name": "a", "kind": "sqlite", "path": "/y"}]})"),
                         "another target has this name"));
    EXPECT_TRUE(contains(
        error_of(dir, R"({"targets": [{"name": "a", "kind": "sqlite", "path": "/x", "schedule": "0 3 * *"}]})"),
        "found 4"));
    EXPECT_TRUE(contains(
        error_of(dir, R"({"targets": [{"name": "a", "kind": "sqlite", "path": "/x", "schedule": "@daily * * * *"}]})"),
        "backup.targets[0].schedule"));
    EXPECT_TRUE(contains(
        error_of(dir, R"({"targets": [{"name": "a", "kind": "sqlite", "path": "/x", "schedule": "0 25 * * *"}]})"),
        "\"backup.targets[0].schedule\" = \"0 25 * * *\" is invalid: field 2 (hour) \"25\": out of range 0-23"));
}

TEST(BackupSettings, ScheduleText) {
    EXPECT_NO_THROW(check_schedule_text("0 0 * * *"));
    EXPECT_NO_THROW(check_schedule_text(" 5  0 1-7/2 * 0,6 "));
    EXPECT_THROW(check_schedule_text(""), std::invalid_argument);
    EXPECT_THROW(check_schedule_text("0 0 * * * *"), std::invalid_argument);
    EXPECT_NO_THROW(check_schedule_text("0 0 * * MON"));  // the scheduler's grammar (schedule/cron.h)
    EXPECT_NO_THROW(check_schedule_text("@daily"));
    EXPECT_THROW(check_schedule_text("0 0 31 2 *"), std::invalid_argument);
    EXPECT_THROW(check_schedule_text(std::string(300, '*')), std::invalid_argument);
}

TEST(BackupIds, SortByTimeAndAreSafeFolderNames) {
    const auto a = new_backup_id(1795000000);
    const auto b = new_backup_id(1795000001);
    EXPECT_EQ(a.size(), 23u) << a;
    EXPECT_EQ(a.substr(0, 17), "20261118T110640Z-");
    EXPECT_LT(a, b);
    EXPECT_TRUE(is_backup_id(a));
    EXPECT_FALSE(is_backup_id(""));
    EXPECT_FALSE(is_backup_id(".."));
    EXPECT_FALSE(is_backup_id("a/b"));
    EXPECT_FALSE(is_backup_id(std::string(41, 'a')));
}

}  // namespace
}  // namespace levqor::controld::backup
