// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/queue/quota.h"

namespace levqor::controld::queue {

Quota::Quota(std::int64_t max_depth, std::int64_t max_bytes) : max_{max_depth, max_bytes} {}

void Quota::set_limits(std::int64_t max_depth, std::int64_t max_bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    max_ = {max_depth, max_bytes};
}

Quota::Verdict Quota::admit(std::int64_t jobs, std::int64_t bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (counted_.depth + since_.depth + jobs > max_.depth) return Verdict::depth;
    if (counted_.bytes + since_.bytes + bytes > max_.bytes) return Verdict::bytes;
    since_.depth += jobs;
    since_.bytes += bytes;
    return Verdict::admitted;
}

void Quota::cancel(std::int64_t jobs, std::int64_t bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    since_.depth -= jobs;
    since_.bytes -= bytes;
}

Quota::Usage Quota::mark() {
    std::lock_guard<std::mutex> lock(mutex_);
    return since_;
}

void Quota::refresh(Usage counted, Usage mark) {
    std::lock_guard<std::mutex> lock(mutex_);
    counted_ = counted;
    // What was admitted before the mark is in `counted` now; what came after
    // may or may not be (counted twice at worst, until the next refresh).
    since_.depth -= mark.depth;
    since_.bytes -= mark.bytes;
}

Quota::Usage Quota::usage() {
    std::lock_guard<std::mutex> lock(mutex_);
    return {counted_.depth + since_.depth, counted_.bytes + since_.bytes};
}

Quota::Usage Quota::limits() {
    std::lock_guard<std::mutex> lock(mutex_);
    return max_;
}

}  // namespace levqor::controld::queue
