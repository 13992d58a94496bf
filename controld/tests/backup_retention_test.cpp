// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "levqor/controld/backup/retention.h"

namespace levqor::controld::backup {
namespace {

constexpr std::int64_t kDay = 86400;
constexpr std::int64_t kNow = 1795949527;  // 2026-11-29T10:52:07Z, the injected clock

Manifest backup(const std::string& target, const std::string& id, std::int64_t age_seconds, BackupStatus status) {
    Manifest m;
    m.target = target;
    m.id = id;
    m.kind = "sqlite";
    m.started_at = kNow - age_seconds;
    m.status = status;
    return m;
}

std::vector<std::string> ids(const std::vector<Deletion>& deletions) {
    std::vector<std::string> out;
    for (const auto& d : deletions) out.push_back(d.target + "/" + d.id);
    return out;
}

using V = std::vector<std::string>;

TEST(BackupRetention, DeletesOnlyBackupsOlderThanTheWindowOldestFirst) {
    const std::vector<Manifest> all = {
        backup("main", "d1", 1 * kDay, BackupStatus::verified), backup("main", "d9", 9 * kDay, BackupStatus::verified),
        backup("main", "d8", 8 * kDay, BackupStatus::failed),
        backup("main", "d7", 7 * kDay - 1, BackupStatus::verified),  // one second inside the window
    };
    const auto deletions = choose_deletions(all, 7, kNow);
    EXPECT_EQ(ids(deletions), (V{"main/d9", "main/d8"}));
    EXPECT_NE(deletions[0].reason.find("older than 7 days"), std::string::npos) << deletions[0].reason;
    EXPECT_NE(deletions[0].reason.find(format_utc(kNow - 9 * kDay)), std::string::npos);
}

TEST(BackupRetention, TheClockDecides) {
    const std::vector<Manifest> all = {backup("main", "a", 3 * kDay, BackupStatus::verified),
                                       backup("main", "b", 1 * kDay, BackupStatus::verified)};
    EXPECT_TRUE(choose_deletions(all, 7, kNow).empty());
    EXPECT_EQ(ids(choose_deletions(all, 7, kNow + 5 * kDay)), (V{"main/a"}));
}

TEST(BackupRetention, NeverDeletesTheNewestVerifiedBackupEvenWhenOld) {
    // The last two weeks only failed: the 20-day-old verified backup is the only restorable one.
    const std::vector<Manifest> all = {
        backup("main", "v30", 30 * kDay, BackupStatus::verified),
        backup("main", "v20", 20 * kDay, BackupStatus::verified),
        backup("main", "f10", 10 * kDay, BackupStatus::failed),
        backup("main", "c9", 9 * kDay, BackupStatus::corrupt),
        backup("main", "f1", 1 * kDay, BackupStatus::failed),
    };
    EXPECT_EQ(ids(choose_deletions(all, 7, kNow)), (V{"main/v30", "main/f10", "main/c9"}));
}

TEST(BackupRetention, NeverDeletesARunningBackup) {
    const std::vector<Manifest> all = {backup("main", "r", 40 * kDay, BackupStatus::running),
                                       backup("main", "v", 1 * kDay, BackupStatus::verified)};
    EXPECT_TRUE(choose_deletions(all, 7, kNow).empty());
}

TEST(BackupRetention, KeepsTheNewestVerifiedOfEachTarget) {
    const std::vector<Manifest> all = {
        backup("main", "m", 10 * kDay, BackupStatus::verified),
        backup("local", "l-old", 12 * kDay, BackupStatus::verified),
        backup("local", "l", 11 * kDay, BackupStatus::verified),
    };
    EXPECT_EQ(ids(choose_deletions(all, 7, kNow)), (V{"local/l-old"}));
}

TEST(BackupRetention, ZeroDaysMeansRetentionIsOff) {
    const std::vector<Manifest> all = {backup("main", "old", 400 * kDay, BackupStatus::failed)};
    EXPECT_TRUE(choose_deletions(all, 0, kNow).empty());
    EXPECT_EQ(ids(choose_deletions(all, 1, kNow)), (V{"main/old"}));
}

}  // namespace
}  // namespace levqor::controld::backup
