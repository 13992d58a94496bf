// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/metrics/registry.h"

#include <algorithm>
#include <type_traits>

namespace levqor::controld::metrics {
namespace {

void atomic_add(std::atomic<double>& target, double by) {
    double current = target.load(std::memory_order_relaxed);
    while (!target.compare_exchange_weak(current, current + by, std::memory_order_relaxed)) {}
}

Sample sample(std::string name, Labels labels, double value) {
    return Sample{std::move(name), std::move(labels), format_value(value), {}};
}

}  // namespace

void Counter::inc(double by) {
    if (by > 0) atomic_add(value_, by);
}

void Gauge::add(double by) { atomic_add(value_, by); }

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(new std::atomic<std::uint64_t>[bounds_.size() + 1]) {
    for (std::size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0);
}

void Histogram::observe(double value) {
    const auto bucket =
        static_cast<std::size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin());
    counts_[bucket].fetch_add(1, std::memory_order_relaxed);
    atomic_add(sum_, value);
}

Histogram::Snapshot Histogram::snapshot() const {
    Snapshot out{bounds_, {}, sum_.load(std::memory_order_relaxed)};
    std::uint64_t running = 0;
    for (std::size_t i = 0; i <= bounds_.size(); ++i) {
        running += counts_[i].load(std::memory_order_relaxed);
        out.cumulative.push_back(running);
    }
    return out;
}

FamilyBase::FamilyBase(std::string name, std::string help, MetricType type, std::vector<std::string> label_names)
    : name_(std::move(name)), help_(std::move(help)), type_(type), label_names_(std::move(label_names)) {}

Labels FamilyBase::labels_for(const std::vector<std::string>& values) const {
    Labels out;
    out.reserve(values.size());
    for (std::size_t i = 0; i < values.size(); ++i) out.push_back(Label{label_names_[i], values[i]});
    return out;
}

template <typename Metric>
Metric& Family<Metric>::labels(const std::vector<std::string>& values) {
    if (values.size() != label_names_.size()) {
        throw std::logic_error("metric " + name_ + " takes " + std::to_string(label_names_.size()) +
                               " label values, got " + std::to_string(values.size()));
    }
    std::lock_guard<std::mutex> lock(mutex_);
    auto& slot = series_[values];
    if (!slot) {
        if constexpr (std::is_same_v<Metric, Histogram>) {
            slot = std::make_unique<Histogram>(bounds_);
        } else {
            slot = std::make_unique<Metric>();
        }
    }
    return *slot;
}

template <typename Metric>
void Family<Metric>::collect(std::vector<MetricFamily>& out) const {
    std::lock_guard<std::mutex> lock(mutex_);
    if (series_.empty()) return;
    MetricFamily family{name_, help_, type_, {}};
    for (const auto& [values, metric] : series_) {
        if constexpr (std::is_same_v<Metric, Histogram>) {
            const auto snap = metric->snapshot();
            for (std::size_t i = 0; i < snap.cumulative.size(); ++i) {
                auto labels = labels_for(values);
                labels.push_back(Label{"le", i < snap.bounds.size() ? format_value(snap.bounds[i]) : "+Inf"});
                family.samples.push_back(
                    sample(name_ + "_bucket", std::move(labels), static_cast<double>(snap.cumulative[i])));
            }
            family.samples.push_back(sample(name_ + "_sum", labels_for(values), snap.sum));
            family.samples.push_back(
                sample(name_ + "_count", labels_for(values), static_cast<double>(snap.cumulative.back())));
        } else {
            family.samples.push_back(sample(name_, labels_for(values), metric->value()));
        }
    }
    out.push_back(std::move(family));
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

template <typename Metric>
Family<Metric>& Registry::family(const std::string& name, const std::string& help, MetricType type,
                                 const std::vector<std::string>& label_names, const std::vector<double>& bounds) {
    if (!valid_metric_name(name)) throw std::logic_error("invalid metric name " + name);
    for (const auto& label : label_names) {
        if (!valid_label_name(label) || label == "le" || label == "instance") {
            throw std::logic_error("invalid or reserved label name " + label + " on " + name);
        }
    }
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& existing : families_) {
        if (existing->name() != name) continue;
        auto& found = static_cast<Family<Metric>&>(*existing);
        if (existing->type() != type || existing->label_names() != label_names || found.bounds() != bounds) {
            throw std::logic_error("metric " + name + " registered twice with different types, labels or buckets");
        }
        return found;
    }
    families_.push_back(std::make_unique<Family<Metric>>(name, help, type, label_names, bounds));
    return static_cast<Family<Metric>&>(*families_.back());
}

Family<Counter>& Registry::counter(const std::string& name, const std::string& help,
                                   const std::vector<std::string>& label_names) {
    return family<Counter>(name, help, MetricType::counter, label_names);
}

Family<Gauge>& Registry::gauge(const std::string& name, const std::string& help,
                               const std::vector<std::string>& label_names) {
    return family<Gauge>(name, help, MetricType::gauge, label_names);
}

Family<Histogram>& Registry::histogram(const std::string& name, const std::string& help,
                                       const std::vector<std::string>& label_names, const std::vector<double>& bounds) {
    if (!std::is_sorted(bounds.begin(), bounds.end()) || bounds.empty()) {
        throw std::logic_error("histogram " + name + " needs ascending bounds");
    }
    return family<Histogram>(name, help, MetricType::histogram, label_names, bounds);
}

void Registry::add_collector(Collector collector) {
    std::lock_guard<std::mutex> lock(mutex_);
    collectors_.push_back(std::move(collector));
}

std::vector<MetricFamily> Registry::collect() const {
    std::vector<MetricFamily> out;
    std::vector<Collector> collectors;
    {
        // The collectors run unlocked: they may use the registry themselves.
        std::lock_guard<std::mutex> lock(mutex_);
        for (const auto& family : families_) family->collect(out);
        collectors = collectors_;
    }
    for (const auto& collector : collectors) collector(out);
    return out;
}

}  // namespace levqor::controld::metrics
