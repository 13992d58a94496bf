// SPDX-License-Identifier: Apache-2.0
// levqorctl: the command-line client of levqor-controld (docs/controld.md).
//
//   levqorctl [--url URL] [--token-file FILE] [--timeout MS] [--json] COMMAND
//     health                 GET /healthz; exit 0 if "ok"
//     status                 health and flags in one readable screen
//     flags get              the five runtime flags
//     flags set NAME VALUE   set one flag (off, shadow, on)
//     flags reset            back to the configured flags (a restart keeps the runtime ones)
//     rollback               every flag off, one request, no nginx reload (persisted)
//     dlq list [--limit N]   dead-lettered jobs
//     dlq retry ID...|--all  put dead jobs back in the queue
//     jobs get ID            one job's state
//     backup run TARGET [--wait]             back up a target now (and its restore drill)
//     backup list [--target T]               the backups, newest first
//     backup show ID                         one backup's manifest
//     backup verify ID [--wait]              checksums and a new restore drill
//     backup restore ID --into NAME [--force] [--wait]
//                                            into a new database or SQLite file
//     backup decrypt --key-file KEY IN OUT   an encrypted backup file, offline (no controld)
//     schedules                              the schedules: cron, next and last run, last status
//     schedules run NAME [--wait]            a schedule's job now
//     verify --nginx URL[,status=URL]... [--dlq-window S] [--backup-max-age H] [--promtool PATH]
//                                            check a live deployment end to end (exit 1 naming each failure)
//
// --wait polls the job until it ends, with a progress line on a TTY; the exit
// status is then the outcome (0 only for a verified backup / a done restore).
//
// URL defaults to $LEVQOR_URL, else http://127.0.0.1:8089. The admin token
// is read from FILE or $LEVQOR_TOKEN_FILE (status, flags and rollback need it).
// Exit status: 0 success, 1 the command failed (unreachable, refused,
// unhealthy), 2 usage error.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "levqor/controld/ctl/backup_commands.h"
#include "levqor/controld/ctl/schedule_commands.h"
#include "levqor/controld/ctl/base_url.h"
#include "levqor/controld/ctl/client.h"
#include "levqor/controld/ctl/commands.h"
#include "levqor/build_info.h"
#include "levqor/controld/ctl/verify.h"
#include "levqor/controld/net/http_client.h"
#include "levqor/controld/version.h"

namespace {

using namespace levqor::controld;

constexpr const char* kDefaultUrl = "http://127.0.0.1:8089";

std::string env_or(const char* name, const std::string& fallback) {
    const char* value = std::getenv(name);
    return value != nullptr && *value != '\0' ? value : fallback;
}

int emit(const ctl::CommandResult& result) {
    std::cout << result.out << std::flush;
    std::cerr << result.err << std::flush;
    return result.exit_code;
}

int usage(const std::string& message) {
    std::cerr << "levqorctl: " << message << "\n";
    return ctl::kExitUsage;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App cli{"levqorctl " + std::string(kVersion) +
                 ": command-line client of levqor-controld.\n"
                 "Exit status: 0 success, 1 the command failed, 2 usage error."};
    cli.require_subcommand(1);
    std::string url = env_or("LEVQOR_URL", kDefaultUrl);
    cli.add_option("--url", url, "controld base URL (env LEVQOR_URL)")->capture_default_str()->type_name("URL");
    std::string token_file = env_or("LEVQOR_TOKEN_FILE", "");
    cli.add_option("--token-file", token_file, "file holding the admin token (env LEVQOR_TOKEN_FILE)")
        ->type_name("FILE");
    int timeout_ms = 5000;
    cli.add_option("--timeout", timeout_ms, "request timeout in milliseconds")
        ->capture_default_str()
        ->check(CLI::Range(1, 600000))
        ->type_name("MS");
    bool json = false;
    cli.add_flag("--json", json, "print controld's JSON instead of tables");
    cli.set_version_flag("--version", std::string(levqor::build::kVersionLine));

    auto* health = cli.add_subcommand("health", "GET /healthz and print the JSON; exit 0 if healthy, 1 otherwise");
    auto* status = cli.add_subcommand("status", "health and runtime flags in one screen");
    auto* flags = cli.add_subcommand("flags", "read, change or reset the runtime flags");
    flags->require_subcommand(1);
    auto* flags_get = flags->add_subcommand("get", "print the five flags");
    auto* flags_set = flags->add_subcommand("set", "set one flag: flags set NAME off|shadow|on");
    std::string flag_name;
    std::string flag_value;
    flags_set
        ->add_option("NAME", flag_name,
                     "SECURITY_HEADERS_ENABLED, RATELIMIT_ENABLED, "
                     "WEBHOOK_VERIFY_ALL, ABUSE_GUARDS_ENABLED or "
                     "NEW_QUEUE_ENABLED")
        ->required();
    flags_set->add_option("VALUE", flag_value, "off, shadow or on")->required();
    auto* flags_reset =
        flags->add_subcommand("reset",
                              "apply the configured flags (config file and environment); runtime changes survive a "
                              "restart of controld until this is run");
    auto* rollback =
        cli.add_subcommand("rollback",
                           "turn every flag off at once (the emergency rollback; no nginx reload; persisted, so a "
                           "restart of controld keeps it)");

    auto* dlq = cli.add_subcommand("dlq", "the dead-letter queue");
    dlq->require_subcommand(1);
    auto* dlq_list = dlq->add_subcommand("list", "dead-lettered jobs, newest first");
    int dlq_limit = 100;
    dlq_list->add_option("--limit", dlq_limit, "at most this many")->capture_default_str()->check(CLI::Range(1, 10000));
    auto* dlq_retry = dlq->add_subcommand("retry", "put dead jobs back in the queue: ID... or --all");
    std::vector<std::string> retry_ids;
    bool retry_all = false;
    dlq_retry->add_option("ID", retry_ids, "job ids");
    dlq_retry->add_flag("--all", retry_all, "every dead job");
    auto* jobs = cli.add_subcommand("jobs", "jobs");
    jobs->require_subcommand(1);
    auto* jobs_get = jobs->add_subcommand("get", "one job's state: jobs get ID");
    std::string job_id;
    jobs_get->add_option("ID", job_id, "the job id")->required();

    auto* backup = cli.add_subcommand("backup", "backups proven restorable (docs/backups.md)");
    backup->require_subcommand(1);
    bool wait = false;
    auto* backup_run = backup->add_subcommand("run", "back up a target now, then its restore drill: backup run TARGET");
    std::string backup_target;
    backup_run->add_option("TARGET", backup_target, "a name from backup.targets")->required();
    backup_run->add_flag("--wait", wait, "wait until verified (or failed); progress on a TTY");
    auto* backup_list = backup->add_subcommand("list", "the backups, newest first");
    backup_list->add_option("--target", backup_target, "only this target's");
    auto* backup_show = backup->add_subcommand("show", "one backup's manifest: backup show ID");
    std::string backup_id;
    backup_show->add_option("ID", backup_id, "the backup id")->required();
    auto* backup_verify = backup->add_subcommand("verify", "checksums and a new restore drill: backup verify ID");
    backup_verify->add_option("ID", backup_id, "the backup id")->required();
    backup_verify->add_flag("--wait", wait, "wait for the drill's outcome; progress on a TTY");
    auto* backup_restore =
        backup->add_subcommand("restore", "restore into a NEW database or SQLite file: backup restore ID --into NAME");
    backup_restore->add_option("ID", backup_id, "the backup id")->required();
    std::string restore_into;
    backup_restore->add_option("--into", restore_into, "new database name (PostgreSQL) or file path (SQLite)")
        ->required();
    bool restore_force = false;
    backup_restore->add_flag("--force", restore_force, "replace an existing, non-empty database or file");
    backup_restore->add_flag("--wait", wait, "wait until restored; progress on a TTY");
    auto* backup_decrypt = backup->add_subcommand(
        "decrypt", "decrypt an encrypted backup file offline, without controld: backup decrypt --key-file KEY IN OUT");
    std::string key_file;
    std::string decrypt_in;
    std::string decrypt_out;
    backup_decrypt->add_option("--key-file", key_file, "backup.encryption_key_file (mode 0600)")->required();
    backup_decrypt->add_option("IN", decrypt_in, "the encrypted file (*.enc)")->required();
    backup_decrypt->add_option("OUT", decrypt_out, "a new file for the plaintext")->required();

    auto* schedules = cli.add_subcommand("schedules", "the scheduler's schedules (docs/controld.md \"Schedules\")");
    auto* schedules_run = schedules->add_subcommand("run", "a schedule's job now: schedules run NAME");
    std::string schedule_name;
    schedules_run->add_option("NAME", schedule_name, "a name from GET /ops/schedules")->required();
    schedules_run->add_flag("--wait", wait, "wait for the job's outcome");

    auto* verify = cli.add_subcommand(
        "verify",
        "check a live deployment end to end: controld's health, each nginx's security headers and flags, "
        "promtool on /metrics, the queue and its DLQ, the backups; a pass/fail table, exit 1 naming each failure");
    verify->fallthrough();  // `levqorctl verify --nginx URL --json`: the global options after it too
    std::vector<std::string> verify_nginx;
    verify
        ->add_option("--nginx", verify_nginx,
                     "a page of an nginx (levqor_headers on), optionally with its levqor_status URL: "
                     "URL[,status=STATUS_URL]; repeat for each nginx")
        ->required()
        ->type_name("URL[,status=URL]");
    int dlq_window_s = 600;
    verify
        ->add_option("--dlq-window", dlq_window_s,
                     "fail if a job was dead-lettered within this many seconds (controld's clock); 0 skips the check")
        ->capture_default_str()
        ->check(CLI::Range(0, 7 * 24 * 3600))
        ->type_name("SECONDS");
    int backup_max_age_h = 26;
    verify
        ->add_option("--backup-max-age", backup_max_age_h,
                     "each backup target's newest verified backup must be younger than this")
        ->capture_default_str()
        ->check(CLI::Range(1, 24 * 365))
        ->type_name("HOURS");
    std::string promtool_path;
    verify->add_option("--promtool", promtool_path, "promtool to check /metrics with (default: promtool on PATH)")
        ->type_name("PATH");

    try {
        cli.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return cli.exit(e) == 0 ? ctl::kExitOk : ctl::kExitUsage;
    }

    if (backup_decrypt->parsed()) return emit(ctl::run_backup_decrypt(key_file, decrypt_in, decrypt_out));

    ctl::VerifyOptions verify_options;
    if (verify->parsed()) {
        try {
            for (const auto& arg : verify_nginx) verify_options.nginx.push_back(ctl::parse_nginx_target(arg));
        } catch (const std::invalid_argument& e) {
            return usage(e.what());
        }
        verify_options.timeout = std::chrono::milliseconds(timeout_ms);
        verify_options.dlq_window = std::chrono::seconds(dlq_window_s);
        verify_options.backup_max_age = std::chrono::hours(backup_max_age_h);
        verify_options.promtool = promtool_path;
    }

    ctl::BaseUrl base;
    try {
        base = ctl::parse_base_url(url);
    } catch (const std::invalid_argument& e) {
        return usage(std::string("--url/LEVQOR_URL: ") + e.what());
    }
    std::optional<std::string> token;
    const bool needs_token = !health->parsed();
    if (needs_token) {
        if (token_file.empty()) {
            return usage(
                "this command needs the admin token: pass --token-file FILE or set "
                "LEVQOR_TOKEN_FILE");
        }
        try {
            token = ctl::read_token_file(token_file);
        } catch (const std::invalid_argument& e) {
            return usage(e.what());
        }
    }
    const ctl::ApiClient client(base, std::chrono::milliseconds(timeout_ms), token);

    if (health->parsed()) return emit(ctl::run_health(client));
    if (status->parsed()) return emit(ctl::run_status(client, json));
    if (flags_get->parsed()) return emit(ctl::run_flags_get(client, json));
    if (flags_set->parsed()) return emit(ctl::run_flags_set(client, flag_name, flag_value, json));
    if (flags_reset->parsed()) return emit(ctl::run_flags_reset(client, json));
    if (rollback->parsed()) return emit(ctl::run_rollback(client, json));
    if (dlq_list->parsed()) return emit(ctl::run_dlq_list(client, dlq_limit, json));
    if (dlq_retry->parsed()) return emit(ctl::run_dlq_retry(client, retry_ids, retry_all, json));
    if (jobs_get->parsed()) return emit(ctl::run_jobs_get(client, job_id, json));
    if (verify->parsed()) {
        const net::CurlGlobal curl;  // verify's requests to nginx and /metrics go through libcurl
        return emit(ctl::run_verify(client, verify_options, json));
    }

    ctl::WaitOptions wait_options;
    wait_options.wait = wait;
    bool line_open = false;  // a progress line waits for its newline
    if (wait && isatty(STDERR_FILENO) == 1) {
        // One line redrawn on each poll: the job's state and the bytes dumped so far.
        wait_options.progress = [&line_open](const ctl::WaitProgress& p) {
            static const char kSpin[] = {'|', '/', '-', '\\'};
            static unsigned turn = 0;
            std::fprintf(stderr, "\r%c %s   ", kSpin[turn++ % 4], ctl::progress_line(p).c_str());
            std::fflush(stderr);
            line_open = true;
        };
    }
    const auto waited = [&line_open](const ctl::CommandResult& result) {
        if (line_open) std::fputc('\n', stderr);
        return emit(result);
    };
    if (backup_run->parsed()) return waited(ctl::run_backup_run(client, backup_target, wait_options, json));
    if (backup_list->parsed()) return emit(ctl::run_backup_list(client, backup_target, json));
    if (backup_show->parsed()) return emit(ctl::run_backup_show(client, backup_id, json));
    if (backup_verify->parsed()) return waited(ctl::run_backup_verify(client, backup_id, wait_options, json));
    if (schedules_run->parsed()) return waited(ctl::run_schedules_run(client, schedule_name, wait_options, json));
    if (schedules->parsed()) return emit(ctl::run_schedules_list(client, json));
    if (backup_restore->parsed()) {
        return waited(ctl::run_backup_restore(client, backup_id, restore_into, restore_force, wait_options, json));
    }
    return ctl::kExitUsage;  // unreachable: require_subcommand(1)
}
