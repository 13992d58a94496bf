// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/ctl/verify.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <ctime>
#include <iomanip>
#include <set>
#include <sstream>
#include <stdexcept>

#include "levqor/controld/backup/manifest.h"
#include "levqor/controld/core/flag_set.h"
#include "levqor/controld/metrics/text_parser.h"
#include "levqor/controld/net/http_client.h"
#include "levqor/controld/queue/exec_runner.h"
#include "levqor/security_header_names.h"
#include "output.h"

namespace levqor::controld::ctl {
using output::text_of;

namespace {

namespace hn = levqor::headers::names;

// A page checked for its headers may be large; the body is not looked at.
constexpr std::size_t kMaxPageBytes = 64 * 1024 * 1024;
constexpr std::size_t kMaxMetricsBytes = 64 * 1024 * 1024;
// How many dead jobs are read to find those dead-lettered in the window.
constexpr int kDlqSample = 1000;
// promtool's findings shown in a row: the first lines, at most this long.
constexpr std::size_t kMaxFindingChars = 400;

std::string lower(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

std::string joined(const std::vector<std::string>& parts, const char* sep) {
    std::string out;
    for (const auto& p : parts) out += (out.empty() ? "" : sep) + p;
    return out;
}

Check verify_row(std::string name, std::string target, Outcome outcome, std::string detail) {
    return Check{std::move(name), std::move(target), outcome, std::move(detail)};
}

// A JSON answer of an unexpected shape (a field of another type) fails its
// row instead of the command.
Check unexpected_answer(std::string name, std::string target, const std::exception& e) {
    return verify_row(std::move(name), std::move(target), Outcome::fail, std::string("unexpected answer: ") + e.what());
}

// "2026-11-29T11:14:03Z" or, as jobs have them, "2026-11-29T11:14:03.301Z".
std::optional<std::int64_t> parse_instant(const nlohmann::json& value) {
    if (!value.is_string()) return std::nullopt;
    const auto& text = value.get_ref<const std::string&>();
    if (text.size() < 20 || text.back() != 'Z') return std::nullopt;
    return backup::parse_utc(text.substr(0, 19) + "Z");
}

std::string hours_text(std::int64_t seconds) {
    std::ostringstream out;
    out << std::fixed << std::setprecision(1) << static_cast<double>(seconds) / 3600.0 << " h";
    return out.str();
}

// An HTTP date ("Sun, 29 Nov 2026 15:30:31 GMT") as unix seconds.
std::optional<std::int64_t> parse_http_date(const std::string& text) {
    std::tm tm{};
    const char* end = ::strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (end == nullptr || *end != '\0') return std::nullopt;
    const std::time_t t = ::timegm(&tm);
    if (t == static_cast<std::time_t>(-1)) return std::nullopt;
    return static_cast<std::int64_t>(t);
}

// controld's clock when its answer carries a Date, else ours.
std::int64_t controld_now(const ApiResult& answer) {
    if (auto t = parse_http_date(answer.date)) return *t;
    return static_cast<std::int64_t>(std::time(nullptr));
}

net::HttpResponse fetch(const std::string& url, std::chrono::milliseconds timeout, std::size_t max_bytes) {
    net::HttpRequest req;
    req.url = url;
    req.timeout = timeout;
    req.max_response_bytes = max_bytes;
    return net::perform(req);
}

// ---- promtool ---------------------------------------------------------------

// promtool's path: `configured` as given (a bare name is looked up on PATH),
// else "promtool" on PATH; "" when there is none.
std::string find_program(const std::string& configured) {
    const std::string name = configured.empty() ? "promtool" : configured;
    if (name.find('/') != std::string::npos) return ::access(name.c_str(), X_OK) == 0 ? name : "";
    const char* path = std::getenv("PATH");
    std::istringstream dirs(path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin");
    for (std::string dir; std::getline(dirs, dir, ':');) {
        if (dir.empty()) continue;
        const std::string candidate = dir + "/" + name;
        if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    }
    return "";
}

// A temporary file holding `text`, removed with the object.
class TempText {
public:
    explicit TempText(const std::string& text) {
        const char* tmp = std::getenv("TMPDIR");
        path_ = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/levqorctl-verify-XXXXXX";
        const int fd = ::mkstemp(path_.data());
        if (fd < 0) throw std::runtime_error("cannot create a temporary file in " + path_);
        std::size_t done = 0;
        while (done < text.size()) {
            const auto n = ::write(fd, text.data() + done, text.size() - done);
            if (n <= 0) {
                ::close(fd);
                ::unlink(path_.c_str());
                throw std::runtime_error("cannot write the temporary file " + path_);
            }
            done += static_cast<std::size_t>(n);
        }
        ::close(fd);
    }
    ~TempText() { ::unlink(path_.c_str()); }
    TempText(const TempText&) = delete;
    TempText& operator=(const TempText&) = delete;
    const std::string& path() const { return path_; }

private:
    std::string path_;
};

Check promtool_check(const std::string& target, const std::string& exposition, const VerifyOptions& options) {
    const std::string promtool = find_program(options.promtool);
    if (promtool.empty()) {
        return verify_row("metrics", target, Outcome::skip,
                          options.promtool.empty() ? "skipped: promtool not found"
                                                   : "skipped: promtool not found at " + options.promtool);
    }
    try {
        const TempText file(exposition);
        queue::ExecSpec spec;
        // promtool check metrics reads stdin only; the shell only redirects.
        spec.path = "/bin/sh";
        spec.argv = {"sh", "-c", "exec \"$1\" check metrics < \"$2\"", "sh", promtool, file.path()};
        const char* path = std::getenv("PATH");
        spec.env = {{"PATH", path != nullptr ? path : "/usr/bin:/bin"}};
        spec.timeout = options.timeout;
        const auto run = queue::run_command(spec);
        if (!run.started) return verify_row("metrics", target, Outcome::fail, "could not run promtool: " + run.error);
        if (run.timed_out) {
            return verify_row("metrics", target, Outcome::fail,
                              "promtool check metrics took longer than " + std::to_string(options.timeout.count()) +
                                  " ms (--timeout)");
        }
        std::string findings = run.out + run.err;
        while (!findings.empty() && std::isspace(static_cast<unsigned char>(findings.back()))) findings.pop_back();
        if (run.exit_code == 0 && findings.empty()) {
            return verify_row("metrics", target, Outcome::pass, "reachable; promtool check metrics: no findings");
        }
        std::replace(findings.begin(), findings.end(), '\n', ' ');
        if (findings.size() > kMaxFindingChars) findings = findings.substr(0, kMaxFindingChars) + "...";
        return verify_row("metrics", target, Outcome::fail,
                          "promtool check metrics (exit " + std::to_string(run.exit_code) +
                              "): " + (findings.empty() ? "no output" : findings));
    } catch (const std::runtime_error& e) {
        return verify_row("metrics", target, Outcome::fail, e.what());
    }
}

// ---- controld's health --------------------------------------------------------

void health_rows(const ApiResult& health, const std::string& url, std::vector<Check>& out);

void health_checks(const ApiResult& health, const std::string& url, std::vector<Check>& out) {
    std::vector<Check> rows;
    try {
        health_rows(health, url, rows);
    } catch (const nlohmann::json::exception& e) {
        rows = {unexpected_answer("health", "controld " + url, e)};
    }
    out.insert(out.end(), rows.begin(), rows.end());
}

void health_rows(const ApiResult& health, const std::string& url, std::vector<Check>& out) {
    if (health.error) {
        out.push_back(verify_row("health", "controld", Outcome::fail, *health.error));
        return;
    }
    const auto& h = health.json;
    std::vector<Check> parts;
    const auto checks = h.value("checks", nlohmann::json::object());
    const auto nginx = checks.value("nginx", nlohmann::json::object());
    for (const auto& [name, entry] : nginx.items()) {
        const bool up = entry.value("status", "") == "up";
        std::string detail = entry.value("status", "?");
        if (entry.contains("url")) detail += " (" + entry.value("url", "") + ")";
        if (entry.contains("error")) detail += ": " + entry.value("error", "");
        parts.push_back(verify_row("health", "nginx instance " + name, up ? Outcome::pass : Outcome::fail, detail));
    }
    const auto errors = h.value("errors", nlohmann::json::object());
    for (const char* backend : {"redis", "postgres"}) {
        const std::string state = checks.contains(backend) ? text_of(checks[backend]) : "?";
        const bool fine = state == "ok" || state == "not_configured";
        std::string detail = state;
        if (errors.contains(backend)) detail += ": " + text_of(errors[backend]);
        parts.push_back(verify_row("health", backend, fine ? Outcome::pass : Outcome::fail, detail));
    }
    if (checks.contains("abuse")) {
        const std::string state = checks["abuse"].value("status", "?");
        const bool fine = state == "ok" || state == "not_configured";
        parts.push_back(verify_row("health", "abuse", fine ? Outcome::pass : Outcome::fail, state));
    }
    const std::string status = h.value("status", "?");
    const bool explained =
        std::any_of(parts.begin(), parts.end(), [](const Check& c) { return c.outcome == Outcome::fail; });
    std::ostringstream detail;
    detail << "status " << status << " (version " << h.value("version", "?") << ", up "
           << text_of(h.value("uptime_s", nlohmann::json())) << " s)";
    // "degraded" is explained by the rows of what is down; a status that is
    // not "ok" with nothing down fails here.
    out.push_back(verify_row("health", "controld " + url, status == "ok" || explained ? Outcome::pass : Outcome::fail,
                             detail.str()));
    out.insert(out.end(), parts.begin(), parts.end());
}

// The name of controld's instance for `target`: the one whose status URL
// has the same scheme, host and port. Sets `why` when there is none or more.
std::optional<std::string> instance_for(const NginxTarget& target, const nlohmann::json& health, std::string& why) try {
    const auto origin = parse_base_url(target.url).origin();
    std::vector<std::string> matches;
    std::vector<std::string> known;
    const auto nginx = health.is_object()
                           ? health.value("checks", nlohmann::json::object()).value("nginx", nlohmann::json::object())
                           : nlohmann::json::object();
    for (const auto& [name, entry] : nginx.items()) {
        const std::string url = entry.value("url", "");
        known.push_back(name + " " + url);
        try {
            if (parse_base_url(url).origin() == origin) matches.push_back(name);
        } catch (const std::invalid_argument&) {}
    }
    if (matches.size() == 1) return matches.front();
    why = matches.empty() ? "no nginx instance of controld (nginx_status_urls) is at " + origin
                          : "several nginx instances of controld are at " + origin + " (" + joined(matches, ", ") + ")";
    why += known.empty() ? "" : "; controld has: " + joined(known, ", ");
    why += "; name this nginx's levqor_status with --nginx URL,status=STATUS_URL";
    return std::nullopt;
} catch (const nlohmann::json::exception& e) {
    why = std::string("controld's /healthz: unexpected answer: ") + e.what();
    return std::nullopt;
}

// GET /ops/queue_health: the backend answers and nothing waits in the spool.
Check queue_check(const ApiResult& queue) try {
    if (queue.error) return verify_row("queue", "queue", Outcome::fail, *queue.error);
    const auto& q = queue.json;
    const std::string target = q.value("backend", "?") + " backend";
    const std::string status = q.value("status", "?");
    if (status == "ok") {
        std::ostringstream counts;
        counts << "ok: depth " << text_of(q.value("queue_depth", nlohmann::json())) << ", running "
               << text_of(q.value("running", nlohmann::json())) << ", DLQ "
               << text_of(q.value("dlq_depth", nlohmann::json()));
        return verify_row("queue", target, Outcome::pass, counts.str());
    }
    if (status == "degraded") {
        return verify_row("queue", target, Outcome::fail,
                          "degraded: " + text_of(q.value("spool_size", nlohmann::json())) +
                              " job(s) in the local spool wait for " + q.value("backend", "?"));
    }
    return verify_row("queue", target, Outcome::fail, status + ": " + q.value("error", std::string("no error given")));
} catch (const nlohmann::json::exception& e) {
    return unexpected_answer("queue", "queue", e);
}

}  // namespace

// ---- pure parts -------------------------------------------------------------------

std::string_view to_string(Outcome outcome) {
    switch (outcome) {
        case Outcome::pass:
            return "pass";
        case Outcome::fail:
            return "FAIL";
        case Outcome::skip:
            return "skip";
    }
    return "?";
}

NginxTarget parse_nginx_target(std::string_view arg) {
    constexpr std::string_view kStatus = ",status=";
    NginxTarget target;
    const auto at = arg.rfind(kStatus);
    target.url = std::string(arg.substr(0, at));
    if (at != std::string_view::npos) {
        target.status_url = std::string(arg.substr(at + kStatus.size()));
        if (target.status_url.empty()) {
            throw std::invalid_argument("--nginx \"" + std::string(arg) + "\": status= needs the levqor_status URL");
        }
    }
    try {
        parse_base_url(target.url);
        if (!target.status_url.empty()) parse_base_url(target.status_url);
    } catch (const std::invalid_argument& e) {
        throw std::invalid_argument("--nginx \"" + std::string(arg) + "\": " + e.what());
    }
    return target;
}

Check check_security_headers(const std::string& url, const std::string& state, const std::string& state_source,
                             long status, const std::map<std::string, std::string>& headers) {
    const auto has = [&](std::string_view name) { return headers.count(lower(name)) > 0; };
    std::vector<std::string> problems;
    std::vector<std::string> sent;
    for (auto name : hn::kManaged) {
        if (has(name)) sent.emplace_back(name);
    }
    if (state == "on") {
        if (!has(hn::kCsp) && !has(hn::kCspReportOnly)) problems.emplace_back("no Content-Security-Policy");
        if (!has(hn::kNosniff)) problems.emplace_back("no X-Content-Type-Options");
    } else if (state == "shadow") {
        for (auto name : hn::kManaged) {
            const bool report_only =
                std::find(hn::kReportOnly.begin(), hn::kReportOnly.end(), name) != hn::kReportOnly.end();
            if (!report_only && has(name))
                problems.push_back(std::string(name) + " is sent (shadow sends only report-only headers)");
        }
        if (!has(hn::kCspReportOnly)) problems.emplace_back("no Content-Security-Policy-Report-Only");
    } else if (state == "off") {
        for (auto name : hn::kManaged) {
            if (has(name)) problems.push_back(std::string(name) + " is sent");
        }
    } else {
        problems.push_back("the flag's state \"" + state + "\" is unknown");
    }
    if (status >= 500) problems.push_back("answered HTTP " + std::to_string(status));
    const std::string head = "SECURITY_HEADERS_ENABLED is " + state + " (" + state_source + "): ";
    if (!problems.empty()) return verify_row("headers", url, Outcome::fail, head + joined(problems, "; "));
    return verify_row(
        "headers", url, Outcome::pass,
        head + "HTTP " + std::to_string(status) + ", " + (sent.empty() ? "no security headers" : joined(sent, ", ")));
}

std::map<std::string, std::string> applied_flags(const std::vector<metrics::MetricFamily>& families,
                                                 const std::optional<std::string>& instance) {
    std::map<std::string, std::string> out;
    for (const auto& family : families) {
        if (family.name != "levqor_flag_state") continue;
        for (const auto& sample : family.samples) {
            const auto value = metrics::parse_value(sample.value);
            if (!value || *value != 1.0) continue;
            std::string flag;
            std::string state;
            bool ours = !instance;
            for (const auto& label : sample.labels) {
                if (label.name == "flag") flag = label.value;
                if (label.name == "state") state = label.value;
                if (instance && label.name == "instance" && label.value == *instance) ours = true;
            }
            if (ours && !flag.empty()) out[flag] = state;
        }
    }
    return out;
}

Check compare_flags(const std::string& url, const nlohmann::json& controld_flags,
                    const std::map<std::string, std::string>& applied, const std::string& source) {
    if (applied.empty()) {
        return verify_row(
            "flags", url, Outcome::fail,
            "no levqor_flag_state in " + source + " (is that nginx up? does its nginx.conf set levqor_flags_file?)");
    }
    std::vector<std::string> drift;
    for (Flag flag : kAllFlags) {
        const std::string name(flag_name(flag));
        const std::string want =
            controld_flags.is_object() && controld_flags.contains(name) ? text_of(controld_flags[name]) : "?";
        const auto it = applied.find(name);
        const std::string got = it == applied.end() ? "nothing" : it->second;
        if (want != got) drift.push_back(name + " is " + got + " in this nginx, " + want + " in controld");
    }
    if (!drift.empty()) return verify_row("flags", url, Outcome::fail, joined(drift, "; ") + " (from " + source + ")");
    return verify_row("flags", url, Outcome::pass, "the five flags equal controld's (from " + source + ")");
}

Check check_dlq_growth(const nlohmann::json& dlq, std::int64_t now, std::chrono::seconds window) try {
    const std::string target = "dead-letter queue";
    if (!dlq.is_object()) return verify_row("dlq", target, Outcome::fail, "GET /ops/dlq: not an object");
    const auto total = dlq.value("total", 0LL);
    const auto jobs = dlq.value("jobs", nlohmann::json::array());
    std::size_t recent = 0;
    const nlohmann::json* newest = nullptr;
    std::int64_t newest_at = 0;
    for (const auto& job : jobs) {
        const auto at = parse_instant(job.value("finished_at", nlohmann::json()));
        if (!at || *at < now - static_cast<std::int64_t>(window.count())) continue;
        ++recent;
        if (newest == nullptr || *at > newest_at) {
            newest = &job;
            newest_at = *at;
        }
    }
    const std::string in_window = " in the last " + std::to_string(window.count()) + " s";
    if (recent == 0) {
        return verify_row("dlq", target, Outcome::pass,
                          "no job dead-lettered" + in_window + " (it holds " + std::to_string(total) + ")");
    }
    const bool maybe_more = recent == jobs.size() && static_cast<long long>(jobs.size()) < total;
    std::string detail = "the DLQ grew: " + std::string(maybe_more ? "at least " : "") + std::to_string(recent) +
                         " job(s) dead-lettered" + in_window + " (it holds " + std::to_string(total) + ")";
    detail += "; newest: " + text_of(newest->value("type", nlohmann::json())) + " job " +
              text_of(newest->value("id", nlohmann::json())) + ": " +
              text_of(newest->value("last_error", nlohmann::json()));
    return verify_row("dlq", target, Outcome::fail, detail + " (levqorctl dlq list)");
} catch (const nlohmann::json::exception& e) {
    return unexpected_answer("dlq", "dead-letter queue", e);
}

Check check_backup(const std::string& target, const nlohmann::json& manifests, std::int64_t now,
                   std::chrono::hours max_age) try {
    const std::string row_target = "backup target " + target;
    if (!manifests.is_array()) return verify_row("backup", row_target, Outcome::fail, "GET /ops/backups: not a list");
    const nlohmann::json* verified = nullptr;
    std::int64_t verified_at = 0;
    for (const auto& m : manifests) {
        const auto at = parse_instant(m.value("finished_at", nlohmann::json()));
        if (m.value("status", "") != "verified" || !at) continue;
        if (verified == nullptr || *at > verified_at) {
            verified = &m;
            verified_at = *at;
        }
    }
    const auto limit = std::chrono::duration_cast<std::chrono::seconds>(max_age).count();
    const std::string hours = std::to_string(max_age.count()) + " h";
    if (verified == nullptr) {
        std::string detail = "no verified backup";
        if (manifests.empty()) {
            detail += " at all (levqorctl backup run " + target + " --wait)";
        } else {
            const auto& newest = manifests.front();
            detail += "; newest " + newest.value("id", "?") + " is " + newest.value("status", "?");
            const auto verify = newest.value("verify", nlohmann::json());
            if (verify.is_object() && verify.value("error", nlohmann::json()).is_string()) {
                detail += ": " + verify.value("error", "");
            }
        }
        return verify_row("backup", row_target, Outcome::fail, detail);
    }
    const auto age = now - verified_at;
    const std::string id = verified->value("id", "?");
    if (age > limit) {
        return verify_row(
            "backup", row_target, Outcome::fail,
            "the newest verified backup, " + id + ", finished " + hours_text(age) + " ago (more than " + hours + ")");
    }
    return verify_row("backup", row_target, Outcome::pass,
                      id + " verified, finished " + hours_text(std::max<std::int64_t>(age, 0)) + " ago");
} catch (const nlohmann::json::exception& e) {
    return unexpected_answer("backup", "backup target " + target, e);
}

std::vector<std::string> backup_targets(const std::vector<metrics::MetricFamily>& families) {
    std::vector<std::string> out;
    for (const auto& family : families) {
        if (family.name != "levqor_backup_last_success_timestamp_seconds") continue;
        for (const auto& sample : family.samples) {
            for (const auto& label : sample.labels) {
                if (label.name == "target" && std::find(out.begin(), out.end(), label.value) == out.end()) {
                    out.push_back(label.value);
                }
            }
        }
    }
    return out;
}

std::string verify_table(const std::vector<Check>& checks) {
    std::size_t width = 6;
    for (const auto& c : checks) width = std::max(width, c.target.size());
    std::ostringstream out;
    out << std::left << std::setw(9) << "CHECK" << std::setw(static_cast<int>(width + 2)) << "TARGET" << std::setw(8)
        << "RESULT"
        << "DETAIL\n";
    for (const auto& c : checks) {
        out << std::setw(9) << c.name << std::setw(static_cast<int>(width + 2)) << c.target << std::setw(8)
            << to_string(c.outcome) << c.detail << "\n";
    }
    return out.str();
}

nlohmann::json verify_json(const std::vector<Check>& checks) {
    nlohmann::json rows = nlohmann::json::array();
    std::size_t failed = 0;
    for (const auto& c : checks) {
        if (c.outcome == Outcome::fail) ++failed;
        rows.push_back(
            {{"check", c.name}, {"target", c.target}, {"result", lower(to_string(c.outcome))}, {"detail", c.detail}});
    }
    return {{"ok", failed == 0}, {"failed", failed}, {"checks", rows}};
}

// ---- the command ---------------------------------------------------------------

CommandResult run_verify(const ApiClient& client, const VerifyOptions& options, bool json) {
    std::vector<Check> checks;

    // controld and what it depends on.
    const auto health = client.get("/healthz");
    health_checks(health, client.base().url_for(""), checks);
    const auto flags = client.get("/ops/flags");
    if (flags.error) checks.push_back(verify_row("flags", "controld", Outcome::fail, *flags.error));

    // controld's /metrics: reachable, promtool-clean, and parsed for the
    // instances' flags and the backup targets.
    const std::string metrics_url = client.base().url_for("/metrics");
    std::optional<std::vector<metrics::MetricFamily>> families;
    {
        const auto res = fetch(metrics_url, options.timeout, kMaxMetricsBytes);
        if (!res.transport_ok()) {
            checks.push_back(
                verify_row("metrics", metrics_url, Outcome::fail, "GET " + metrics_url + ": " + res.error));
        } else if (res.status != 200) {
            checks.push_back(verify_row("metrics", metrics_url, Outcome::fail, "HTTP " + std::to_string(res.status)));
        } else {
            try {
                families = metrics::parse_exposition(res.body);
                checks.push_back(promtool_check(metrics_url, res.body, options));
            } catch (const metrics::ParseError& e) {
                checks.push_back(
                    verify_row("metrics", metrics_url, Outcome::fail, std::string("not Prometheus text: ") + e.what()));
            }
        }
    }

    // Each nginx: its headers, and its flags against controld's.
    for (const auto& target : options.nginx) {
        std::map<std::string, std::string> applied;
        std::string source;
        std::optional<Check> flags_row;
        if (!target.status_url.empty()) {
            source = target.status_url;
            const auto res = fetch(target.status_url, options.timeout, kMaxMetricsBytes);
            if (!res.transport_ok() || res.status != 200) {
                flags_row = verify_row("flags", target.url, Outcome::fail,
                                       "GET " + target.status_url + ": " +
                                           (res.transport_ok() ? "HTTP " + std::to_string(res.status) : res.error));
            } else {
                try {
                    applied = applied_flags(metrics::parse_exposition(res.body), std::nullopt);
                } catch (const metrics::ParseError& e) {
                    flags_row = verify_row("flags", target.url, Outcome::fail,
                                           target.status_url + " is not Prometheus text: " + e.what());
                }
            }
        } else {
            std::string why;
            const auto instance = health.error ? std::nullopt : instance_for(target, health.json, why);
            if (health.error) why = "controld's /healthz failed, so its instance for this nginx is unknown";
            if (!instance) {
                flags_row = verify_row("flags", target.url, Outcome::fail, why);
            } else if (!families) {
                flags_row = verify_row("flags", target.url, Outcome::fail, "controld's /metrics could not be read");
            } else {
                source = "controld's /metrics, instance " + *instance;
                applied = applied_flags(*families, instance);
            }
        }
        if (!flags_row) {
            if (flags.error) {
                flags_row = verify_row("flags", target.url, Outcome::fail, "controld's flags could not be read");
            } else {
                flags_row = compare_flags(target.url, flags.json, applied, source);
            }
        }

        // The state the headers are judged by: what this nginx applies, else
        // what controld says it should.
        std::string state;
        std::string state_source;
        if (const auto it = applied.find("SECURITY_HEADERS_ENABLED"); it != applied.end()) {
            state = it->second;
            state_source = "applied by this nginx";
        } else if (!flags.error && flags.json.contains("SECURITY_HEADERS_ENABLED")) {
            state = text_of(flags.json["SECURITY_HEADERS_ENABLED"]);
            state_source = "controld's flag";
        }
        const auto page = fetch(target.url, options.timeout, kMaxPageBytes);
        if (!page.transport_ok()) {
            checks.push_back(verify_row("headers", target.url, Outcome::fail, "GET " + target.url + ": " + page.error));
        } else if (state.empty()) {
            checks.push_back(
                verify_row("headers", target.url, Outcome::fail,
                           "SECURITY_HEADERS_ENABLED is unknown (neither this nginx's nor controld's flags "
                           "could be read)"));
        } else {
            checks.push_back(check_security_headers(target.url, state, state_source, page.status, page.headers));
        }
        checks.push_back(*flags_row);
    }

    // The queue: its backend, and no DLQ growth.
    checks.push_back(queue_check(client.get("/ops/queue_health")));
    if (options.dlq_window.count() == 0) {
        checks.push_back(verify_row("dlq", "dead-letter queue", Outcome::skip, "skipped: --dlq-window 0"));
    } else {
        const auto dlq = client.get("/ops/dlq?limit=" + std::to_string(kDlqSample));
        if (dlq.error) {
            checks.push_back(verify_row("dlq", "dead-letter queue", Outcome::fail, *dlq.error));
        } else {
            checks.push_back(check_dlq_growth(dlq.json, controld_now(dlq), options.dlq_window));
        }
    }

    // Backups of every configured target.
    if (!families) {
        checks.push_back(verify_row("backup", "backups", Outcome::fail,
                                    "the backup targets are unknown: controld's /metrics could not be read"));
    } else {
        const auto targets = backup_targets(*families);
        if (targets.empty()) {
            checks.push_back(verify_row("backup", "backups", Outcome::skip, "skipped: no backup targets configured"));
        }
        for (const auto& target : targets) {
            const bool name_ok = !target.empty() && target.size() <= 64 &&
                                 std::all_of(target.begin(), target.end(),
                                             [](unsigned char c) { return std::isalnum(c) || c == '_' || c == '-'; });
            if (!name_ok) {
                checks.push_back(verify_row("backup", "backup target " + target, Outcome::fail, "not a target name"));
                continue;
            }
            const auto listing = client.get("/ops/backups?target=" + target);
            if (listing.error) {
                checks.push_back(verify_row("backup", "backup target " + target, Outcome::fail, *listing.error));
            } else {
                checks.push_back(check_backup(target, listing.json, controld_now(listing), options.backup_max_age));
            }
        }
    }

    CommandResult result;
    std::size_t failed = 0;
    for (const auto& c : checks) {
        if (c.outcome != Outcome::fail) continue;
        ++failed;
        result.err += "levqorctl verify: " + c.name + " " + c.target + ": " + c.detail + "\n";
    }
    if (failed > 0) {
        result.err +=
            "levqorctl verify: " + std::to_string(failed) + " of " + std::to_string(checks.size()) + " checks failed\n";
    }
    result.exit_code = failed == 0 ? kExitOk : kExitFailure;
    result.out = json ? output::pretty(verify_json(checks)) : verify_table(checks);
    return result;
}

}  // namespace levqor::controld::ctl
