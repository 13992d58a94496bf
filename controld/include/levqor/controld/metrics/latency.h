// SPDX-License-Identifier: Apache-2.0
// What levqor_api_latency_p95_seconds is computed with: a PromQL-style
// histogram_quantile() over request-duration histograms, and LatencyWindow,
// which keeps scrape snapshots to answer for a recent window. LatencyWindow is
// thread-safe; the rest are pure functions.
#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "levqor/controld/metrics/exposition.h"

namespace levqor::controld::metrics {

// A cumulative histogram: (upper bound, observations <= bound), ascending,
// the last bound +Inf.
struct Bucket {
    double le;
    double count;
};
using Buckets = std::vector<Bucket>;

// The q-quantile (0 < q < 1) of a cumulative histogram, computed like
// PromQL's histogram_quantile(): find the bucket holding the rank q*total
// and interpolate linearly inside it (the first bucket starts at 0); a rank
// in the +Inf bucket answers the highest finite bound. NaN when the
// histogram holds no observations or has no +Inf bucket.
double histogram_quantile(double q, const Buckets& buckets);

// The buckets of histogram `family` summed over all its series (every
// status_class), or empty when the family is absent or not a histogram.
Buckets sum_histogram(const std::vector<MetricFamily>& families, std::string_view family);

// The p95 of the request durations the nginx instances recorded over a
// recent window (docs/metrics.md, "levqor_api_latency_p95_seconds").
//
// Every scrape hands in each instance's cumulative buckets. The window keeps
// those snapshots (at least a second apart) and answers from the difference
// between now and the newest snapshot at least `window` old -- or the oldest
// one it has, or zero for an instance it has never seen, while controld has
// not been running that long. Per instance, a count that went down (nginx
// restarted) or changed bounds counts from zero, as PromQL's increase() does.
// The differences are summed over instances, then histogram_quantile(0.95).
//
// Thread-safety: observe() and set_window() may be called concurrently.
class LatencyWindow {
public:
    using Clock = std::chrono::steady_clock;
    explicit LatencyWindow(std::chrono::seconds window) : window_(window) {}

    void set_window(std::chrono::seconds window);

    // Records this scrape and returns the p95 in seconds (NaN: no
    // requests in the window).
    double observe(Clock::time_point now, std::map<std::string, Buckets> per_instance);

    // Snapshots held (for tests).
    std::size_t snapshots() const;

private:
    struct Snapshot {
        Clock::time_point at;
        std::map<std::string, Buckets> per_instance;
    };

    mutable std::mutex mutex_;
    std::chrono::seconds window_;
    std::deque<Snapshot> snapshots_;
};

}  // namespace levqor::controld::metrics
