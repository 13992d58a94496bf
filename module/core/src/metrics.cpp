// SPDX-License-Identifier: Apache-2.0
#include "levqor/metrics.h"

#include "levqor/prometheus_text.h"

#include <algorithm>
#include <stdexcept>

namespace levqor::metrics {
namespace {

constexpr std::uint64_t kFnvOffset = 0xcbf29ce484222325ULL;
constexpr std::uint64_t kFnvPrime = 0x100000001b3ULL;

std::uint64_t mix(std::uint64_t h, std::string_view s) {
    for (const char c : s) {
        h ^= static_cast<unsigned char>(c);
        h *= kFnvPrime;
    }
    h ^= 0xff;  // separator, so ("ab","c") != ("a","bc")
    return h * kFnvPrime;
}

std::uint64_t mix(std::uint64_t h, std::uint64_t v) {
    for (int i = 0; i < 8; ++i) {
        h ^= (v >> (i * 8)) & 0xff;
        h *= kFnvPrime;
    }
    return h;
}

template <class LabelList, class Value>
void append_sample(std::string& out, std::string_view name, const LabelList& labels, Value value) {
    out.append(name);
    prometheus::append_labels(out, labels);
    out.push_back(' ');
    prometheus::append_value(out, value);
    out.push_back('\n');
}

template <class A, class B>
bool same_labels(const A& a, const B& b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](const auto& x, const auto& y) {
        return std::string_view(x.name) == y.name && std::string_view(x.value) == y.value;
    });
}

}  // namespace

Layout::Layout(std::pmr::memory_resource* mr) : mr_(mr), families_(mr) {}

Layout::Family& Layout::family(std::string_view name, std::string_view help, Kind kind,
                               const std::vector<std::uint64_t>& bounds) {
    for (auto& f : families_) {
        if (f.name != name) continue;
        if (f.kind != kind || !std::equal(f.bounds.begin(), f.bounds.end(), bounds.begin(), bounds.end())) {
            throw std::logic_error("metric family " + std::string(name) + " registered twice with different types");
        }
        return f;
    }
    // Each member is made with mr_ and moved in (a moved pmr container keeps its resource).
    families_.push_back(Family{std::pmr::string(name, mr_), std::pmr::string(help, mr_), kind,
                               std::pmr::vector<std::uint64_t>(bounds.begin(), bounds.end(), mr_),
                               std::pmr::vector<Series>(mr_)});
    return families_.back();
}

// The cell of the series with these labels, registered with `cells` cells if new.
std::size_t Layout::add_series(Family& f, const Labels& labels, std::size_t cells) {
    for (const auto& s : f.series) {
        if (same_labels(s.labels, labels)) return s.cell;
    }
    StoredLabels stored(mr_);
    stored.reserve(labels.size());
    for (const auto& l : labels)
        stored.push_back(StoredLabel{std::pmr::string(l.name, mr_), std::pmr::string(l.value, mr_)});
    f.series.push_back(Series{std::move(stored), cells_});
    const std::size_t first = cells_;
    cells_ += cells;
    return first;
}

std::size_t Layout::counter(std::string_view name, std::string_view help, const Labels& labels) {
    return add_series(family(name, help, Kind::Counter, {}), labels, 1);
}

std::size_t Layout::histogram(std::string_view name, std::string_view help, const Labels& labels,
                              const std::vector<std::uint64_t>& bounds_us) {
    return add_series(family(name, help, Kind::Histogram, bounds_us), labels, bounds_us.size() + 2);
}

std::uint64_t Layout::signature() const {
    std::uint64_t h = kFnvOffset;
    for (const auto& f : families_) {
        h = mix(h, f.name);
        h = mix(h, static_cast<std::uint64_t>(f.kind));
        for (const auto b : f.bounds) h = mix(h, b);
        for (const auto& s : f.series) {
            for (const auto& l : s.labels) {
                h = mix(h, l.name);
                h = mix(h, l.value);
            }
            h = mix(h, static_cast<std::uint64_t>(s.cell));
        }
    }
    return mix(h, static_cast<std::uint64_t>(cells_));
}

void Layout::render(std::string& out, const Reader& read) const {
    for (const auto& f : families_) {
        if (f.kind == Kind::Counter) {
            write_family_header(out, f.name, f.help, "counter");
            for (const auto& s : f.series) append_sample(out, f.name, s.labels, read(s.cell));
            continue;
        }
        write_family_header(out, f.name, f.help, "histogram");
        const std::string bucket = std::string(f.name) + "_bucket";
        for (const auto& s : f.series) {
            std::uint64_t cumulative = 0;
            for (std::size_t i = 0; i <= f.bounds.size(); ++i) {
                cumulative += read(s.cell + i);
                out.append(bucket);
                prometheus::append_labels(out, s.labels, i < f.bounds.size() ? format_seconds(f.bounds[i]) : "+Inf");
                out.push_back(' ');
                prometheus::append_value(out, cumulative);
                out.push_back('\n');
            }
            const std::uint64_t sum_us = read(s.cell + f.bounds.size() + 1);
            out.append(f.name).append("_sum");
            prometheus::append_labels(out, s.labels);
            out.push_back(' ');
            out.append(format_seconds(sum_us));
            out.push_back('\n');
            append_sample(out, std::string(f.name) + "_count", s.labels, cumulative);
        }
    }
}

void write_family_header(std::string& out, std::string_view name, std::string_view help, std::string_view type) {
    prometheus::append_family_header(out, name, help, type);
}

void write_sample(std::string& out, std::string_view name, const Labels& labels, std::uint64_t value) {
    append_sample(out, name, labels, value);
}

void write_sample(std::string& out, std::string_view name, const Labels& labels, double value) {
    append_sample(out, name, labels, value);
}

std::string format_seconds(std::uint64_t us) { return prometheus::format_fixed_point(us, 6); }

}  // namespace levqor::metrics
