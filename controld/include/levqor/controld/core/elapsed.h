// SPDX-License-Identifier: Apache-2.0
#pragma once
// Seconds elapsed on the monotonic clock, for timings reported in seconds
// (backup steps, a backup's RTO).

#include <chrono>

namespace levqor::controld {

inline double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace levqor::controld
