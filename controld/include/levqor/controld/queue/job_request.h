// SPDX-License-Identifier: Apache-2.0
// POST /jobs bodies: one job or a batch, parsed and validated against the
// registered job types and the limits, all or nothing, before anything is
// stored. A pure function, thread-safe; fuzzed.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "levqor/controld/queue/executor.h"
#include "levqor/controld/queue/job.h"

namespace levqor::controld::queue {

// A POST /jobs body, checked: one job {"type":...,"payload":{...}} or a
// batch {"jobs":[...]}.
struct JobRequest {
    std::vector<NewJob> jobs;  // ids assigned
    bool batch = false;
    // Identifies the request's content (types and payloads): an
    // Idempotency-Key reused with a different body is refused.
    std::string fingerprint;
};

struct JobLimits {
    std::size_t max_payload_bytes = 64 * 1024;
    std::size_t max_batch = 1000;
    // The body as JSON text. The HTTP front refuses bodies over
    // http.max_body_bytes (at most 64 MiB) before this; nesting is capped at
    // kMaxJsonDepth (core/json.h) whatever the size.
    std::size_t max_request_bytes = 64 * 1024 * 1024;
};

// Parses and validates everything before anything is stored: the whole
// request is accepted or none of it. Throws InvalidJob (invalid_json,
// invalid_job, unknown_job_type, payload_too_large, too_many_jobs, and the
// executors' own codes), naming the job (jobs[3]) and the field. A body
// nested deeper than 64 levels is invalid_json, refused before it is parsed.
JobRequest parse_job_request(std::string_view body, const ExecutorRegistry& executors, const JobLimits& limits,
                             UnixMs now);

}  // namespace levqor::controld::queue
