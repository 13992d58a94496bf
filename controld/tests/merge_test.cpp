// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/metrics/merge.h"

#include <gtest/gtest.h>

#include "levqor/controld/metrics/text_parser.h"

namespace levqor::controld::metrics {
namespace {

std::string merged_text(ExpositionMerger& merger) {
    std::string out;
    render(merger.families(), out);
    return out;
}

TEST(Merge, AddsInstanceLabelAndKeepsHelpAndTypeOnce) {
    ExpositionMerger merger;
    merger.add_local(parse_exposition("# HELP own_total mine\n# TYPE own_total counter\nown_total 1\n"));
    const std::string module =
        "# HELP levqor_x_total X.\n# TYPE levqor_x_total counter\n"
        "levqor_x_total{zone=\"a\"} 1\n"
        "# HELP levqor_g G.\n# TYPE levqor_g gauge\nlevqor_g 0.5\n";
    merger.add_instance("edge-1", parse_exposition(module));
    merger.add_instance("edge-2", parse_exposition(module));
    EXPECT_EQ(merged_text(merger),
              "# HELP own_total mine\n# TYPE own_total counter\nown_total 1\n"
              "# HELP levqor_x_total X.\n# TYPE levqor_x_total counter\n"
              "levqor_x_total{instance=\"edge-1\",zone=\"a\"} 1\n"
              "levqor_x_total{instance=\"edge-2\",zone=\"a\"} 1\n"
              "# HELP levqor_g G.\n# TYPE levqor_g gauge\n"
              "levqor_g{instance=\"edge-1\"} 0.5\n"
              "levqor_g{instance=\"edge-2\"} 0.5\n");
    EXPECT_EQ(merger.conflicts(), 0u);
}

TEST(Merge, HistogramsStayGroupedPerFamily) {
    const std::string hist =
        "# HELP h_seconds H.\n# TYPE h_seconds histogram\n"
        "h_seconds_bucket{le=\"0.1\"} 1\nh_seconds_bucket{le=\"+Inf\"} 2\n"
        "h_seconds_sum 0.3\nh_seconds_count 2\n";
    ExpositionMerger merger;
    merger.add_instance("a", parse_exposition(hist));
    merger.add_instance("b", parse_exposition(hist));
    const auto& families = merger.families();
    ASSERT_EQ(families.size(), 1u);
    EXPECT_EQ(families[0].type, MetricType::histogram);
    ASSERT_EQ(families[0].samples.size(), 8u);
    EXPECT_EQ(families[0].samples[4].name, "h_seconds_bucket");
    EXPECT_EQ(families[0].samples[4].labels, (Labels{{"instance", "b"}, {"le", "0.1"}}));
}

TEST(Merge, ExistingInstanceLabelIsRenamed) {
    ExpositionMerger merger;
    merger.add_instance("edge", parse_exposition("m{instance=\"inner\",k=\"v\"} 1\n"));
    EXPECT_EQ(merger.families()[0].samples[0].labels,
              (Labels{{"instance", "edge"}, {"exported_instance", "inner"}, {"k", "v"}}));
}

TEST(Merge, TypeConflictsAreLeftOutAndCounted) {
    ExpositionMerger merger;
    merger.add_instance("a", parse_exposition("# TYPE m counter\nm 1\n"));
    merger.add_instance("b", parse_exposition("# TYPE m gauge\nm 2\n# TYPE n gauge\nn 3\n"));
    EXPECT_EQ(merger.conflicts(), 1u);
    ASSERT_EQ(merger.families().size(), 2u);
    EXPECT_EQ(merger.families()[0].samples.size(), 1u);
    EXPECT_EQ(merger.families()[1].name, "n");
}

TEST(Merge, LocalAndModuleShareAFamilyOfTheSameType) {
    ExpositionMerger merger;
    merger.add_local(
        parse_exposition("# HELP levqor_errors_total controld's.\n# TYPE levqor_errors_total counter\n"
                         "levqor_errors_total{component=\"api\"} 1\n"));
    merger.add_instance("edge",
                        parse_exposition("# HELP levqor_errors_total module's.\n# TYPE levqor_errors_total counter\n"
                                         "levqor_errors_total{component=\"limit\"} 2\n"));
    ASSERT_EQ(merger.families().size(), 1u);
    EXPECT_EQ(merger.families()[0].help, "controld's.");
    EXPECT_EQ(merger.families()[0].samples.size(), 2u);
}

}  // namespace
}  // namespace levqor::controld::metrics
