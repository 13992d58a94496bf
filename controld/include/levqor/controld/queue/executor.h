// SPDX-License-Identifier: Apache-2.0
// Job types: the Executor interface (validate() in POST /jobs, run() on worker
// threads), the registry of types, and the built-in noop, http and exec
// executors. Executors must be thread-safe; the registry is read-only once
// built.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "levqor/controld/queue/job.h"
#include "levqor/controld/queue/settings.h"

namespace levqor::controld::queue {

// A job POST /jobs cannot accept. code is the API error code
// (invalid_job, unknown_job_type, payload_too_large, url_not_allowed,
// unknown_command, ...); what() is the message, naming the field.
class InvalidJob : public std::invalid_argument {
public:
    InvalidJob(std::string code, const std::string& message) : std::invalid_argument(message), code_(std::move(code)) {}
    const std::string& code() const { return code_; }

private:
    std::string code_;
};

// What one attempt of a job came to.
struct ExecutionResult {
    enum class Kind { succeeded, retryable, permanent };
    Kind kind = Kind::succeeded;
    std::string error;              // why it failed
    nlohmann::ordered_json result;  // null or what the executor reports (status, output)
};

// Runs one job type. validate() runs in POST /jobs (on the parsed payload);
// run() on a worker thread, many concurrently, so implementations must be
// thread-safe (the built-in ones hold only immutable settings).
class Executor {
public:
    virtual ~Executor() = default;
    // Throws InvalidJob.
    virtual void validate(const nlohmann::json& payload) const = 0;
    // Runs the jobs (of this type, at most concurrency() of them) and answers
    // one result per job, in order. The default runs them one after the
    // other; http runs them concurrently.
    virtual std::vector<ExecutionResult> run(const std::vector<const Delivery*>& jobs) const;
    virtual ExecutionResult run_one(const Delivery& job) const = 0;
    // The longest one job may take (its timeout); zero for jobs that finish
    // at once (noop). Workers use it not to start what cannot finish before
    // the visibility timeout.
    virtual std::chrono::milliseconds max_duration(const Delivery& job) const = 0;
    // How many jobs of this type a worker hands to one run() at most: 1 runs
    // them one after the other (exec), http runs 16 concurrently. Jobs that
    // finish at once (max_duration zero: noop) go as one group whatever this
    // says.
    virtual std::size_t concurrency() const { return 1; }
};

// Job types and their executors. Built before the workers start, then
// shared read-only: thread-safe once built. The queue builds a new one when
// the configuration changes (SIGHUP) and swaps it whole.
class ExecutorRegistry {
public:
    void add(const std::string& type, std::shared_ptr<const Executor> executor);
    const Executor* find(const std::string& type) const;
    std::vector<std::string> types() const;

private:
    std::map<std::string, std::shared_ptr<const Executor>> executors_;
};

// noop: succeeds at once; any payload object.
std::shared_ptr<const Executor> make_noop_executor();

// http: POSTs payload.body (a string as is, anything else as JSON) to
// payload.url with payload.headers and the X-Levqor-Job-Id and
// Idempotency-Key headers (the job id, the same for every attempt), within
// payload.timeout_ms (default: queue.http_timeout_ms). 2xx succeeds; 4xx
// other than 408 and 429 fails for good; anything else is retried. Only URLs
// under one of the allow-list prefixes are accepted, both normalised and
// compared on path-segment boundaries (core/job_url.h); the normalised URL
// is the one called.
std::shared_ptr<const Executor> make_http_executor(std::vector<std::string> allow,
                                                   std::chrono::milliseconds default_timeout,
                                                   std::chrono::milliseconds max_timeout);

// exec: runs a command declared in queue.exec by name, with the job's
// "args" appended when the command allows it. Exit 0 succeeds; any other
// exit, a signal or the timeout is retried; a program that cannot be
// started fails for good.
std::shared_ptr<const Executor> make_exec_executor(std::map<std::string, ExecCommand> commands);

}  // namespace levqor::controld::queue
