// SPDX-License-Identifier: Apache-2.0
// `levqorctl verify`: checks a live deployment end to end (controld's health,
// each nginx's security headers and applied flags, controld's metrics through
// promtool, the queue and its DLQ, the backups) and reports one row per
// check. docs/controld.md "levqorctl verify" says what each check means.
// The check functions are pure (tested on their own); run_verify does the
// I/O. Thread-safety: as far as the ApiClient given.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "levqor/controld/ctl/client.h"
#include "levqor/controld/metrics/exposition.h"

namespace levqor::controld::ctl {

// One --nginx argument: "URL" or "URL,status=STATUS_URL". URL is a page the
// nginx serves with levqor_headers on; STATUS_URL its levqor_status location
// (without it, the applied flags come from controld's /metrics, from the
// instance whose status URL has URL's scheme, host and port).
struct NginxTarget {
    std::string url;
    std::string status_url;  // "" when not given
};

// Throws std::invalid_argument naming --nginx and what is wrong.
NginxTarget parse_nginx_target(std::string_view arg);

struct VerifyOptions {
    std::vector<NginxTarget> nginx;
    std::chrono::milliseconds timeout{5000};  // each request, and promtool
    // A job dead-lettered less than this long ago (controld's clock) is DLQ
    // growth; 0 skips the check.
    std::chrono::seconds dlq_window{600};
    // The newest verified backup of each configured target must have finished
    // within this.
    std::chrono::hours backup_max_age{26};
    // promtool's path; "" looks it up on PATH (absent: the check is skipped).
    std::string promtool;
};

enum class Outcome { pass, fail, skip };
std::string_view to_string(Outcome outcome);

struct Check {
    std::string name;    // "health", "headers", "flags", "metrics", "queue", "dlq", "backup"
    std::string target;  // what was checked: a URL, a component, a backup target
    Outcome outcome = Outcome::pass;
    std::string detail;  // the reason of a failure names the flag, header or URL
};

// ---- the checks, pure ------------------------------------------------------

// What the headers (lower-case names) of one nginx answer say about
// SECURITY_HEADERS_ENABLED=`state` ("off", "shadow", "on"): on = an enforcing
// X-Content-Type-Options and a Content-Security-Policy (or, relaxed profile,
// its Report-Only form); shadow = a Content-Security-Policy-Report-Only and
// none of the enforcing headers; off = none of the headers levqor sends. A
// 5xx answer fails too.
Check check_security_headers(const std::string& url, const std::string& state, const std::string& state_source,
                             long status, const std::map<std::string, std::string>& headers);

// The flags an nginx applies, from its levqor_flag_state samples (value 1):
// those with instance="<instance>" when instance is set (controld's merged
// /metrics), all of them otherwise (the nginx's own levqor_status).
std::map<std::string, std::string> applied_flags(const std::vector<metrics::MetricFamily>& families,
                                                 const std::optional<std::string>& instance);

// The five flags of controld (GET /ops/flags) against those an nginx applies.
Check compare_flags(const std::string& url, const nlohmann::json& controld_flags,
                    const std::map<std::string, std::string>& applied, const std::string& source);

// GET /ops/dlq's answer: fails when a job was dead-lettered within `window`
// before `now` (unix seconds, controld's clock).
Check check_dlq_growth(const nlohmann::json& dlq, std::int64_t now, std::chrono::seconds window);

// GET /ops/backups?target=T's answer: the newest verified backup must have
// finished within max_age before `now`.
Check check_backup(const std::string& target, const nlohmann::json& manifests, std::int64_t now,
                   std::chrono::hours max_age);

// The configured backup targets: the target labels of
// levqor_backup_last_success_timestamp_seconds (every configured target has one).
std::vector<std::string> backup_targets(const std::vector<metrics::MetricFamily>& families);

// The table (CHECK TARGET RESULT DETAIL) and the JSON form.
std::string verify_table(const std::vector<Check>& checks);
nlohmann::json verify_json(const std::vector<Check>& checks);

// ---- the command -----------------------------------------------------------

// Runs every check. Exit 0 when none failed (skipped ones do not fail), 1
// otherwise, with one stderr line per failure:
// "levqorctl verify: headers http://...: SECURITY_HEADERS_ENABLED is on: no Content-Security-Policy".
CommandResult run_verify(const ApiClient& client, const VerifyOptions& options, bool json);

}  // namespace levqor::controld::ctl
