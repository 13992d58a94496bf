// SPDX-License-Identifier: Apache-2.0
// The job queue's settings (docs/controld.md, "Job queue"), declared and
// read here: the "queue" section of the config file (exec commands, retry
// delays, the inline pool, the quota, ...), the top-level "http_job_allow",
// and LEVQOR_QUEUE_WORKERS / LEVQOR_HTTP_JOB_ALLOW in the environment. Each
// key is declared once, in settings.cpp's tables. Plain values; thread-safe
// to copy and read.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "levqor/controld/core/config.h"

namespace levqor::controld::queue {

// One command that `exec` jobs may run, declared by name in the config
// (queue.exec.<name>). The API names it and may pass arguments; it never
// gives a path or a shell line.
struct ExecCommand {
    std::string path;               // absolute path of the program
    std::vector<std::string> args;  // fixed arguments, always first
    bool args_allowed = false;      // may a job append its own arguments?
    // May those arguments start with '-'? Off, a job's "-exec" or "--config=..."
    // is refused: they would be options of the command, not operands.
    bool options_allowed = false;
    std::chrono::milliseconds timeout{10000};              // then SIGKILL to its process group
    std::vector<std::pair<std::string, std::string>> env;  // the whole environment
    std::size_t max_output_bytes = 64 * 1024;              // stdout and stderr, each, kept
    // Who the command runs as ("user"/"group"), resolved when the config is
    // loaded. Unset: controld's own identity. Switching needs controld to run
    // as root; otherwise only controld's own user/group are accepted.
    std::optional<std::string> user;
    std::optional<std::string> group;
    std::optional<uid_t> uid;
    std::optional<gid_t> gid;  // the group's, or the user's primary group

    friend bool operator==(const ExecCommand& a, const ExecCommand& b) {
        return a.path == b.path && a.args == b.args && a.args_allowed == b.args_allowed &&
               a.options_allowed == b.options_allowed && a.timeout == b.timeout && a.env == b.env &&
               a.max_output_bytes == b.max_output_bytes && a.user == b.user && a.group == b.group && a.uid == b.uid &&
               a.gid == b.gid;
    }
};

// May a controld running as euid/egid run `command` as its user and group?
// Root may switch to any; anyone else only "switches" to itself. Throws
// std::invalid_argument saying why not.
void check_exec_identity(const ExecCommand& command, uid_t euid, gid_t egid);

// The job queue (docs/controld.md, "Job queue").
struct QueueSettings {
    unsigned workers = 4;                         // worker threads
    unsigned fetch_batch = 200;                   // jobs one worker takes per fetch
    std::chrono::seconds visibility_timeout{30};  // then a held job is delivered again
    // Waits before retries 1, 2, 3, ... by job type; "default" for the rest.
    // A job is attempted 1 + delays.size() times, then dead-lettered.
    std::map<std::string, std::vector<std::chrono::milliseconds>> retry_delays = {
        {"default", {std::chrono::seconds(1), std::chrono::seconds(5), std::chrono::seconds(15)}}};
    double retry_jitter = 0.1;                       // +-10 % on every delay
    std::size_t max_payload_bytes = 64 * 1024;       // one job's payload, as JSON
    std::size_t max_batch = 1000;                    // jobs per POST /jobs
    std::chrono::milliseconds shutdown_grace{5000};  // in-flight jobs at SIGTERM
    std::chrono::seconds idempotency_ttl{86400};     // Idempotency-Key lifetime
    std::chrono::seconds retention{7 * 86400};       // finished job records kept
    std::chrono::milliseconds http_timeout{10000};   // http jobs without timeout_ms
    // URL prefixes http jobs may call: the top-level "http_job_allow" (and
    // LEVQOR_HTTP_JOB_ALLOW), not a key of the "queue" section.
    std::vector<std::string> http_job_allow;
    std::map<std::string, ExecCommand> exec;  // commands exec jobs may run
    // NEW_QUEUE_ENABLED=off: threads that run jobs inline (never the HTTP
    // threads), requests that may wait for one (then 503), and how long
    // POST /jobs waits for the outcome (then 202; the client polls).
    unsigned inline_workers = 4;
    std::size_t inline_queue = 16;
    std::chrono::milliseconds inline_wait{2000};
    // Quota: jobs not finished, and payload bytes stored (then 507).
    std::int64_t max_depth = 100000;
    std::int64_t max_bytes = std::int64_t{256} * 1024 * 1024;

    friend bool operator==(const QueueSettings& a, const QueueSettings& b) {
        return a.workers == b.workers && a.fetch_batch == b.fetch_batch &&
               a.visibility_timeout == b.visibility_timeout && a.retry_delays == b.retry_delays &&
               a.retry_jitter == b.retry_jitter && a.max_payload_bytes == b.max_payload_bytes &&
               a.max_batch == b.max_batch && a.shutdown_grace == b.shutdown_grace &&
               a.idempotency_ttl == b.idempotency_ttl && a.retention == b.retention &&
               a.http_timeout == b.http_timeout && a.http_job_allow == b.http_job_allow && a.exec == b.exec &&
               a.inline_workers == b.inline_workers && a.inline_queue == b.inline_queue &&
               a.inline_wait == b.inline_wait && a.max_depth == b.max_depth && a.max_bytes == b.max_bytes;
    }
};

// The part's top-level keys with their effective values, as the config file
// writes them (levqor-controld --check-config); the values
// of an exec command's env are masked ("***": a command's environment is
// where its credentials go), their names shown.
nlohmann::ordered_json settings_json(const QueueSettings& settings);

// The queue's part of the configuration, filling `out`.
ConfigPart config_part(QueueSettings& out);

}  // namespace levqor::controld::queue
