// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/queue/retry_policy.h"

#include <cmath>

namespace levqor::controld::queue {

RetryPolicy::RetryPolicy(Delays delays, double jitter) : delays_(std::move(delays)), jitter_(jitter) {
    delays_.emplace("default", std::vector<std::chrono::milliseconds>{});
}

const std::vector<std::chrono::milliseconds>& RetryPolicy::delays_for(const std::string& type) const {
    auto found = delays_.find(type);
    return found != delays_.end() ? found->second : delays_.at("default");
}

int RetryPolicy::max_attempts(const std::string& type) const { return 1 + static_cast<int>(delays_for(type).size()); }

std::optional<std::chrono::milliseconds> RetryPolicy::delay_after(const std::string& type, int attempt,
                                                                  double unit) const {
    const auto& delays = delays_for(type);
    if (attempt < 1 || static_cast<std::size_t>(attempt) > delays.size()) return std::nullopt;
    const double base = static_cast<double>(delays[static_cast<std::size_t>(attempt - 1)].count());
    const double factor = 1.0 + jitter_ * (2.0 * unit - 1.0);
    return std::chrono::milliseconds(static_cast<std::int64_t>(std::llround(base * factor)));
}

}  // namespace levqor::controld::queue
