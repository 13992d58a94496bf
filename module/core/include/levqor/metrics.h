// SPDX-License-Identifier: Apache-2.0
// Prometheus metrics layout and text exposition (format 0.0.4).
//
// At configuration time each feature registers its series in a Layout and
// keeps the returned cell index; at run time nginx workers add to cells in
// shared memory (see module/ngx/metrics_zone.*), and the status handler renders
// the summed cells through render(). A Layout is built single-threaded and is
// read-only afterwards (safe to share between threads/processes once frozen).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace levqor::metrics {

struct Label {
    std::string name;
    std::string value;
    bool operator==(const Label& o) const { return name == o.name && value == o.value; }
};
using Labels = std::vector<Label>;

enum class Kind : std::uint8_t { Counter, Histogram };

class Layout {
public:
    // Registers a counter series and returns its cell. The same family and
    // labels registered again return the same cell.
    std::size_t counter(std::string_view family, std::string_view help, const Labels& labels = {});

    // Registers a histogram series over bounds (microseconds, ascending) and
    // returns its first cell: cells [first, first+bounds.size()] count values
    // per bucket (the last one: above every bound), cell first+bounds.size()+1
    // holds the sum of values in microseconds.
    std::size_t histogram(std::string_view family, std::string_view help, const Labels& labels,
                          const std::vector<std::uint64_t>& bounds_us);

    std::size_t cells() const { return cells_; }
    // Changes whenever the set of series or their cells change.
    std::uint64_t signature() const;

    using Reader = std::function<std::uint64_t(std::size_t cell)>;
    void render(std::string& out, const Reader& read) const;

private:
    struct Series {
        Labels labels;
        std::size_t cell;
    };
    struct Family {
        std::string name;
        std::string help;
        Kind kind;
        std::vector<std::uint64_t> bounds;
        std::vector<Series> series;
    };
    Family& family(std::string_view name, std::string_view help, Kind kind, const std::vector<std::uint64_t>& bounds);

    std::vector<Family> families_;
    std::size_t cells_ = 0;
};

// The histogram bucket a value falls in (bounds.size() = overflow).
inline std::size_t bucket_index(const std::uint64_t* bounds, std::size_t n, std::uint64_t v) {
    std::size_t i = 0;
    while (i < n && v > bounds[i]) ++i;
    return i;
}

// Exposition building blocks, shared with collectors that compute values at
// render time (zone fill, keys tracked, ...); they write through the
// escaping and number formatting of prometheus_text.h.
void write_family_header(std::string& out, std::string_view name, std::string_view help, std::string_view type);
void write_sample(std::string& out, std::string_view name, const Labels& labels, std::uint64_t value);
void write_sample(std::string& out, std::string_view name, const Labels& labels, double value);
// Microseconds as seconds, shortest exact decimal ("0.005", "1", "2.5").
std::string format_seconds(std::uint64_t us);

}  // namespace levqor::metrics
