// SPDX-License-Identifier: Apache-2.0
#include "levqor/prometheus_text.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

namespace levqor::prometheus {
namespace {

struct Label {
    std::string name;
    std::string value;
};

TEST(PrometheusText, LabelValuesEscapeBackslashQuoteAndNewline) {
    std::string out;
    append_label_value(out, "a\\b\"c\nd\te");
    EXPECT_EQ(out, "a\\\\b\\\"c\\nd\te");
}

TEST(PrometheusText, HelpEscapesBackslashAndNewlineButNotQuotes) {
    std::string out;
    append_help(out, "say \"hi\"\\\n");
    EXPECT_EQ(out, "say \"hi\"\\\\\\n");
}

TEST(PrometheusText, FamilyHeader) {
    std::string out;
    append_family_header(out, "levqor_x_total", "Things.\nMore", "counter");
    EXPECT_EQ(out, "# HELP levqor_x_total Things.\\nMore\n# TYPE levqor_x_total counter\n");
}

TEST(PrometheusText, LabelSets) {
    std::string out;
    append_labels(out, std::vector<Label>{});
    EXPECT_EQ(out, "");
    append_labels(out, std::vector<Label>{{"a", "x"}, {"b", "q\""}});
    EXPECT_EQ(out, "{a=\"x\",b=\"q\\\"\"}");
}

TEST(PrometheusText, HistogramBucketsAddLeLast) {
    std::string out;
    append_labels(out, std::vector<Label>{{"zone", "api"}}, "0.5");
    EXPECT_EQ(out, "{zone=\"api\",le=\"0.5\"}");
    out.clear();
    append_labels(out, std::vector<Label>{}, "+Inf");
    EXPECT_EQ(out, "{le=\"+Inf\"}");
}

TEST(PrometheusText, IntegersInDecimal) {
    std::string out;
    append_value(out, std::uint64_t{0});
    out.push_back(' ');
    append_value(out, std::numeric_limits<std::uint64_t>::max());
    EXPECT_EQ(out, "0 18446744073709551615");
}

TEST(PrometheusText, DoublesAsTheShortestTextThatReadsBack) {
    EXPECT_EQ(format_value(0), "0");
    EXPECT_EQ(format_value(5), "5");
    EXPECT_EQ(format_value(0.1), "0.1");
    EXPECT_EQ(format_value(-2.5), "-2.5");
    EXPECT_EQ(format_value(1795855515.5905998), "1795855515.5905998");
    EXPECT_EQ(format_value(HUGE_VAL), "+Inf");
    EXPECT_EQ(format_value(-HUGE_VAL), "-Inf");
    EXPECT_EQ(format_value(std::nan("")), "NaN");
    for (const double v : {1.0 / 3, 1e-300, 6.02214076e23, 0.30000000000000004}) {
        EXPECT_EQ(std::stod(format_value(v)), v) << format_value(v);
    }
}

TEST(PrometheusText, FixedPointIsTheShortestExactDecimal) {
    EXPECT_EQ(format_fixed_point(0, 9), "0");
    EXPECT_EQ(format_fixed_point(1, 9), "0.000000001");
    EXPECT_EQ(format_fixed_point(12300000000, 9), "12.3");
    EXPECT_EQ(format_fixed_point(2000000000, 9), "2");
    EXPECT_EQ(format_fixed_point(1000000, 9), "0.001");
    EXPECT_EQ(format_fixed_point(123456789012345678, 9), "123456789.012345678");
    EXPECT_EQ(format_fixed_point(2500000, 6), "2.5");
    EXPECT_EQ(format_fixed_point(42, 0), "42");
    EXPECT_EQ(format_fixed_point(std::numeric_limits<std::uint64_t>::max(), 19), "1.8446744073709551615");
}

}  // namespace
}  // namespace levqor::prometheus
