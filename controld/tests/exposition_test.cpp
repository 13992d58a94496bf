// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/metrics/exposition.h"

#include <gtest/gtest.h>

#include <cmath>

#include "levqor/controld/metrics/text_parser.h"

namespace levqor::controld::metrics {
namespace {

// The module's status output as of today, plus a histogram in the shape the
// lead's log-phase histogram will have.
constexpr const char* kModule =
    R"(# HELP levqor_headers_responses_total Responses decorated with security headers, by profile.
# TYPE levqor_headers_responses_total counter
levqor_headers_responses_total{profile="strict"} 1
levqor_headers_responses_total{profile="api"} 0
# HELP levqor_csp_nonces_total CSP nonces generated.
# TYPE levqor_csp_nonces_total counter
levqor_csp_nonces_total 1
# HELP levqor_ratelimit_zone_fill_ratio Share of the zone's buckets in use (0..1).
# TYPE levqor_ratelimit_zone_fill_ratio gauge
levqor_ratelimit_zone_fill_ratio{zone="api"} 4.9541738915035914e-05
# HELP levqor_request_duration_seconds Request durations by status class.
# TYPE levqor_request_duration_seconds histogram
levqor_request_duration_seconds_bucket{status_class="2xx",le="0.001"} 3
levqor_request_duration_seconds_bucket{status_class="2xx",le="0.005"} 7
levqor_request_duration_seconds_bucket{status_class="2xx",le="+Inf"} 9
levqor_request_duration_seconds_sum{status_class="2xx"} 0.042
levqor_request_duration_seconds_count{status_class="2xx"} 9
)";

TEST(Exposition, FormatValue) {
    EXPECT_EQ(format_value(0), "0");
    EXPECT_EQ(format_value(5), "5");
    EXPECT_EQ(format_value(0.1), "0.1");
    EXPECT_EQ(format_value(1795855515.5905998), "1795855515.5905998");
    EXPECT_EQ(format_value(HUGE_VAL), "+Inf");
    EXPECT_EQ(format_value(-HUGE_VAL), "-Inf");
    EXPECT_EQ(format_value(std::nan("")), "NaN");
}

TEST(Exposition, ParseValue) {
    EXPECT_EQ(parse_value("1"), 1.0);
    EXPECT_EQ(parse_value("+1.5e3"), 1500.0);
    EXPECT_EQ(parse_value("-2"), -2.0);
    EXPECT_TRUE(std::isinf(*parse_value("+Inf")));
    EXPECT_TRUE(std::isnan(*parse_value("NaN")));
    EXPECT_FALSE(parse_value(""));
    EXPECT_FALSE(parse_value("1x"));
    EXPECT_FALSE(parse_value("+-1"));
    EXPECT_FALSE(parse_value("one"));
}

TEST(Exposition, RenderWritesHelpAndTypeOnceAndEscapes) {
    std::vector<MetricFamily> families = {
        {"a_total",
         "line\nbreak \\ here",
         MetricType::counter,
         {{"a_total", {{"k", "quote\" back\\ nl\n"}}, "1", ""}, {"a_total", {}, "2", "1700000000000"}}},
        {"b", "", MetricType::untyped, {{"b", {}, "3", ""}}},
    };
    std::string out;
    render(families, out);
    EXPECT_EQ(out,
              "# HELP a_total line\\nbreak \\\\ here\n"
              "# TYPE a_total counter\n"
              "a_total{k=\"quote\\\" back\\\\ nl\\n\"} 1\n"
              "a_total 2 1700000000000\n"
              "# HELP b b (no help text)\n"
              "# TYPE b untyped\n"
              "b 3\n");
}

TEST(TextParser, ModuleOutputRoundTrips) {
    const auto families = parse_exposition(kModule);
    ASSERT_EQ(families.size(), 4u);
    EXPECT_EQ(families[0].name, "levqor_headers_responses_total");
    EXPECT_EQ(families[0].type, MetricType::counter);
    EXPECT_EQ(families[0].help, "Responses decorated with security headers, by profile.");
    ASSERT_EQ(families[0].samples.size(), 2u);
    EXPECT_EQ(families[0].samples[0].labels, (Labels{{"profile", "strict"}}));
    EXPECT_EQ(families[1].samples[0].value, "1");
    EXPECT_EQ(families[2].samples[0].value, "4.9541738915035914e-05");
    EXPECT_EQ(families[3].type, MetricType::histogram);
    EXPECT_EQ(families[3].samples.size(), 5u);  // _bucket x3, _sum, _count
    std::string out;
    render(families, out);
    EXPECT_EQ(out, kModule);
}

TEST(TextParser, LabelSyntaxAndEscapes) {
    const auto families = parse_exposition(
        "m { a = \"x\\\"y\" , b=\"\\\\\\n\", } 1.5 -12\n"
        "m{} 2\n");
    ASSERT_EQ(families.size(), 1u);
    const auto& s = families[0].samples[0];
    EXPECT_EQ(s.labels, (Labels{{"a", "x\"y"}, {"b", "\\\n"}}));
    EXPECT_EQ(s.value, "1.5");
    EXPECT_EQ(s.timestamp, "-12");
    EXPECT_EQ(families[0].type, MetricType::untyped);
    EXPECT_TRUE(families[0].samples[1].labels.empty());
}

TEST(TextParser, SummariesAndCommentsAndCrLf) {
    const auto families = parse_exposition(
        "# a plain comment\r\n"
        "# TYPE rpc summary\r\n"
        "rpc{quantile=\"0.5\"} 1\r\n"
        "rpc_sum 3\r\n"
        "rpc_count 2\r\n"
        "\r\n"
        "other_count 5\r\n");
    ASSERT_EQ(families.size(), 2u);
    EXPECT_EQ(families[0].samples.size(), 3u);
    EXPECT_EQ(families[1].name, "other_count");
}

TEST(TextParser, ErrorsSayWhichLine) {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"ok 1\nbad\n", "line 2: expected a value after bad"},
        {"m{a=\"1\" 1\n", "line 1: expected ',' or '}' after a label"},
        {"m{a=1} 1\n", "line 1: expected '\"' to open the value of label a"},
        {"m{a=\"1\",a=\"2\"} 1\n", "line 1: label a appears twice"},
        {"m one\n", "line 1: invalid value \"one\" for m"},
        {"m 1 2 3\n", "line 1: unexpected text after the sample m"},
        {"m 1 x\n", "line 1: invalid timestamp \"x\" for m"},
        {"# TYPE m countr\n", "line 1: unknown TYPE \"countr\" for m"},
        {"# TYPE m counter\n# TYPE m counter\n", "line 2: second TYPE for m"},
        {"# HELP m a\n# HELP m b\n", "line 2: second HELP for m"},
        {"m 1\n# TYPE m counter\n", "line 2: TYPE for m after its samples"},
        {"m{a=\"\\x\"} 1\n", "line 1: invalid escape \\x in label a"},
        {"{a=\"1\"} 1\n", "line 1: expected a metric name"},
    };
    for (const auto& [text, expected] : cases) {
        try {
            parse_exposition(text);
            ADD_FAILURE() << "accepted: " << text;
        } catch (const ParseError& e) {
            EXPECT_EQ(std::string(e.what()), expected) << text;
        }
    }
}

TEST(TextParser, EmptyTextHasNoFamilies) {
    EXPECT_TRUE(parse_exposition("").empty());
    EXPECT_TRUE(parse_exposition("\n\n# just comments\n").empty());
}

}  // namespace
}  // namespace levqor::controld::metrics
