// SPDX-License-Identifier: Apache-2.0
// BackupService in process, on a SQLite target: the job's work (run_backup,
// run_verify, run_restore called as the queue's executor would), the 409s
// of a second backup (in this process, or another holding the target's lock
// in backup.dir), and what a start does with a backup left running.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <memory>
#include <string>

#include "levqor/controld/backup/service.h"
#include "levqor/controld/backup/store.h"
#include "levqor/controld/core/files.h"
#include "test_support.h"

namespace levqor::controld::backup {
namespace {

using testing::CapturedLog;
using testing::TempDir;

// A small live SQLite database the target points at.
void make_service_db(const std::string& path) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db,
                           "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);"
                           "INSERT INTO t(v) VALUES ('a'), ('b'), (NULL);",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
}

struct BackupJobs : ::testing::Test {
    TempDir dir;
    CapturedLog log;
    metrics::Registry registry;
    tracking::ErrorTracker errors{registry, log.logger, [](std::string_view) { return false; },
                                  tracking::ErrorTracker::Settings{dir.path(), {}, {}}};
    std::unique_ptr<queue::QueueService> queue;

    void SetUp() override {
        make_service_db(dir.file("app.db"));
        queue::QueueService::Settings qs;
        qs.data_dir = dir.path();
        queue = std::make_unique<queue::QueueService>(qs, registry, log.logger, errors);
    }

    BackupService::Settings settings() {
        BackupService::Settings s;
        s.data_dir = dir.path();
        s.backup.dir = dir.file("backups");
        s.backup.targets.push_back(BackupTarget{"app", "sqlite", "", dir.file("app.db"), "0 0 * * *"});
        return s;
    }
};

TEST_F(BackupJobs, ABackupJobDumpsDrillsAndIsListedVerified) {
    BackupService service(settings(), *queue, registry, log.logger, errors);
    const auto result = service.run_backup({{"target", "app"}, {"id", "20261129T000000Z-aaaaaa"}});
    ASSERT_EQ(result.kind, queue::ExecutionResult::Kind::succeeded) << result.error;
    const auto found = service.find("20261129T000000Z-aaaaaa");
    ASSERT_TRUE(found);
    EXPECT_EQ(found->status, BackupStatus::verified);
    ASSERT_TRUE(found->verify);
    EXPECT_TRUE(found->verify->ok);
    ASSERT_EQ(service.list("app").size(), 1u);
    EXPECT_TRUE(service.list("other").empty());
    EXPECT_FALSE(service.restore_progress("20261129T000000Z-aaaaaa")) << "nothing is restoring now";
}

TEST_F(BackupJobs, UnknownTargetsAndSecondBackupsOfATargetAreRefused) {
    BackupService service(settings(), *queue, registry, log.logger, errors);
    EXPECT_THROW(service.start_backup("nope"), UnknownTarget);
    const auto first = service.start_backup("app");
    EXPECT_FALSE(first.job_id.empty());
    EXPECT_THROW(service.start_backup("app"), BackupBusy) << "the first is still queued";
}

TEST_F(BackupJobs, AnotherProcessHoldingTheTargetsLockMeans409AndARetry) {
    const auto s = settings();
    BackupService service(s, *queue, registry, log.logger, errors);
    // Another open file description conflicts as another process would.
    TargetLock other(s.backup.dir, "app");
    ASSERT_TRUE(other.held());
    EXPECT_TRUE(target_locked(s.backup.dir, "app"));
    EXPECT_THROW(service.start_backup("app"), BackupBusy);
    const auto result = service.run_backup({{"target", "app"}, {"id", "20261129T000000Z-bbbbbb"}});
    EXPECT_EQ(result.kind, queue::ExecutionResult::Kind::retryable);
    EXPECT_NE(result.error.find("lock in backup.dir is held"), std::string::npos) << result.error;
    EXPECT_FALSE(service.find("20261129T000000Z-bbbbbb")) << "nothing was written";
}

TEST_F(BackupJobs, TheLockIsFreeAgainOnceABackupEnded) {
    const auto s = settings();
    BackupService service(s, *queue, registry, log.logger, errors);
    ASSERT_EQ(service.run_backup({{"target", "app"}}).kind, queue::ExecutionResult::Kind::succeeded);
    EXPECT_FALSE(target_locked(s.backup.dir, "app"));
    EXPECT_TRUE(TargetLock(s.backup.dir, "app").held());
}

TEST_F(BackupJobs, AtStartARunningBackupIsMarkedFailedUnlessItsLockIsHeld) {
    const auto s = settings();
    Manifest m;
    m.id = "20261129T000000Z-cccccc";
    m.target = "app";
    m.kind = "sqlite";
    m.status = BackupStatus::running;
    const auto folder = backup_folder(s.backup.dir, "app", m.id);
    ensure_directory(folder, 0700);
    write_manifest(folder, m);
    {
        TargetLock other(s.backup.dir, "app");  // another controld runs it
        BackupService service(s, *queue, registry, log.logger, errors);
        EXPECT_EQ(read_manifest(folder).status, BackupStatus::running);
    }
    metrics::Registry fresh;  // the service registers its gauges once per registry
    BackupService service(s, *queue, fresh, log.logger, errors);
    const auto after = read_manifest(folder);
    EXPECT_EQ(after.status, BackupStatus::failed);
    ASSERT_TRUE(after.verify);
    EXPECT_NE(after.verify->error.find("interrupted"), std::string::npos);
}

TEST_F(BackupJobs, RestoreWritesANewFileAndRefusesAnExistingOneWithoutForce) {
    BackupService service(settings(), *queue, registry, log.logger, errors);
    ASSERT_EQ(service.run_backup({{"target", "app"}, {"id", "20261129T000000Z-dddddd"}}).kind,
              queue::ExecutionResult::Kind::succeeded);
    const auto into = dir.file("restored.db");
    const auto ok = service.run_restore({{"backup", "20261129T000000Z-dddddd"}, {"into", into}, {"force", false}});
    ASSERT_EQ(ok.kind, queue::ExecutionResult::Kind::succeeded) << ok.error;
    EXPECT_TRUE(std::filesystem::exists(into));
    EXPECT_THROW(service.start_restore("20261129T000000Z-dddddd", into, false), RestoreConflict);
    const auto again = service.run_restore({{"backup", "20261129T000000Z-dddddd"}, {"into", into}, {"force", false}});
    EXPECT_EQ(again.kind, queue::ExecutionResult::Kind::permanent);
    EXPECT_THROW(service.start_restore("20261129T000000Z-ffffff", into, false), BackupNotFound);
}

}  // namespace
}  // namespace levqor::controld::backup
