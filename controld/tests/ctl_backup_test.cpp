// SPDX-License-Identifier: Apache-2.0
// levqorctl backup ...: the routes of design.md "Backups" against a fake
// controld answering what those routes answer (the real routes are wired by
// the backup component; t/ covers them end to end), and `backup decrypt`
// against a file the real encryption wrote.
#include <gtest/gtest.h>

#include <fstream>

#include "levqor/controld/backup/encryption.h"
#include "levqor/controld/ctl/backup_commands.h"
#include "fake_server.h"
#include "test_support.h"

namespace levqor::controld::ctl {
namespace {

using testing::kAdminToken;

using namespace std::chrono_literals;
using testing::FakeServer;
using testing::TempDir;

const std::string kJob = "0190a3c2b4e1f0c2a9d83b7e5a61c0de";
const std::string kId = "20261129T111403Z-3fa9c2";

nlohmann::json manifest(const std::string& status, bool ok, const std::string& error = "") {
    nlohmann::json verify = {{"ok", ok},
                             {"checked_at", "2026-11-29T11:15:00Z"},
                             {"restore_seconds", 7.25},
                             {"error", error.empty() ? nlohmann::json() : nlohmann::json(error)}};
    return {{"id", kId},
            {"target", "main"},
            {"kind", "postgres"},
            {"started_at", "2026-11-29T11:14:03Z"},
            {"finished_at", "2026-11-29T11:15:00Z"},
            {"status", status},
            {"files", {{{"name", "database"}, {"path", "dump.pgc"}, {"bytes", 20500000}, {"sha256", "ab12cd"}}}},
            {"parity", {{"public.pgbench_accounts", {{"rows", 7000000}, {"digest", "9f3e"}}}}},
            {"verify", verify},
            {"timings", {{"dump", 3.6}}}};
}

std::string job(const std::string& status, int attempts = 0, const std::string& last_error = "") {
    return nlohmann::json({{"id", kJob},
                           {"type", "backup"},
                           {"status", status},
                           {"attempts", attempts},
                           {"last_error", last_error.empty() ? nlohmann::json() : nlohmann::json(last_error)}})
        .dump();
}

class CtlBackup : public ::testing::Test {
protected:
    ApiClient client() const { return ApiClient(parse_base_url(server_.url("")), 2s, kAdminToken); }
    static WaitOptions waiting(std::vector<WaitProgress>* seen = nullptr) {
        WaitOptions w;
        w.wait = true;
        w.poll = 10ms;
        w.timeout = 5s;
        if (seen != nullptr) w.progress = [seen](const WaitProgress& p) { seen->push_back(p); };
        return w;
    }
    FakeServer server_;
};

TEST_F(CtlBackup, RunQueuesAndSaysWhat) {
    server_.answer_posts("/ops/backups", nlohmann::json({{"id", kId}, {"job_id", kJob}}).dump());
    const auto result = run_backup_run(client(), "main", WaitOptions{}, false);
    EXPECT_EQ(result.exit_code, kExitOk) << result.err;
    EXPECT_EQ(result.out, "backup " + kId + " of main queued (job " + kJob + ")\n");
    const auto posts = server_.received();
    ASSERT_EQ(posts.size(), 1u);
    EXPECT_EQ(posts[0].path, "/ops/backups");
    EXPECT_EQ(nlohmann::json::parse(posts[0].body), nlohmann::json({{"target", "main"}}));
    EXPECT_EQ(posts[0].headers.find("Authorization")->second, "Bearer " + kAdminToken);
}

TEST_F(CtlBackup, RunWaitPollsTheJobThenShowsTheVerifiedManifest) {
    server_.answer_posts("/ops/backups", nlohmann::json({{"id", kId}, {"job_id", kJob}}).dump());
    server_.serve_sequence("/jobs/" + kJob, {job("queued"), job("running"), job("running"), job("succeeded", 1)});
    server_.serve("/ops/backups/" + kId, manifest("verified", true).dump());
    std::vector<WaitProgress> seen;
    const auto result = run_backup_run(client(), "main", waiting(&seen), false);
    EXPECT_EQ(result.exit_code, kExitOk) << result.err;
    ASSERT_EQ(seen.size(), 4u);
    EXPECT_EQ(seen[0].job_status, "queued");
    EXPECT_EQ(seen[1].job_status, "running");
    EXPECT_EQ(seen[3].job_status, "succeeded");
    EXPECT_EQ(seen[3].attempts, 1);
    EXPECT_GE(seen[3].elapsed_seconds, seen[0].elapsed_seconds);
    EXPECT_NE(result.out.find("status          verified\n"), std::string::npos) << result.out;
    EXPECT_NE(result.out.find("verify          ok at 2026-11-29T11:15:00Z, restore (RTO) 7.2 s"), std::string::npos)
        << result.out;
    EXPECT_NE(result.out.find("dump.pgc                  20.5 MB    ab12cd"), std::string::npos) << result.out;
    EXPECT_NE(result.out.find("public.pgbench_accounts"), std::string::npos) << result.out;
}

TEST_F(CtlBackup, RunWaitExitsOneWhenTheDrillFailed) {
    server_.answer_posts("/ops/backups", nlohmann::json({{"id", kId}, {"job_id", kJob}}).dump());
    server_.serve("/jobs/" + kJob, job("succeeded", 1));
    server_.serve("/ops/backups/" + kId, manifest("failed", false, "parity differs: public.t rows 3 != 2").dump());
    const auto result = run_backup_run(client(), "main", waiting(), false);
    EXPECT_EQ(result.exit_code, kExitFailure);
    EXPECT_NE(result.err.find("backup " + kId + " is failed: parity differs: public.t rows 3 != 2"), std::string::npos)
        << result.err;
    EXPECT_NE(result.out.find("verify          FAILED"), std::string::npos) << result.out;
}

TEST_F(CtlBackup, RunWaitExitsOneWithTheErrorOfADeadJob) {
    server_.answer_posts("/ops/backups", nlohmann::json({{"id", kId}, {"job_id", kJob}}).dump());
    server_.serve("/jobs/" + kJob, job("dead", 4, "connect: password authentication failed for user \"app\""));
    server_.serve("/ops/backups/" + kId, R"({"error":"not_found","message":"no backup"})", 404);
    const auto result = run_backup_run(client(), "main", waiting(), false);
    EXPECT_EQ(result.exit_code, kExitFailure);
    EXPECT_NE(result.err.find("is dead: connect: password authentication failed"), std::string::npos) << result.err;
}

TEST_F(CtlBackup, RunWaitGivesUpAfterTheTimeout) {
    server_.answer_posts("/ops/backups", nlohmann::json({{"id", kId}, {"job_id", kJob}}).dump());
    server_.serve("/jobs/" + kJob, job("running"));
    auto wait = waiting();
    wait.timeout = 50ms;
    const auto result = run_backup_run(client(), "main", wait, false);
    EXPECT_EQ(result.exit_code, kExitFailure);
    EXPECT_NE(result.err.find("is still running after"), std::string::npos) << result.err;
    EXPECT_NE(result.err.find("levqorctl jobs get " + kJob), std::string::npos) << result.err;
}

TEST_F(CtlBackup, ServerRefusalsAreFailuresWithTheirMessage) {
    server_.answer_posts("/ops/backups", R"({"error":"conflict","message":"a backup of main is running"})", 409);
    auto result = run_backup_run(client(), "main", WaitOptions{}, false);
    EXPECT_EQ(result.exit_code, kExitFailure);
    EXPECT_NE(result.err.find("backup run failed: POST"), std::string::npos) << result.err;
    EXPECT_NE(result.err.find("HTTP 409 conflict: a backup of main is running"), std::string::npos) << result.err;

    server_.answer_posts("/ops/backups/" + kId + "/restore",
                         R"({"error":"conflict","message":"database app exists and is not empty"})", 409);
    result = run_backup_restore(client(), kId, "app", false, WaitOptions{}, false);
    EXPECT_EQ(result.exit_code, kExitFailure);
    EXPECT_NE(result.err.find("database app exists and is not empty (pass --force to replace it)"), std::string::npos)
        << result.err;
}

TEST_F(CtlBackup, BadNamesAreUsageErrorsAndNothingIsSent) {
    EXPECT_EQ(run_backup_run(client(), "../etc", WaitOptions{}, false).exit_code, kExitUsage);
    EXPECT_EQ(run_backup_run(client(), "", WaitOptions{}, false).exit_code, kExitUsage);
    EXPECT_EQ(run_backup_list(client(), "a b", false).exit_code, kExitUsage);
    EXPECT_EQ(run_backup_show(client(), "x/../y", false).exit_code, kExitUsage);
    EXPECT_EQ(run_backup_verify(client(), std::string(65, 'a'), WaitOptions{}, false).exit_code, kExitUsage);
    EXPECT_EQ(run_backup_restore(client(), kId, "", false, WaitOptions{}, false).exit_code, kExitUsage);
    EXPECT_TRUE(server_.received().empty());
    EXPECT_TRUE(backup_name_shape(kId));
    EXPECT_TRUE(backup_name_shape(std::string(64, 'a')));
}

TEST_F(CtlBackup, ListPrintsATableNewestFirstAsReceived) {
    auto older = manifest("failed", false, "pg_restore: error: could not read");
    older["id"] = "20261128T030000Z-000001";
    server_.serve("/ops/backups", nlohmann::json::array({manifest("verified", true), older}).dump());
    auto result = run_backup_list(client(), "", false);
    EXPECT_EQ(result.exit_code, kExitOk) << result.err;
    EXPECT_EQ(result.out,
              "ID                        TARGET        STATUS    STARTED               SIZE       RTO       VERIFY\n"
              "20261129T111403Z-3fa9c2   main          verified  2026-11-29T11:14:03Z  20.5 MB    7.2 s     ok at "
              "2026-11-29T11:15:00Z\n"
              "20261128T030000Z-000001   main          failed    2026-11-29T11:14:03Z  20.5 MB    7.2 s     FAILED: "
              "pg_restore: error: could not read\n");
    // {"backups": [...]} is read the same way; an empty listing says so.
    EXPECT_EQ(backups_table(nlohmann::json({{"backups", nlohmann::json::array()}})), "no backups\n");
    EXPECT_EQ(backups_table(nlohmann::json({{"backups", {manifest("verified", true)}}})),
              backups_table(nlohmann::json::array({manifest("verified", true)})));
}

TEST_F(CtlBackup, ListByTargetAndShowAndJson) {
    server_.serve("/ops/backups", nlohmann::json::array({manifest("verified", true)}).dump());
    server_.serve("/ops/backups/" + kId, manifest("verified", true).dump());
    auto result = run_backup_list(client(), "main", true);
    EXPECT_EQ(result.exit_code, kExitOk) << result.err;
    EXPECT_EQ(nlohmann::json::parse(result.out)[0]["id"], kId);
    result = run_backup_show(client(), kId, false);
    EXPECT_EQ(result.exit_code, kExitOk) << result.err;
    EXPECT_NE(result.out.find("id              " + kId + "\n"), std::string::npos) << result.out;
    EXPECT_NE(result.out.find("timings         dump 3.6 s\n"), std::string::npos) << result.out;
    result = run_backup_show(client(), "20261129T000000Z-ffffff", false);
    EXPECT_EQ(result.exit_code, kExitFailure);
    EXPECT_NE(result.err.find("HTTP 404"), std::string::npos) << result.err;
}

TEST_F(CtlBackup, VerifyWaitsForTheNewDrill) {
    server_.answer_posts("/ops/backups/" + kId + "/verify", nlohmann::json({{"job_id", kJob}}).dump());
    server_.serve_sequence("/jobs/" + kJob, {job("running"), job("succeeded", 1)});
    server_.serve("/ops/backups/" + kId, manifest("corrupt", false, "dump.pgc: sha256 differs").dump());
    auto result = run_backup_verify(client(), kId, WaitOptions{}, false);
    EXPECT_EQ(result.exit_code, kExitOk) << result.err;
    EXPECT_EQ(result.out, "verify of " + kId + " queued (job " + kJob + ")\n");
    result = run_backup_verify(client(), kId, waiting(), false);
    EXPECT_EQ(result.exit_code, kExitFailure);
    EXPECT_NE(result.err.find("is corrupt: dump.pgc: sha256 differs"), std::string::npos) << result.err;
}

TEST_F(CtlBackup, RestoreSendsIntoAndForceAndWaits) {
    server_.answer_posts("/ops/backups/" + kId + "/restore", nlohmann::json({{"job_id", kJob}}).dump());
    server_.serve_sequence("/jobs/" + kJob, {job("running"), job("succeeded", 1)});
    const auto result = run_backup_restore(client(), kId, "app_restored", true, waiting(), false);
    EXPECT_EQ(result.exit_code, kExitOk) << result.err;
    EXPECT_EQ(result.out, "restored " + kId + " into app_restored\n");
    const auto posts = server_.received();
    ASSERT_FALSE(posts.empty());
    EXPECT_EQ(nlohmann::json::parse(posts[0].body), nlohmann::json({{"into", "app_restored"}, {"force", true}}));
}

TEST_F(CtlBackup, RestoreWaitReportsADeadJob) {
    server_.answer_posts("/ops/backups/" + kId + "/restore", nlohmann::json({{"job_id", kJob}}).dump());
    server_.serve("/jobs/" + kJob, job("dead", 1, "pg_restore: error: could not execute query"));
    const auto result = run_backup_restore(client(), kId, "app_restored", false, waiting(), false);
    EXPECT_EQ(result.exit_code, kExitFailure);
    EXPECT_NE(result.err.find("restore of " + kId + " into app_restored failed: pg_restore: error"), std::string::npos)
        << result.err;
}

TEST(CtlBackupDecrypt, DecryptsWhatTheBackupEncryptedAndRefusesTheRest) {
    const TempDir dir;
    std::string plain;
    for (int i = 0; i < 300000; ++i) plain += static_cast<char>('a' + i % 26);
    const auto in = dir.write("dump.pgc", plain);
    const auto key_file = dir.write("key", "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n");
    ASSERT_EQ(::chmod(key_file.c_str(), 0600), 0);
    backup::encrypt_file(in, dir.file("dump.pgc.enc"), backup::read_key_file(key_file), 4096);

    auto result = run_backup_decrypt(key_file, dir.file("dump.pgc.enc"), dir.file("out.pgc"));
    EXPECT_EQ(result.exit_code, kExitOk) << result.err;
    EXPECT_NE(result.out.find("300.0 kB, every chunk authenticated"), std::string::npos) << result.out;
    EXPECT_EQ(dir.read("out.pgc"), plain);

    // OUT exists: usage error, nothing overwritten.
    result = run_backup_decrypt(key_file, dir.file("dump.pgc.enc"), dir.file("out.pgc"));
    EXPECT_EQ(result.exit_code, kExitUsage);
    // No such file; not an encrypted file.
    result = run_backup_decrypt(key_file, dir.file("absent.enc"), dir.file("out2.pgc"));
    EXPECT_EQ(result.exit_code, kExitFailure);
    EXPECT_NE(result.err.find("absent.enc: not a readable file"), std::string::npos) << result.err;
    result = run_backup_decrypt(key_file, in, dir.file("out2.pgc"));
    EXPECT_EQ(result.exit_code, kExitFailure);
    EXPECT_NE(result.err.find("not an encrypted levqor backup file"), std::string::npos) << result.err;
    // Wrong key: fails, leaves no OUT, never prints a key.
    const auto wrong = dir.write("wrong", "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100\n");
    ASSERT_EQ(::chmod(wrong.c_str(), 0600), 0);
    result = run_backup_decrypt(wrong, dir.file("dump.pgc.enc"), dir.file("out3.pgc"));
    EXPECT_EQ(result.exit_code, kExitFailure);
    EXPECT_NE(result.err.find("failed authentication"), std::string::npos) << result.err;
    EXPECT_EQ(result.err.find("ffeeddcc"), std::string::npos) << result.err;
    EXPECT_FALSE(std::ifstream(dir.file("out3.pgc")).good());
    // A key file others may read is refused.
    ASSERT_EQ(::chmod(key_file.c_str(), 0644), 0);
    result = run_backup_decrypt(key_file, dir.file("dump.pgc.enc"), dir.file("out4.pgc"));
    EXPECT_EQ(result.exit_code, kExitFailure);
    EXPECT_NE(result.err.find("chmod 600"), std::string::npos) << result.err;
}

TEST(CtlBackupProgress, LineShowsTheJobAndTheBytesWhenKnown) {
    WaitProgress p;
    p.job_status = "running";
    p.attempts = 0;
    p.elapsed_seconds = 3.2;
    EXPECT_EQ(progress_line(p), "running   attempt 1, 3 s");
    p.phase = "dump";
    p.bytes = 20500000;
    EXPECT_EQ(progress_line(p), "running   attempt 1, 3 s, dump 20.5 MB");
    p.job_status = "succeeded";
    p.attempts = 1;
    p.phase = "done";
    p.bytes = 512;
    EXPECT_EQ(progress_line(p), "succeeded attempt 1, 3 s, done 512 B");
}

TEST_F(CtlBackup, RunWaitReadsTheBackupsProgressAtEachPoll) {
    server_.answer_posts("/ops/backups", nlohmann::json({{"id", kId}, {"job_id", kJob}}).dump());
    server_.serve("/jobs/" + kJob, job("succeeded", 1));
    auto m = manifest("verified", true);
    m["progress"] = {{"phase", "done"}, {"bytes", 4096}};
    server_.serve("/ops/backups/" + kId, m.dump());
    std::vector<WaitProgress> seen;
    const auto result = run_backup_run(client(), "main", waiting(&seen), false);
    EXPECT_EQ(result.exit_code, kExitOk) << result.err;
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0].phase, "done");
    EXPECT_EQ(seen[0].bytes, 4096);
}

TEST_F(CtlBackup, RestoreWaitShowsTheBytesRestoredSoFar) {
    server_.answer_posts("/ops/backups/" + kId + "/restore", nlohmann::json({{"job_id", kJob}}).dump());
    server_.serve_sequence("/jobs/" + kJob, {job("running"), job("succeeded", 1)});
    auto restoring = manifest("verified", true);
    restoring["progress"] = {{"phase", "restore"}, {"into", "app_restored"}, {"bytes", 1100000000}};
    auto done = manifest("verified", true);
    done["progress"] = {{"phase", "done"}, {"bytes", 20500000}};
    server_.serve_sequence("/ops/backups/" + kId, {restoring.dump(), done.dump()});
    std::vector<WaitProgress> seen;
    const auto result = run_backup_restore(client(), kId, "app_restored", false, waiting(&seen), false);
    EXPECT_EQ(result.exit_code, kExitOk) << result.err;
    ASSERT_GE(seen.size(), 1u);
    EXPECT_EQ(seen[0].phase, "restore");
    EXPECT_EQ(seen[0].bytes, 1100000000);
    const auto line = progress_line(seen[0]);
    EXPECT_EQ(line.substr(line.size() - 16), ", restore 1.1 GB") << line;
}

}  // namespace
}  // namespace levqor::controld::ctl
