// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/ctl/commands.h"

#include <iomanip>
#include <sstream>

#include "levqor/controld/core/flag_set.h"
#include "output.h"

namespace levqor::controld::ctl {
using output::failure;
using output::job_id_shape;
using output::pretty;
using output::text_of;

namespace {

std::string state_of(const nlohmann::json& flags, const std::string& name) {
    return flags.is_object() && flags.contains(name) && flags[name].is_string() ? flags[name].get<std::string>() : "?";
}

std::string health_lines(const nlohmann::json& health, const std::string& url) {
    std::ostringstream out;
    out << std::left;
    out << std::setw(10) << "controld" << url << "  " << health.value("status", "?") << "  (version "
        << health.value("version", "?") << ", up " << health.value("uptime_s", 0) << " s)\n";
    const auto checks = health.value("checks", nlohmann::json::object());
    const auto errors = health.value("errors", nlohmann::json::object());
    const auto nginx = checks.value("nginx", nlohmann::json::object());
    if (nginx.empty())
        out << std::setw(10) << "nginx"
            << "no instances configured\n";
    for (const auto& [name, entry] : nginx.items()) {
        out << std::setw(10) << "nginx" << std::setw(20) << name << std::setw(6) << entry.value("status", "?")
            << entry.value("url", "");
        if (entry.contains("error")) out << "  (" << entry.value("error", "") << ")";
        out << "\n";
    }
    for (const char* backend : {"redis", "postgres"}) {
        out << std::setw(10) << backend << checks.value(backend, "?");
        if (errors.contains(backend)) out << "  (" << errors.value(backend, "") << ")";
        out << "\n";
    }
    const auto abuse = checks.value("abuse", nlohmann::json::object());
    if (!abuse.empty()) {
        out << std::setw(10) << "abuse" << abuse.value("status", "?");
        if (abuse.contains("networks")) out << "  " << abuse.value("networks", "");
        out << "\n";
    }
    return out.str();
}

}  // namespace

std::string flags_table(const nlohmann::json& flags) {
    std::ostringstream out;
    out << std::left << std::setw(26) << "FLAG"
        << "STATE\n";
    for (Flag flag : kAllFlags) {
        const std::string name(flag_name(flag));
        out << std::setw(26) << name << state_of(flags, name) << "\n";
    }
    return out.str();
}

CommandResult run_health(const ApiClient& client) {
    const auto health = client.get("/healthz");
    CommandResult result;
    result.out = health.body;
    if (!result.out.empty() && result.out.back() != '\n') result.out += '\n';
    if (health.error) {
        result.exit_code = kExitFailure;
        result.err = "levqorctl: " + *health.error + "\n";
    } else if (health.json.value("status", "") != "ok") {
        result.exit_code = kExitFailure;
        result.err = "levqorctl: GET " + client.base().url_for("/healthz") + ": status is \"" +
                     health.json.value("status", "") + "\", not \"ok\"\n";
    }
    return result;
}

CommandResult run_status(const ApiClient& client, bool json) {
    const auto health = client.get("/healthz");
    if (health.error) return failure(*health.error);
    const auto flags = client.get("/ops/flags");
    if (json) {
        nlohmann::json both = {{"health", health.json}, {"flags", flags.error ? nullptr : flags.json}};
        CommandResult result{flags.error ? kExitFailure : kExitOk, pretty(both), ""};
        if (flags.error) result.err = "levqorctl: " + *flags.error + "\n";
        return result;
    }
    CommandResult result{kExitOk, health_lines(health.json, client.base().url_for("")) + "\n", ""};
    if (flags.error) {
        result.exit_code = kExitFailure;
        result.err = "levqorctl: " + *flags.error + "\n";
        return result;
    }
    result.out += flags_table(flags.json);
    return result;
}

CommandResult run_flags_get(const ApiClient& client, bool json) {
    const auto flags = client.get("/ops/flags");
    if (flags.error) return failure(*flags.error);
    return CommandResult{kExitOk, json ? pretty(flags.json) : flags_table(flags.json), ""};
}

CommandResult run_flags_set(const ApiClient& client, const std::string& name, const std::string& value, bool json) {
    if (!parse_flag_name(name)) {
        return CommandResult{kExitUsage, "",
                             "levqorctl: unknown flag \"" + name + "\"; the flags are " + flag_names_list() + "\n"};
    }
    if (!parse_flag_state(value)) {
        return CommandResult{kExitUsage, "",
                             "levqorctl: \"" + value + "\" is not a flag state; use off, shadow or on\n"};
    }
    const auto flags = client.put("/ops/flags", {{name, value}});
    if (flags.error) return failure(*flags.error);
    return CommandResult{kExitOk, json ? pretty(flags.json) : flags_table(flags.json), ""};
}

namespace {

// "A on -> off, B shadow -> off": what differs between two answers of /ops/flags.
std::string changes_between(const nlohmann::json& before, const nlohmann::json& after) {
    std::string changed;
    for (Flag flag : kAllFlags) {
        const std::string name(flag_name(flag));
        const auto was = state_of(before, name);
        const auto now = state_of(after, name);
        if (was != now) changed += (changed.empty() ? "" : ", ") + name + " " + was + " -> " + now;
    }
    return changed;
}

// Reads the flags (for the message; the change does not depend on it), makes
// the change, and says what it did: "<done> (A on -> off)" and the table.
template <typename Change>
CommandResult change_flags(const ApiClient& client, bool json, const std::string& name, const std::string& done,
                           const std::string& already, Change&& change) {
    const auto before = client.get("/ops/flags");
    const ApiResult after = change();
    if (after.error) return failure(name + " failed: " + *after.error);
    if (json) return CommandResult{kExitOk, pretty(after.json), ""};
    std::string out = done;
    if (!before.error) {
        const auto changed = changes_between(before.json, after.json);
        out += changed.empty() ? " (" + already + ")" : " (" + changed + ")";
    }
    return CommandResult{kExitOk, out + "\n" + flags_table(after.json), ""};
}

}  // namespace

CommandResult run_flags_reset(const ApiClient& client, bool json) {
    return change_flags(client, json, "flags reset", "flags reset: the configured flags apply", "they already did",
                        [&] { return client.post("/ops/flags/reset", nlohmann::json::object()); });
}

CommandResult run_rollback(const ApiClient& client, bool json) {
    nlohmann::json all_off = nlohmann::json::object();
    for (Flag flag : kAllFlags) all_off[std::string(flag_name(flag))] = "off";
    return change_flags(client, json, "rollback", "rollback: every flag is off", "it already was",
                        [&] { return client.put("/ops/flags", all_off); });
}

CommandResult run_dlq_list(const ApiClient& client, int limit, bool json) {
    const auto dlq = client.get("/ops/dlq?limit=" + std::to_string(limit));
    if (dlq.error) return failure(*dlq.error);
    if (json) return CommandResult{kExitOk, pretty(dlq.json), ""};
    std::ostringstream out;
    const auto jobs = dlq.json.value("jobs", nlohmann::json::array());
    out << dlq.json.value("total", 0) << " dead job(s)";
    if (jobs.size() < dlq.json.value("total", std::size_t{0})) out << ", newest " << jobs.size() << " shown";
    out << "\n";
    if (jobs.empty()) return CommandResult{kExitOk, out.str(), ""};
    out << std::left << std::setw(34) << "ID" << std::setw(8) << "TYPE" << std::setw(10) << "ATTEMPTS" << std::setw(26)
        << "DEAD SINCE"
        << "LAST ERROR\n";
    for (const auto& job : jobs) {
        out << std::setw(34) << text_of(job.value("id", nlohmann::json())) << std::setw(8)
            << text_of(job.value("type", nlohmann::json())) << std::setw(10) << job.value("attempts", 0)
            << std::setw(26) << text_of(job.value("finished_at", nlohmann::json()))
            << text_of(job.value("last_error", nlohmann::json())) << "\n";
    }
    return CommandResult{kExitOk, out.str(), ""};
}

CommandResult run_dlq_retry(const ApiClient& client, const std::vector<std::string>& ids, bool all, bool json) {
    if (all == !ids.empty()) {
        return CommandResult{kExitUsage, "", "levqorctl: dlq retry takes job ids or --all (not both)\n"};
    }
    for (const auto& id : ids) {
        if (!job_id_shape(id)) {
            return CommandResult{kExitUsage, "", "levqorctl: \"" + id + "\" is not a job id (32 hex digits)\n"};
        }
    }
    nlohmann::json body = nlohmann::json::object();
    if (all) {
        body["all"] = true;
    } else {
        body["ids"] = ids;
    }
    const auto result = client.post("/ops/dlq/retry", body);
    if (result.error) return failure(*result.error);
    if (json) return CommandResult{kExitOk, pretty(result.json), ""};
    const auto n = result.json.value("retried", 0);
    std::string out = "retried " + std::to_string(n) + " job(s)";
    if (!all && static_cast<std::size_t>(n) < ids.size()) {
        out += " (" + std::to_string(ids.size() - static_cast<std::size_t>(n)) + " were not in the dead-letter queue)";
    }
    return CommandResult{kExitOk, out + "\n", ""};
}

CommandResult run_jobs_get(const ApiClient& client, const std::string& id, bool json) {
    if (!job_id_shape(id)) {
        return CommandResult{kExitUsage, "", "levqorctl: \"" + id + "\" is not a job id (32 hex digits)\n"};
    }
    const auto job = client.get("/jobs/" + id);
    if (job.error) return failure(*job.error);
    if (json) return CommandResult{kExitOk, pretty(job.json), ""};
    std::ostringstream out;
    out << std::left;
    for (const auto& [key, value] : job.json.items()) {
        out << std::setw(16) << key << text_of(value) << "\n";
    }
    return CommandResult{kExitOk, out.str(), ""};
}

}  // namespace levqor::controld::ctl
