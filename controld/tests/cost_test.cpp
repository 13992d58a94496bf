// SPDX-License-Identifier: Apache-2.0
// The cost component: exact amounts, POST /usage bodies, the daily ledger
// (increases, nginx restarts, the reset), its state file, the service's
// metrics and the metrics_daily_reset job type, cost.daily_budget_usd.
#include <gtest/gtest.h>

#include "levqor/controld/config.h"
#include "levqor/controld/cost/amount.h"
#include "levqor/controld/cost/ledger.h"
#include "levqor/controld/cost/service.h"
#include "levqor/controld/cost/usage.h"
#include "levqor/controld/metrics/merge.h"
#include "test_support.h"

namespace levqor::controld::cost {
namespace cost_test {

using metrics::MetricFamily;
using metrics::MetricType;
using metrics::Sample;

std::string usage_error(const std::string& body) {
    try {
        parse_usage(body);
    } catch (const UsageError& e) {
        return e.code() + ": " + e.what();
    }
    return "";
}

// One nginx instance's scrape with levqor_ai_cost_usd_total per connector.
std::vector<MetricFamily> module_scrape(const std::vector<std::pair<std::string, std::string>>& totals) {
    MetricFamily family{std::string(kCostFamily), "module help", MetricType::counter, {}};
    for (const auto& [connector, value] : totals) {
        family.samples.push_back(Sample{family.name, {{"connector", connector}}, value, {}});
    }
    return {family};
}

// Scrape windows one after the other, never overlapping.
metrics::ScrapeWindow next_window() {
    static auto at = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
    const auto started = at;
    at += std::chrono::seconds(1);
    return {started, started + std::chrono::milliseconds(10)};
}

const MetricFamily* family_named(const std::vector<MetricFamily>& families, const std::string& name) {
    for (const auto& f : families) {
        if (f.name == name) return &f;
    }
    return nullptr;
}

std::string rendered(const std::vector<MetricFamily>& families) {
    std::string out;
    metrics::render(families, out);
    return out;
}

}  // namespace cost_test

using namespace cost_test;

// ---- amounts ------------------------------------------------------------------------

// The grammar, the decimal rendering and the connector rule are
// levqor_common's, tested with one amount table in
// module/core/tests/cost_grammar_test.cpp; here what controld adds.
TEST(CostAmount, TotalsAddCappedAndReadBackAboveTheUsageBound) {
    EXPECT_EQ(add_capped(kMaxTotalNanos - 1, 5), kMaxTotalNanos);
    EXPECT_EQ(add_capped(2, 3), 5u);
    EXPECT_EQ(parse_usd_nanos(format_usd(kMaxTotalNanos), kMaxTotalNanos).value(), kMaxTotalNanos);
    EXPECT_FALSE(parse_usd_nanos("9223372036.854775808", kMaxTotalNanos));
}

TEST(CostAmount, ConnectorNamesAreBoundedAndTheSetEndsInOther) {
    EXPECT_TRUE(valid_connector_name("azure:eu-west.1"));  // the module's rule
    EXPECT_FALSE(valid_connector_name("a/b"));
    ConnectorSet set;
    for (int i = 0; i < 64; ++i) EXPECT_EQ(set.label_for("c" + std::to_string(i)), "c" + std::to_string(i));
    EXPECT_EQ(set.label_for("c64"), "other");
    EXPECT_EQ(set.label_for("c3"), "c3");
    EXPECT_EQ(set.label_for("other"), "other");
    EXPECT_EQ(set.size(), 64u);
}

// ---- POST /usage bodies ---------------------------------------------------------------

TEST(CostUsage, ReadsTheNumberFromItsTextOrADecimalString) {
    auto usage = parse_usage(R"({"connector":"openai","usd":0.0123})");
    EXPECT_EQ(usage.connector, "openai");
    EXPECT_EQ(usage.nanos, 12'300'000u);
    EXPECT_EQ(parse_usage(R"({"usd":"999999.123456789","connector":"x"})").nanos, 999'999'123'456'789u);
    // As a double 999999.123456789 is 999999.12345678894...: the text is exact.
    EXPECT_EQ(parse_usage(R"({"connector":"x","usd":999999.123456789})").nanos, 999'999'123'456'789u);
    // Through a double these round to ...000 and 2 (round(double * 1e9)):
    // read from the number's text they round half up exactly.
    EXPECT_EQ(parse_usage(R"({"connector":"x","usd":1.0000000005})").nanos, 1'000'000'001u);
    EXPECT_EQ(parse_usage(R"({"connector":"x","usd":0.0000000025})").nanos, 3u);
    EXPECT_EQ(parse_usage(R"({"connector":"x","usd":3})").nanos, 3'000'000'000u);
    EXPECT_EQ(parse_usage(R"({"connector":"x","usd":2.5e-3})").nanos, 2'500'000u);
    // A nested "usd" is not the amount.
    EXPECT_EQ(usage_error(R"({"connector":"x","usd":1,"extra":{"usd":5}})").rfind("invalid_usage: unknown field", 0),
              0u);
}

TEST(CostUsage, RefusesWhatTheModuleRefuses) {
    EXPECT_EQ(usage_error(R"({"connector":"x","usd":-1})"),
              "invalid_usage: usd: -1 is refused: negative amount (expected 0 to 1000000 USD, exact to 1e-9)");
    EXPECT_EQ(usage_error(R"({"connector":"x","usd":1000000.5})"),
              "invalid_usage: usd: 1000000.5 is refused: more than 1000000 USD (expected 0 to 1000000 USD, exact to "
              "1e-9)");
    EXPECT_EQ(usage_error(R"({"connector":"x","usd":"abc"})"),
              "invalid_usage: usd: abc is refused: not a decimal number (expected 0 to 1000000 USD, exact to 1e-9)");
    EXPECT_EQ(usage_error(R"({"connector":"x","usd":true})"),
              "invalid_usage: usd: expected a number or a decimal string such as \"0.0123\"");
    EXPECT_EQ(usage_error(R"({"connector":"x"})").rfind("invalid_usage: usd: missing", 0), 0u);
    EXPECT_EQ(usage_error(R"({"usd":1})").rfind("invalid_usage: connector: expected a string", 0), 0u);
    EXPECT_EQ(usage_error(R"({"connector":"a b","usd":1})"),
              "invalid_usage: connector: expected 1 to 64 characters of A-Z, a-z, 0-9, '_', '.', ':' or '-'");
    EXPECT_EQ(usage_error(R"({"connector":"a/b","usd":1})").rfind("invalid_usage: connector: expected", 0), 0u);
    EXPECT_EQ(parse_usage(R"({"connector":"azure:eu","usd":" +1.5 "})").nanos, 1'500'000'000u);
    EXPECT_EQ(
        usage_error(R"({"connector":")" + std::string(65, 'a') + R"(","usd":1})").rfind("invalid_usage: connector", 0),
        0u);
    EXPECT_EQ(usage_error("not json").rfind("invalid_json: ", 0), 0u);
    EXPECT_EQ(usage_error("[1]").rfind("invalid_json: the body is not a JSON object", 0), 0u);
    EXPECT_EQ(usage_error(std::string(5000, ' ') + "{}").rfind("invalid_json: the body is refused", 0), 0u);
}

// ---- the ledger -----------------------------------------------------------------------

TEST(CostLedger, AFirstSeenInstanceOnlySetsBaselinesThenIncreasesCount) {
    CostLedger ledger;
    EXPECT_EQ(ledger.observe("edge-1", {{"openai", 5'000'000'000}}).added_nanos, 0u);
    EXPECT_TRUE(ledger.daily().empty());
    EXPECT_EQ(ledger.observe("edge-1", {{"openai", 5'000'000'100}}).added_nanos, 100u);
    // A connector that appears on a known instance counts in full.
    ledger.observe("edge-1", {{"openai", 5'000'000'100}, {"anthropic", 7}});
    EXPECT_EQ(ledger.daily().at("openai"), 100u);
    EXPECT_EQ(ledger.daily().at("anthropic"), 7u);
}

TEST(CostLedger, ACounterThatWentDownIsANginxRestartAndCountsFromZero) {
    CostLedger ledger;
    ledger.observe("edge-1", {{"openai", 1000}});
    ledger.observe("edge-1", {{"openai", 1500}});
    const auto result = ledger.observe("edge-1", {{"openai", 200}});  // restarted, then spent 200
    EXPECT_EQ(result.resets, 1u);
    EXPECT_EQ(result.added_nanos, 200u);
    EXPECT_EQ(ledger.daily().at("openai"), 700u);
    ledger.observe("edge-1", {{"openai", 250}});
    EXPECT_EQ(ledger.daily().at("openai"), 750u);
}

TEST(CostLedger, SumsInstancesAndUsagePerConnector) {
    CostLedger ledger;
    ledger.observe("edge-1", {{"openai", 0}});
    ledger.observe("edge-2", {{"openai", 0}});
    ledger.observe("edge-1", {{"openai", 10}});
    ledger.observe("edge-2", {{"openai", 20}});
    ledger.add_usage("openai", 30);
    ledger.add_usage("batch", 1);
    EXPECT_EQ(ledger.daily().at("openai"), 60u);
    EXPECT_EQ(ledger.daily().at("batch"), 1u);
}

TEST(CostLedger, ResetZeroesTheDayAndKeepsTheBaselines) {
    CostLedger ledger;
    ledger.observe("edge-1", {{"openai", 100}});
    ledger.observe("edge-1", {{"openai", 400}});
    ledger.add_usage("batch", 5);
    ledger.reset(1'700'000'000);
    EXPECT_TRUE(ledger.daily().empty());
    EXPECT_EQ(ledger.reset_at_unix(), 1'700'000'000);
    // Spend after the reset counts from the totals seen before it.
    ledger.observe("edge-1", {{"openai", 450}});
    EXPECT_EQ(ledger.daily().at("openai"), 50u);
    // A second reset right after simply zeroes again.
    ledger.reset(1'700'000'001);
    ledger.reset(1'700'000'002);
    EXPECT_TRUE(ledger.daily().empty());
}

TEST(CostLedger, AConcurrentScrapeNeverTakesALowerTotalForARestart) {
    CostLedger ledger;
    ledger.observe("edge-1", {{"openai", 100}, {"batch", 10}});
    // Two overlapping scrapes answered out of order: the newer (150) first.
    ledger.observe("edge-1", {{"openai", 150}, {"batch", 10}}, true);
    const auto older = ledger.observe("edge-1", {{"openai", 120}, {"batch", 12}}, true);
    EXPECT_EQ(older.stale, 1u);
    EXPECT_EQ(older.resets, 0u);
    EXPECT_EQ(ledger.daily().at("openai"), 50u);  // not 50 + 120
    EXPECT_EQ(ledger.daily().at("batch"), 2u);
    // The next scrape that does not overlap: a real restart counts again.
    ledger.observe("edge-1", {{"openai", 30}, {"batch", 12}});
    EXPECT_EQ(ledger.daily().at("openai"), 80u);
}

TEST(CostLedger, AtMost64ConnectorsADayThenOther) {
    CostLedger ledger;
    for (int i = 0; i < 70; ++i) ledger.add_usage("c" + std::to_string(i), 1);
    EXPECT_EQ(ledger.daily().size(), 65u);
    EXPECT_EQ(ledger.daily().at("other"), 6u);
}

TEST(CostLedger, StateRoundTripsAndACorruptOneIsRefused) {
    CostLedger ledger;
    ledger.observe("edge-1", {{"openai", 100}});
    ledger.observe("edge-1", {{"openai", 12'345'678'123'456'789}});
    ledger.add_usage("batch", 5);
    ledger.reset(1'700'000'000);
    ledger.add_usage("batch", 7);
    const auto text = ledger.to_json();
    const auto back = CostLedger::from_json(text);
    EXPECT_TRUE(back == ledger);
    EXPECT_EQ(back.daily().at("batch"), 7u);
    for (const char* bad : {"", "{", "[]", R"({"version":2})", R"({"version":1,"reset_at":-1,"daily":{},"last":{}})",
                            R"({"version":1,"reset_at":0,"daily":{"a b":1},"last":{}})",
                            R"({"version":1,"reset_at":0,"daily":{"a":-1},"last":{}})",
                            R"({"version":1,"reset_at":0,"daily":{"a":1.5},"last":{}})",
                            R"({"version":1,"reset_at":0,"daily":{},"last":[]})"}) {
        EXPECT_THROW(CostLedger::from_json(bad), std::invalid_argument) << bad;
    }
}

// ---- the service ----------------------------------------------------------------------

TEST(CostService, UsageAndScrapesMakeTheDailyGaugeInOneMergedFamily) {
    testing::TempDir dir;
    testing::CapturedLog log;
    metrics::Registry registry;
    CostService service({CostSettings{12.5}, dir.path()}, registry, log.logger, nullptr, [] { return 1000; });
    EXPECT_EQ(service.record_usage("batch", 1'500'000'000), "batch");
    service.observe_scrape("edge-1", module_scrape({{"openai", "1.25"}}), next_window());
    service.observe_scrape("edge-1", module_scrape({{"openai", "2.000000001"}}), next_window());
    service.count_invalid();

    metrics::ExpositionMerger merger;
    merger.add_local(registry.collect());
    merger.add_instance("edge-1", module_scrape({{"openai", "2.000000001"}}));
    const auto text = rendered(merger.families());
    EXPECT_NE(text.find("levqor_ai_cost_usd_total{instance=\"controld\",connector=\"batch\"} 1.5\n"), std::string::npos)
        << text;
    EXPECT_NE(text.find("levqor_ai_cost_usd_total{instance=\"edge-1\",connector=\"openai\"} 2.000000001\n"),
              std::string::npos);
    EXPECT_EQ(text.find("# TYPE levqor_ai_cost_usd_total counter"),
              text.rfind("# TYPE levqor_ai_cost_usd_total counter"));  // one family
    EXPECT_NE(text.find("levqor_cost_invalid_total{instance=\"controld\"} 1\n"), std::string::npos);
    EXPECT_NE(text.find("levqor_ai_cost_daily_usd{connector=\"openai\"} 0.750000001\n"), std::string::npos);
    EXPECT_NE(text.find("levqor_ai_cost_daily_usd{connector=\"batch\"} 1.5\n"), std::string::npos);
    EXPECT_NE(text.find("levqor_ai_cost_daily_budget_usd 12.5\n"), std::string::npos);

    service.reconfigure(CostSettings{});
    EXPECT_EQ(family_named(registry.collect(), "levqor_ai_cost_daily_budget_usd"), nullptr);
}

TEST(CostService, TheDailyFigureSurvivesARestartAndTheResetIsPersisted) {
    testing::TempDir dir;
    testing::CapturedLog log;
    {
        metrics::Registry registry;
        CostService service({{}, dir.path()}, registry, log.logger, nullptr, [] { return 1000; });
        service.observe_scrape("edge-1", module_scrape({{"openai", "1"}}), next_window());
        service.observe_scrape("edge-1", module_scrape({{"openai", "3"}}), next_window());
        service.record_usage("batch", 42);
        service.record_usage("batch", 1);  // within a second: written by flush()
        service.flush();
    }
    struct stat st {};
    ASSERT_EQ(::stat(dir.file("cost.state").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    {
        metrics::Registry registry;
        CostService service({{}, dir.path()}, registry, log.logger, nullptr, [] { return 2000; });
        EXPECT_EQ(service.daily().at("openai"), 2'000'000'000u);
        EXPECT_EQ(service.daily().at("batch"), 43u);
        // The baseline survived too: only the increase since counts.
        service.observe_scrape("edge-1", module_scrape({{"openai", "3.5"}}), next_window());
        EXPECT_EQ(service.daily().at("openai"), 2'500'000'000u);
        const auto cleared = service.reset();
        EXPECT_EQ(cleared.at("openai"), 2'500'000'000u);
        EXPECT_TRUE(service.daily().empty());
        EXPECT_TRUE(log.has("daily AI spend reset"));
    }
    metrics::Registry registry;
    CostService service({{}, dir.path()}, registry, log.logger, nullptr, [] { return 3000; });
    EXPECT_TRUE(service.daily().empty());
    EXPECT_EQ(service.reset_at_unix(), 2000);
}

TEST(CostService, ACorruptStateFileIsLoggedSetAsideAndIgnored) {
    testing::TempDir dir;
    testing::CapturedLog log;
    dir.write("cost.state", "{\"version\":1,\"daily\":");
    std::string reported;
    metrics::Registry registry;
    CostService service({{}, dir.path()}, registry, log.logger,
                        [&](const std::string& message, const std::string&) { reported = message; });
    EXPECT_TRUE(service.daily().empty());
    EXPECT_TRUE(log.has("the cost state file is corrupt and is ignored; the daily AI spend starts from zero"));
    EXPECT_EQ(reported, "the cost state file is corrupt and is ignored");
    EXPECT_EQ(dir.read("cost.state.corrupt"), "{\"version\":1,\"daily\":");
    service.record_usage("x", 1);
    service.flush();
    EXPECT_NE(dir.read("cost.state").find("\"x\":1"), std::string::npos);
}

TEST(CostService, TheResetJobFoldsInTheLatestScrapeThenZeroes) {
    testing::TempDir dir;
    testing::CapturedLog log;
    metrics::Registry registry;
    CostService service({{}, dir.path()}, registry, log.logger, nullptr, [] { return 5000; });
    service.observe_scrape("edge-1", module_scrape({{"openai", "1"}}), next_window());
    int refreshed = 0;
    const auto executor = make_daily_reset_executor(
        service,
        [&] {
            ++refreshed;
            service.observe_scrape("edge-1", module_scrape({{"openai", "4"}}), next_window());
        },
        std::chrono::seconds(30));
    EXPECT_NO_THROW(executor->validate(nlohmann::json::object()));
    EXPECT_THROW(executor->validate(nlohmann::json{{"x", 1}}), queue::InvalidJob);
    EXPECT_THROW(executor->validate(nlohmann::json::array()), queue::InvalidJob);
    queue::Delivery job;
    const auto result = executor->run_one(job);
    EXPECT_EQ(result.kind, queue::ExecutionResult::Kind::succeeded);
    EXPECT_EQ(refreshed, 1);
    EXPECT_EQ(result.result["cleared_usd"]["openai"], "3");
    EXPECT_EQ(result.result["reset_at"], 5000);
    EXPECT_TRUE(service.daily().empty());
    // Again right after: zero again.
    EXPECT_EQ(executor->run_one(job).kind, queue::ExecutionResult::Kind::succeeded);
    EXPECT_TRUE(service.daily().empty());
}

TEST(CostService, OverlappingScrapesOfAnInstanceAreConcurrent) {
    testing::TempDir dir;
    testing::CapturedLog log;
    metrics::Registry registry;
    CostService service({{}, dir.path()}, registry, log.logger, nullptr);
    const auto t0 = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
    using std::chrono::milliseconds;
    service.observe_scrape("edge-1", module_scrape({{"openai", "1"}}), {t0, t0 + milliseconds(10)});
    // B [100, 110] answered 3; A [90, 200] started before B finished and answered 2.
    service.observe_scrape("edge-1", module_scrape({{"openai", "3"}}),
                           {t0 + milliseconds(100), t0 + milliseconds(110)});
    service.observe_scrape("edge-1", module_scrape({{"openai", "2"}}), {t0 + milliseconds(90), t0 + milliseconds(200)});
    EXPECT_EQ(service.daily().at("openai"), 2'000'000'000u);
    // After both: a lower total is a restart again.
    service.observe_scrape("edge-1", module_scrape({{"openai", "0.5"}}),
                           {t0 + milliseconds(300), t0 + milliseconds(310)});
    EXPECT_EQ(service.daily().at("openai"), 2'500'000'000u);
}

TEST(CostService, ScrapedSamplesWithoutAValidConnectorCountAsOther) {
    std::size_t skipped = 0;
    auto families = module_scrape({{"a b", "1"}, {"ok", "2"}, {"ok2", "NaN"}});
    families[0].samples.push_back(Sample{std::string(kCostFamily), {}, "3", {}});
    const auto totals = scraped_totals(families, skipped);
    EXPECT_EQ(skipped, 1u);
    EXPECT_EQ(totals.at("other"), 4'000'000'000u);
    EXPECT_EQ(totals.at("ok"), 2'000'000'000u);
}

// ---- settings -------------------------------------------------------------------------

TEST(CostSettings, TheDailyBudgetIsAPositiveNumber) {
    testing::TempDir dir;
    const auto load = [&](const std::string& text, std::map<std::string, std::string> env = {}) {
        return load_config(dir.write("c.json", text), testing::env_of(std::move(env))).cost;
    };
    EXPECT_FALSE(load("{}").daily_budget_usd);
    EXPECT_EQ(load(R"({"cost":{"daily_budget_usd":12.5}})").daily_budget_usd, 12.5);
    EXPECT_EQ(load(R"({"cost":{"daily_budget_usd":100}})").daily_budget_usd, 100.0);
    EXPECT_FALSE(load(R"({"cost":{"daily_budget_usd":null}})").daily_budget_usd);
    EXPECT_EQ(load("{}", {{"LEVQOR_COST_DAILY_BUDGET_USD", "7.25"}}).daily_budget_usd, 7.25);
    const auto error = [&](const std::string& text, std::map<std::string, std::string> env = {}) -> std::string {
        try {
            load(text, std::move(env));
        } catch (const ConfigError& e) {
            return e.what();
        }
        return "";
    };
    const auto bad = error(R"({"cost":{"daily_budget_usd":0}})");
    EXPECT_NE(bad.find("\"cost.daily_budget_usd\" = 0 is invalid: expected a number of USD greater than 0"),
              std::string::npos)
        << bad;
    EXPECT_NE(error(R"({"cost":{"daily_budget_usd":"10"}})").find("\"cost.daily_budget_usd\" = \"10\" is invalid"),
              std::string::npos);
    EXPECT_NE(error(R"({"cost":{"daily_budget_usd":-3}})").find("-3 is invalid"), std::string::npos);
    EXPECT_NE(error(R"({"cost":{"daily_budget":3}})").find("daily_budget_usd"), std::string::npos);  // did you mean
    EXPECT_NE(error("{}", {{"LEVQOR_COST_DAILY_BUDGET_USD", "lots"}})
                  .find("LEVQOR_COST_DAILY_BUDGET_USD=\"lots\" is invalid: expected a number of USD"),
              std::string::npos);
}

}  // namespace levqor::controld::cost
