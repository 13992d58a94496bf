// SPDX-License-Identifier: Apache-2.0
#include "levqor/metrics.h"

#include <gtest/gtest.h>

#include <memory_resource>
#include <vector>

namespace levqor::metrics {
namespace {

TEST(Metrics, CounterSeriesGetStableCells) {
    Layout l;
    const auto a = l.counter("levqor_x_total", "X.", {{"k", "a"}});
    const auto b = l.counter("levqor_x_total", "X.", {{"k", "b"}});
    EXPECT_NE(a, b);
    EXPECT_EQ(l.counter("levqor_x_total", "X.", {{"k", "a"}}), a);
    EXPECT_EQ(l.cells(), 2u);
}

TEST(Metrics, RendersCountersExactly) {
    Layout l;
    l.counter("levqor_x_total", "Things \\ counted\nhere.", {{"k", "a\"b\\c\nd"}});
    l.counter("levqor_y_total", "Y.");
    std::string out;
    l.render(out, [](std::size_t cell) { return cell == 0 ? 7u : 3u; });
    EXPECT_EQ(out,
              "# HELP levqor_x_total Things \\\\ counted\\nhere.\n"
              "# TYPE levqor_x_total counter\n"
              "levqor_x_total{k=\"a\\\"b\\\\c\\nd\"} 7\n"
              "# HELP levqor_y_total Y.\n"
              "# TYPE levqor_y_total counter\n"
              "levqor_y_total 3\n");
}

TEST(Metrics, RendersCumulativeHistogram) {
    Layout l;
    const auto first = l.histogram("levqor_d_seconds", "D.", {{"class", "2xx"}}, {5000, 250000, 1000000});
    EXPECT_EQ(l.cells(), 5u);
    // per-bucket counts 1,2,0, overflow 4, sum 12.5 s
    const std::vector<std::uint64_t> cells{1, 2, 0, 4, 12500000};
    std::string out;
    l.render(out, [&](std::size_t c) { return cells[c - first]; });
    EXPECT_EQ(out,
              "# HELP levqor_d_seconds D.\n"
              "# TYPE levqor_d_seconds histogram\n"
              "levqor_d_seconds_bucket{class=\"2xx\",le=\"0.005\"} 1\n"
              "levqor_d_seconds_bucket{class=\"2xx\",le=\"0.25\"} 3\n"
              "levqor_d_seconds_bucket{class=\"2xx\",le=\"1\"} 3\n"
              "levqor_d_seconds_bucket{class=\"2xx\",le=\"+Inf\"} 7\n"
              "levqor_d_seconds_sum{class=\"2xx\"} 12.5\n"
              "levqor_d_seconds_count{class=\"2xx\"} 7\n");
}

TEST(Metrics, BucketIndex) {
    const std::uint64_t b[] = {10, 20, 30};
    EXPECT_EQ(bucket_index(b, 3, 0), 0u);
    EXPECT_EQ(bucket_index(b, 3, 10), 0u);  // le is inclusive
    EXPECT_EQ(bucket_index(b, 3, 11), 1u);
    EXPECT_EQ(bucket_index(b, 3, 31), 3u);
}

TEST(Metrics, SignatureTracksLayout) {
    Layout a, b;
    a.counter("levqor_x_total", "X.", {{"k", "a"}});
    b.counter("levqor_x_total", "X.", {{"k", "a"}});
    EXPECT_EQ(a.signature(), b.signature());
    b.counter("levqor_x_total", "X.", {{"k", "b"}});
    EXPECT_NE(a.signature(), b.signature());
}

// Counts what a Layout takes from its resource.
class CountingResource final : public std::pmr::memory_resource {
public:
    std::size_t bytes = 0;

private:
    void* do_allocate(std::size_t n, std::size_t align) override {
        bytes += n;
        return std::pmr::new_delete_resource()->allocate(n, align);
    }
    void do_deallocate(void* p, std::size_t n, std::size_t align) override {
        std::pmr::new_delete_resource()->deallocate(p, n, align);
    }
    bool do_is_equal(const std::pmr::memory_resource& o) const noexcept override { return this == &o; }
};

TEST(Metrics, StorageComesFromTheGivenResource) {
    CountingResource counting;
    Layout in(&counting), plain;
    for (Layout* l : {&in, &plain}) {
        l->counter("levqor_a_long_family_name_total", "A help text longer than any short string.",
                   {{"zone_name_label", "a zone name longer than sixteen"}});
        l->histogram("levqor_d_seconds", "D.", {{"class", "2xx"}}, {5000, 250000});
    }
    // Names, help texts, labels, bounds and the series all came from it.
    EXPECT_GE(counting.bytes, 2 * 30u + 40 + 2 * 8);
    std::string a, b;
    in.render(a, [](std::size_t c) { return c; });
    plain.render(b, [](std::size_t c) { return c; });
    EXPECT_EQ(a, b);
    EXPECT_EQ(in.signature(), plain.signature());
    EXPECT_EQ(in.counter("levqor_a_long_family_name_total", "A help text longer than any short string.",
                         {{"zone_name_label", "a zone name longer than sixteen"}}),
              0u);
}

TEST(Metrics, FamilyTypeConflictIsALogicError) {
    Layout l;
    l.counter("levqor_x", "X.");
    EXPECT_THROW(l.histogram("levqor_x", "X.", {}, {1}), std::logic_error);
}

TEST(Metrics, FormatSeconds) {
    EXPECT_EQ(format_seconds(0), "0");
    EXPECT_EQ(format_seconds(1), "0.000001");
    EXPECT_EQ(format_seconds(2500000), "2.5");
    EXPECT_EQ(format_seconds(100000), "0.1");
}

}  // namespace
}  // namespace levqor::metrics
