// SPDX-License-Identifier: Apache-2.0
// controld's own metrics: counters, gauges and histograms with labels in the
// manner of prometheus-cpp, and the Registry that components ask for their
// families once, at construction. Thread-safe: updates are lock-free atomics;
// registration and collect() take locks.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "levqor/controld/metrics/exposition.h"

namespace levqor::controld::metrics {

// controld's own metrics: counters, gauges and histograms with labels, in
// the manner of prometheus-cpp (docs/controld.md says why it is not used).
//
// A component asks the Registry for its families once, at construction,
// and keeps the handles: `family.labels({"api"})` returns a reference that
// stays valid as long as the Registry, so nothing on a hot path looks a
// series up twice. Asking again for a family with the same name, type and
// label names returns the same family, so components can share one (e.g.
// levqor_backend_errors_total); a different type or label set is a
// std::logic_error, a programming mistake.
//
// Values that only exist when scraped (instance states, the latency p95)
// come from collectors: functions called by collect() that append families.
//
// Thread-safety: everything may be called concurrently. Counter, Gauge and
// Histogram updates are lock-free atomics; labels() takes the family's mutex
// (call it once and keep the reference); collect() takes each family's mutex
// in turn and the collectors' mutex.

class Counter {
public:
    void inc(double by = 1);  // by must be >= 0
    double value() const { return value_.load(std::memory_order_relaxed); }

private:
    std::atomic<double> value_{0};
};

class Gauge {
public:
    void set(double value) { value_.store(value, std::memory_order_relaxed); }
    void add(double by);
    double value() const { return value_.load(std::memory_order_relaxed); }

private:
    std::atomic<double> value_{0};
};

class Histogram {
public:
    // bounds: the finite upper bounds, ascending; +Inf is implicit.
    explicit Histogram(std::vector<double> bounds);
    void observe(double value);

    struct Snapshot {
        std::vector<double> bounds;
        std::vector<std::uint64_t> cumulative;  // bounds.size() + 1 entries, the last is +Inf
        double sum = 0;
    };
    Snapshot snapshot() const;

private:
    const std::vector<double> bounds_;
    std::unique_ptr<std::atomic<std::uint64_t>[]> counts_;  // per bucket, not cumulative
    std::atomic<double> sum_{0};
};

class FamilyBase {
public:
    FamilyBase(std::string name, std::string help, MetricType type, std::vector<std::string> label_names);
    virtual ~FamilyBase() = default;
    const std::string& name() const { return name_; }
    MetricType type() const { return type_; }
    const std::vector<std::string>& label_names() const { return label_names_; }
    // Appends this family (nothing if it has no series yet).
    virtual void collect(std::vector<MetricFamily>& out) const = 0;

protected:
    Labels labels_for(const std::vector<std::string>& values) const;
    const std::string name_;
    const std::string help_;
    const MetricType type_;
    const std::vector<std::string> label_names_;
};

template <typename Metric>
class Family : public FamilyBase {
public:
    Family(std::string name, std::string help, MetricType type, std::vector<std::string> label_names,
           std::vector<double> bounds = {})
        : FamilyBase(std::move(name), std::move(help), type, std::move(label_names)), bounds_(std::move(bounds)) {}
    // The series for these label values (one per label name, in order),
    // created at zero on first use. Throws std::logic_error on a count mismatch.
    Metric& labels(const std::vector<std::string>& values);
    void collect(std::vector<MetricFamily>& out) const override;
    // Histograms only: the bounds every series of the family uses.
    const std::vector<double>& bounds() const { return bounds_; }

private:
    mutable std::mutex mutex_;
    std::map<std::vector<std::string>, std::unique_ptr<Metric>> series_;
    const std::vector<double> bounds_;
};

class Registry {
public:
    using Collector = std::function<void(std::vector<MetricFamily>& out)>;

    Family<Counter>& counter(const std::string& name, const std::string& help,
                             const std::vector<std::string>& label_names = {});
    Family<Gauge>& gauge(const std::string& name, const std::string& help,
                         const std::vector<std::string>& label_names = {});
    Family<Histogram>& histogram(const std::string& name, const std::string& help,
                                 const std::vector<std::string>& label_names, const std::vector<double>& bounds);
    void add_collector(Collector collector);

    // Every family in registration order, then what the collectors append.
    std::vector<MetricFamily> collect() const;

private:
    template <typename Metric>
    Family<Metric>& family(const std::string& name, const std::string& help, MetricType type,
                           const std::vector<std::string>& label_names, const std::vector<double>& bounds = {});

    mutable std::mutex mutex_;
    std::vector<std::unique_ptr<FamilyBase>> families_;
    std::vector<Collector> collectors_;
};

}  // namespace levqor::controld::metrics
