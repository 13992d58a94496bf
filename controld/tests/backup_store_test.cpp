// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "levqor/controld/backup/retention.h"
#include "levqor/controld/backup/store.h"
#include "levqor/controld/core/files.h"
#include "test_support.h"

namespace levqor::controld::backup {
namespace {

using testing::TempDir;

Manifest saved(const TempDir& dir, const std::string& target, const std::string& id, std::int64_t started,
               BackupStatus status = BackupStatus::verified) {
    Manifest m;
    m.target = target;
    m.id = id;
    m.kind = "sqlite";
    m.started_at = started;
    m.status = status;
    const std::string folder = backup_folder(dir.path(), target, id);
    ensure_directory(folder, 0700);
    std::ofstream(folder + "/" + target + ".sqlite") << "dump";
    write_manifest(folder, m);
    return m;
}

std::vector<std::string> ids(const BackupListing& listing) {
    std::vector<std::string> out;
    for (const auto& m : listing.backups) out.push_back(m.target + "/" + m.id);
    return out;
}

using V = std::vector<std::string>;

TEST(BackupStore, ListsEveryTargetNewestFirstOrOneTarget) {
    TempDir dir;
    saved(dir, "main", "a", 100);
    saved(dir, "main", "c", 300);
    saved(dir, "local", "b", 200);
    EXPECT_EQ(ids(list_backups(dir.path())), (V{"main/c", "local/b", "main/a"}));
    EXPECT_EQ(ids(list_backups(dir.path(), "main")), (V{"main/c", "main/a"}));
    EXPECT_TRUE(list_backups(dir.path(), "other").backups.empty());
    EXPECT_TRUE(list_backups(dir.file("absent")).backups.empty());
    EXPECT_THROW(list_backups(dir.path(), "../etc"), FileError);
}

TEST(BackupStore, AFolderWithoutAValidManifestIsAProblemNotABackup) {
    TempDir dir;
    saved(dir, "main", "good", 100);
    ensure_directory(backup_folder(dir.path(), "main", "empty"), 0700);
    saved(dir, "main", "moved", 200);
    ::rename(backup_folder(dir.path(), "main", "moved").c_str(), backup_folder(dir.path(), "main", "renamed").c_str());
    ensure_directory(backup_folder(dir.path(), "main", "garbled"), 0700);
    dir.write("main/garbled/manifest.json", "{\"id\": ");
    dir.write("main/stray-file", "not a folder");

    const auto listing = list_backups(dir.path());
    EXPECT_EQ(ids(listing), (V{"main/good"}));
    ASSERT_EQ(listing.problems.size(), 3u);
    EXPECT_NE(listing.problems[0].find("main/empty/manifest.json"), std::string::npos) << listing.problems[0];
    EXPECT_NE(listing.problems[1].find("main/garbled/manifest.json"), std::string::npos) << listing.problems[1];
    EXPECT_NE(listing.problems[2].find("names target \"main\", id \"moved\": not this folder"), std::string::npos)
        << listing.problems[2];
}

TEST(BackupStore, ReadsAtMostMaxBackups) {
    TempDir dir;
    for (int i = 0; i < 5; ++i) saved(dir, "main", "b" + std::to_string(i), i);
    const auto listing = list_backups(dir.path(), "", 3);
    EXPECT_EQ(listing.backups.size(), 3u);
    ASSERT_EQ(listing.problems.size(), 1u);
    EXPECT_NE(listing.problems[0].find("more than 3 backups"), std::string::npos);
}

TEST(BackupStore, RetentionOverAListingThenRemoval) {
    TempDir dir;
    constexpr std::int64_t now = 1795949527;
    saved(dir, "main", "old-verified", now - 30 * 86400);
    saved(dir, "main", "old-failed", now - 10 * 86400, BackupStatus::failed);
    saved(dir, "main", "new-failed", now - 86400, BackupStatus::failed);
    const auto doomed = choose_deletions(list_backups(dir.path()).backups, 7, now);
    ASSERT_EQ(doomed.size(), 1u);
    EXPECT_EQ(doomed[0].id, "old-failed");
    remove_backup(dir.path(), doomed[0].target, doomed[0].id);
    EXPECT_EQ(ids(list_backups(dir.path())), (V{"main/new-failed", "main/old-verified"}));
    EXPECT_NE(::access(backup_folder(dir.path(), "main", "old-failed").c_str(), F_OK), 0);
}

TEST(BackupStore, RemovalNeverFollowsLinksNorDescendsIntoFolders) {
    TempDir dir;
    saved(dir, "main", "a", 1);
    dir.write("precious", "keep me");
    ASSERT_EQ(::symlink(dir.file("precious").c_str(), (backup_folder(dir.path(), "main", "a") + "/link").c_str()), 0);
    remove_backup(dir.path(), "main", "a");
    EXPECT_EQ(dir.read("precious"), "keep me");

    saved(dir, "main", "b", 2);
    ensure_directory(backup_folder(dir.path(), "main", "b") + "/sub", 0700);
    EXPECT_THROW(remove_backup(dir.path(), "main", "b"), FileError);
    EXPECT_THROW(remove_backup(dir.path(), "main", "absent"), FileError);
}

}  // namespace
}  // namespace levqor::controld::backup
