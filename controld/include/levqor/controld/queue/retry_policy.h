// SPDX-License-Identifier: Apache-2.0
// RetryPolicy: when a failed job is tried again (per-type delays with jitter)
// and when it is dead instead. A plain value, safe to read from any thread.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace levqor::controld::queue {

// When a failed attempt is tried again: after the delays of its job type
// (queue.retry_delays_s, "default" for types not listed), each stretched or
// shrunk by up to +-jitter so that jobs that failed together do not all come
// back in the same millisecond. After the last delay is used up the job is
// dead. A plain value.
class RetryPolicy {
public:
    using Delays = std::map<std::string, std::vector<std::chrono::milliseconds>>;
    RetryPolicy(Delays delays, double jitter);

    // 1 + the number of delays for the type.
    int max_attempts(const std::string& type) const;

    // The wait after attempt `attempt` (1-based) failed, or nullopt when it was
    // the last. `unit` is a random number in [0, 1): 0 gives -jitter, 1 +jitter.
    std::optional<std::chrono::milliseconds> delay_after(const std::string& type, int attempt, double unit) const;

private:
    const std::vector<std::chrono::milliseconds>& delays_for(const std::string& type) const;

    Delays delays_;
    double jitter_;
};

}  // namespace levqor::controld::queue
