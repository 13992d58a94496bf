// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/ctl/schedule_commands.h"

#include <iomanip>
#include <sstream>

#include "output.h"

namespace levqor::controld::ctl {
namespace {

std::string schedule_cell(const nlohmann::json& row, const char* key) {
    return row.is_object() && row.contains(key) ? output::text_of(row[key]) : "-";
}

}  // namespace

bool schedule_name_shape(const std::string& text) {
    return !text.empty() && text.size() <= 100 &&
           text.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:-") ==
               std::string::npos;
}

std::string schedules_table(const nlohmann::json& listing) {
    std::ostringstream out;
    out << std::left << std::setw(24) << "NAME" << std::setw(18) << "CRON" << std::setw(23) << "NEXT RUN"
        << std::setw(23) << "LAST RUN"
        << "LAST STATUS\n";
    if (!listing.is_array()) return out.str();
    for (const auto& row : listing) {
        const auto cron = row.is_object() && row.contains("cron") && row["cron"].is_null() ? std::string("(disabled)")
                                                                                           : schedule_cell(row, "cron");
        out << std::setw(24) << schedule_cell(row, "name") << std::setw(18) << cron << std::setw(23)
            << schedule_cell(row, "next_run_at") << std::setw(23) << schedule_cell(row, "last_run_at")
            << schedule_cell(row, "last_status") << "\n";
    }
    return out.str();
}

CommandResult run_schedules_list(const ApiClient& client, bool json) {
    const auto listing = client.get("/ops/schedules");
    if (listing.error) return output::failure(*listing.error);
    return CommandResult{kExitOk, json ? output::pretty(listing.json) : schedules_table(listing.json), ""};
}

CommandResult run_schedules_run(const ApiClient& client, const std::string& name, const WaitOptions& wait, bool json) {
    if (!schedule_name_shape(name)) {
        return output::usage_error("schedules run: NAME is 1 to 100 letters, digits, '_', '.', ':' or '-'");
    }
    const auto started = client.post("/ops/schedules/" + name + "/run", nlohmann::json::object());
    if (started.error) return output::failure(*started.error);
    const auto job_id = started.json.value("job_id", "");
    if (!output::job_id_shape(job_id)) return output::failure("unexpected answer: " + started.body);
    if (!wait.wait) {
        return CommandResult{kExitOk,
                             json ? output::pretty(started.json) : "schedule " + name + ": job " + job_id + "\n", ""};
    }
    const auto job = wait_for_job(client, job_id, wait);
    if (job.error) return output::failure(*job.error);
    const auto status = job.job.value("status", "");
    CommandResult result{
        kExitOk, json ? output::pretty(job.job) : "schedule " + name + ": job " + job_id + " " + status + "\n", ""};
    if (status != "succeeded") {
        result.exit_code = kExitFailure;
        result.err = "levqorctl: schedule " + name + ": job " + job_id + " is " + status + ": " +
                     schedule_cell(job.job, "last_error") + "\n";
    }
    return result;
}

}  // namespace levqor::controld::ctl
