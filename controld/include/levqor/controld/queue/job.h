// SPDX-License-Identifier: Apache-2.0
// The job model (states, ids, deliveries, outcomes, records and their JSON
// form) shared by the backends, the workers and the routes. Plain values and
// pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace levqor::controld::queue {

// The job model shared by the backends, the workers and the routes
// (docs/api.md, "Jobs"). Plain values; no thread-safety concerns.

// queued: waiting for its first attempt; running: held by a worker;
// retrying: an attempt failed and the next one waits (or is due);
// succeeded, dead: final (dead jobs are the dead-letter queue).
enum class JobState { queued, running, retrying, succeeded, dead };
std::string_view to_string(JobState state);
std::optional<JobState> parse_job_state(std::string_view text);

// Unix time in milliseconds: what the backends store.
using UnixMs = std::int64_t;
UnixMs now_ms();
// "2024-05-01T12:00:00.123Z"
std::string rfc3339(UnixMs ms);

// 32 lower-case hex digits: 12 of the creation time in ms (so ids sort by
// age), then 20 random ones.
std::string new_job_id(UnixMs now);
bool is_job_id(std::string_view text);

// A job POST /jobs accepted, before it is stored.
struct NewJob {
    std::string id;
    std::string type;
    std::string payload;  // compact JSON
};

// One job handed to a worker. `token` identifies this delivery (a stream
// entry id on Redis, a lease token on SQLite): a completion whose token no
// longer matches (the job was delivered again meanwhile) changes nothing.
struct Delivery {
    std::string id;
    std::string type;
    std::string payload;
    int attempt = 1;       // 1 for the first attempt
    int redeliveries = 0;  // times the visibility timeout ran out on it
    std::string token;
};

// What became of one delivery.
struct Outcome {
    enum class Kind {
        succeeded,
        retry,     // failed; the next attempt at run_at
        dead,      // failed for good: the dead-letter queue
        released,  // not started (shutdown, or no time left): deliver again now
    };
    Kind kind = Kind::succeeded;
    std::string error;   // why it failed
    std::string result;  // JSON text: what the executor reported
    UnixMs run_at = 0;   // retry only
};

struct Completion {
    Delivery delivery;
    Outcome outcome;
};

// A stored job as GET /jobs/{id} shows it.
struct JobRecord {
    std::string id;
    std::string type;
    JobState state = JobState::queued;
    int attempts = 0;  // attempts finished
    UnixMs created_at = 0;
    UnixMs updated_at = 0;
    UnixMs run_at = 0;  // retrying: when the next attempt is due
    UnixMs finished_at = 0;
    std::string last_error;
    std::string result;    // JSON text or ""
    bool spooled = false;  // waiting in the local spool for Redis to return
};

// A payload or result read back from the backend (SQLite, Redis, the spool)
// goes through the bounded reader (core/json.h) like any input: the store
// can be written by others than this controld. Null when it is not
// acceptable JSON (the caller treats that as a broken record).
nlohmann::json parse_stored_json(std::string_view text);

// {"id","type","status","attempts","max_attempts","created_at","updated_at",
//  "next_attempt_at"?, "finished_at"?, "last_error"?, "result"?, "spooled"?}
nlohmann::ordered_json to_json(const JobRecord& job, int max_attempts);

}  // namespace levqor::controld::queue
