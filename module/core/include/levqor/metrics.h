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
#include <memory_resource>
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
    // Everything the layout stores (names, help texts, labels, series) comes
    // from `mr`: nginx passes its configuration pool, so the module's
    // metrics live with the rest of the configuration instead of as dozens of
    // small heap blocks (docs/benchmarks.md, "The module's fixed cost").
    explicit Layout(std::pmr::memory_resource* mr = std::pmr::get_default_resource());

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
    struct StoredLabel {
        std::pmr::string name;
        std::pmr::string value;
    };
    using StoredLabels = std::pmr::vector<StoredLabel>;
    struct Series {
        StoredLabels labels;
        std::size_t cell;
    };
    struct Family {
        std::pmr::string name;
        std::pmr::string help;
        Kind kind;
        std::pmr::vector<std::uint64_t> bounds;
        std::pmr::vector<Series> series;
    };
    Family& family(std::string_view name, std::string_view help, Kind kind, const std::vector<std::uint64_t>& bounds);
    std::size_t add_series(Family& f, const Labels& labels, std::size_t cells);

    std::pmr::memory_resource* mr_;
    std::pmr::vector<Family> families_;
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
