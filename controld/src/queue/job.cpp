// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/queue/job.h"

#include <chrono>
#include <ctime>
#include <random>

#include "levqor/controld/core/json.h"

namespace levqor::controld::queue {
namespace {

// Payloads are at most 16 MiB (queue.max_payload_bytes) when accepted; a
// result holds at most 2 x 16 MiB of command output, escaped.
constexpr std::size_t kMaxStoredJsonBytes = 256 * 1024 * 1024;

}  // namespace

nlohmann::json parse_stored_json(std::string_view text) {
    try {
        return parse_json(text, JsonLimits{kMaxStoredJsonBytes});
    } catch (const JsonError&) {
        return nullptr;
    }
}

std::string_view to_string(JobState state) {
    switch (state) {
        case JobState::queued:
            return "queued";
        case JobState::running:
            return "running";
        case JobState::retrying:
            return "retrying";
        case JobState::succeeded:
            return "succeeded";
        case JobState::dead:
            return "dead";
    }
    return "queued";
}

std::optional<JobState> parse_job_state(std::string_view text) {
    for (JobState s : {JobState::queued, JobState::running, JobState::retrying, JobState::succeeded, JobState::dead}) {
        if (to_string(s) == text) return s;
    }
    return std::nullopt;
}

UnixMs now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string rfc3339(UnixMs ms) {
    const std::time_t secs = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    ::gmtime_r(&secs, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    char out[40];
    std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>(ms % 1000));
    return out;
}

std::string new_job_id(UnixMs now) {
    static constexpr char kHex[] = "0123456789abcdef";
    thread_local std::mt19937_64 rng{std::random_device{}()};
    std::string id(32, '0');
    auto t = static_cast<std::uint64_t>(now);
    for (int i = 11; i >= 0; --i, t >>= 4) id[static_cast<std::size_t>(i)] = kHex[t & 0xf];
    std::uint64_t r1 = rng();
    std::uint64_t r2 = rng();
    for (std::size_t i = 12; i < 28; ++i, r1 >>= 4) id[i] = kHex[r1 & 0xf];
    for (std::size_t i = 28; i < 32; ++i, r2 >>= 4) id[i] = kHex[r2 & 0xf];
    return id;
}

bool is_job_id(std::string_view text) {
    if (text.size() != 32) return false;
    for (char c : text) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    }
    return true;
}

nlohmann::ordered_json to_json(const JobRecord& job, int max_attempts) {
    nlohmann::ordered_json out;
    out["id"] = job.id;
    out["type"] = job.type;
    out["status"] = to_string(job.state);
    out["attempts"] = job.attempts;
    out["max_attempts"] = max_attempts;
    out["created_at"] = rfc3339(job.created_at);
    out["updated_at"] = rfc3339(job.updated_at);
    if (job.state == JobState::retrying && job.run_at > 0) {
        out["next_attempt_at"] = rfc3339(job.run_at);
    }
    if (job.finished_at > 0) out["finished_at"] = rfc3339(job.finished_at);
    out["last_error"] = job.last_error.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(job.last_error);
    if (!job.result.empty()) {
        try {
            out["result"] = parse_ordered_json(job.result, JsonLimits{kMaxStoredJsonBytes});
        } catch (const JsonError&) {
            out["result"] = job.result;  // shown as the text it is
        }
    }
    if (job.spooled) out["spooled"] = true;
    return out;
}

}  // namespace levqor::controld::queue
