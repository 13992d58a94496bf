// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/metrics/latency.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace levqor::controld::metrics {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

const Label* find_label(const Labels& labels, std::string_view name) {
    for (const auto& label : labels) {
        if (label.name == name) return &label;
    }
    return nullptr;
}

bool same_bounds(const Buckets& a, const Buckets& b) {
    return a.size() == b.size() &&
           std::equal(a.begin(), a.end(), b.begin(), [](const Bucket& x, const Bucket& y) { return x.le == y.le; });
}

// now - before, bucket by bucket; `now` alone after a reset.
Buckets increase(const Buckets& now, const Buckets* before) {
    if (before == nullptr || !same_bounds(now, *before) || before->empty() || now.back().count < before->back().count) {
        return now;
    }
    Buckets out = now;
    for (std::size_t i = 0; i < out.size(); ++i) {
        out[i].count = std::max(0.0, now[i].count - (*before)[i].count);
    }
    return out;
}

void add_into(std::map<double, double>& total, const Buckets& buckets) {
    for (const auto& bucket : buckets) total[bucket.le] += bucket.count;
}

}  // namespace

double histogram_quantile(double q, const Buckets& buckets) {
    if (buckets.empty() || !std::isinf(buckets.back().le)) return kNaN;
    const double total = buckets.back().count;
    if (!(total > 0)) return kNaN;
    const double rank = q * total;
    std::size_t b = 0;
    while (b < buckets.size() && buckets[b].count < rank) ++b;
    if (b >= buckets.size() - 1) {
        // In the +Inf bucket: the highest finite bound is the best answer.
        return buckets.size() >= 2 ? buckets[buckets.size() - 2].le : kNaN;
    }
    const double start = b == 0 ? 0.0 : buckets[b - 1].le;
    const double below = b == 0 ? 0.0 : buckets[b - 1].count;
    const double end = buckets[b].le;
    const double in_bucket = buckets[b].count - below;
    if (b == 0 && end <= 0) return end;
    if (in_bucket <= 0) return end;
    return start + (end - start) * ((rank - below) / in_bucket);
}

Buckets sum_histogram(const std::vector<MetricFamily>& families, std::string_view family) {
    const std::string bucket_name = std::string(family) + "_bucket";
    std::map<double, double> total;
    for (const auto& f : families) {
        if (f.name != family || f.type != MetricType::histogram) continue;
        for (const auto& sample : f.samples) {
            if (sample.name != bucket_name) continue;
            const auto* le = find_label(sample.labels, "le");
            if (le == nullptr) continue;
            const auto bound = parse_value(le->value);
            const auto count = parse_value(sample.value);
            if (!bound || !count || std::isnan(*bound) || std::isnan(*count)) continue;
            total[*bound] += *count;
        }
    }
    Buckets out;
    out.reserve(total.size());
    for (const auto& [le, count] : total) out.push_back(Bucket{le, count});
    return out;
}

void LatencyWindow::set_window(std::chrono::seconds window) {
    std::lock_guard<std::mutex> lock(mutex_);
    window_ = window;
}

std::size_t LatencyWindow::snapshots() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return snapshots_.size();
}

double LatencyWindow::observe(Clock::time_point now, std::map<std::string, Buckets> per_instance) {
    std::lock_guard<std::mutex> lock(mutex_);
    // The baseline: the newest snapshot at least window_ old, else the oldest.
    const Snapshot* baseline = nullptr;
    for (const auto& snap : snapshots_) {
        if (snap.at > now - window_) break;
        baseline = &snap;
    }
    if (baseline == nullptr && !snapshots_.empty()) baseline = &snapshots_.front();

    std::map<double, double> total;
    for (const auto& [instance, buckets] : per_instance) {
        const Buckets* before = nullptr;
        if (baseline != nullptr) {
            auto it = baseline->per_instance.find(instance);
            if (it != baseline->per_instance.end()) before = &it->second;
        }
        add_into(total, increase(buckets, before));
    }
    Buckets summed;
    summed.reserve(total.size());
    for (const auto& [le, count] : total) summed.push_back(Bucket{le, count});
    const double p95_seconds = histogram_quantile(0.95, summed);

    // Snapshots at least a second apart bound the memory however often
    // /metrics is scraped; a skipped one would only ever have been a baseline.
    if (snapshots_.empty() || now - snapshots_.back().at >= std::chrono::seconds(1)) {
        snapshots_.push_back(Snapshot{now, std::move(per_instance)});
    }
    // Drop what can never be a baseline again: everything older than the
    // newest snapshot that is already at least window_ old.
    while (snapshots_.size() >= 2 && snapshots_[1].at <= now - window_) snapshots_.pop_front();
    return p95_seconds;
}

}  // namespace levqor::controld::metrics
