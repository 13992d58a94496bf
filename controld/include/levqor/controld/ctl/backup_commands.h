// SPDX-License-Identifier: Apache-2.0
// levqorctl backup run|list|show|verify|restore|decrypt (issue 13): the
// routes of design.md "Backups" through an ApiClient, and the one offline
// command, `decrypt`, which needs no controld (a restore by hand,
// docs/backups.md). Each returns what to print and the exit code, like
// commands.h. Free functions; thread-safe as far as the client they are given is.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "levqor/controld/ctl/client.h"

namespace levqor::controld::ctl {

// What is known at each poll of a job levqorctl waits for.
struct WaitProgress {
    std::string job_status;  // queued, running, retrying, succeeded, dead
    int attempts = 0;
    double elapsed_seconds = 0;
    // From GET /ops/backups/{id} "progress" (backup run and verify only): "dump" while
    // the engine writes, "done" once it ended; bytes -1 when unknown (e.g. restore).
    std::string phase;
    double bytes = -1;
};

// The one line levqorctl redraws on a TTY for a poll (no "\r", no newline), e.g.
// "running   attempt 1, 3 s, dump 20.5 MB".
std::string progress_line(const WaitProgress& p);

// --wait: poll GET /jobs/{job_id} every `poll` until the job succeeded or is
// dead, at most `timeout`; `progress` (if set) is called after each poll
// (levqorctl draws one line on a TTY with it).
struct WaitOptions {
    bool wait = false;
    std::chrono::milliseconds poll{1000};
    std::chrono::milliseconds timeout{std::chrono::hours(7)};
    std::function<void(const WaitProgress&)> progress;
};

// --wait's end: the job's last record (GET /jobs/{id}), or why it could not
// be followed (unreachable, still running at the timeout).
struct JobOutcome {
    std::optional<std::string> error;
    nlohmann::json job;
};
// Polls GET /jobs/{job_id} until succeeded or dead (backup run and verify,
// schedules run). backup_id (if not empty): its "progress" is read at each
// poll for the progress line.
JobOutcome wait_for_job(const ApiClient& client, const std::string& job_id, const WaitOptions& wait,
                        const std::string& backup_id = "");

// A target name or a backup id as the routes accept them: 1 to 64 of
// [A-Za-z0-9_-] (checked before anything is sent; a usage error otherwise).
bool backup_name_shape(const std::string& text);

// `backup run TARGET [--wait]`: POST /ops/backups. Without --wait, exit 0
// once queued (prints the backup id and job id). With --wait, exit 0 only
// when the backup ends `verified`; 1 when it failed, is corrupt, or its job
// is dead (the job's last error).
CommandResult run_backup_run(const ApiClient& client, const std::string& target, const WaitOptions& wait, bool json);

// `backup list [--target T]`: GET /ops/backups, newest first, as a table
// (id, target, status, started, size, RTO, verified or error).
CommandResult run_backup_list(const ApiClient& client, const std::string& target, bool json);

// `backup show ID`: GET /ops/backups/{id}: the manifest, readable.
CommandResult run_backup_show(const ApiClient& client, const std::string& id, bool json);

// `backup verify ID [--wait]`: POST /ops/backups/{id}/verify (checksums and a
// new restore drill). With --wait, exit 0 only when the backup is `verified` after it.
CommandResult run_backup_verify(const ApiClient& client, const std::string& id, const WaitOptions& wait, bool json);

// `backup restore ID --into NAME [--force] [--wait]`: POST
// /ops/backups/{id}/restore. A 409 (the target exists and is not empty)
// says to pass --force. With --wait, exit 0 only when the restore job succeeded.
CommandResult run_backup_restore(const ApiClient& client, const std::string& id, const std::string& into, bool force,
                                 const WaitOptions& wait, bool json);

// `backup decrypt --key-file KEY IN OUT`: an encrypted backup file
// (backup/encryption.h) decrypted offline, without controld. OUT must not
// exist (usage error 2); a wrong key or a damaged file is a failure (1) and
// leaves no OUT.
CommandResult run_backup_decrypt(const std::string& key_file, const std::string& in, const std::string& out);

// The manifests of GET /ops/backups as a table; accepts the array or
// {"backups": [...]}.
std::string backups_table(const nlohmann::json& listing);

// One manifest, readable: fields, files, verify, parity per table.
std::string manifest_text(const nlohmann::json& manifest);

// "12.3 MB", "512 B": sizes in the tables.
std::string human_bytes(double bytes);

}  // namespace levqor::controld::ctl
