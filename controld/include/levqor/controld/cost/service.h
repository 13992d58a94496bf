// SPDX-License-Identifier: Apache-2.0
// AI spend in controld: the /usage counters, levqor_ai_cost_daily_usd (the
// spend since the last daily reset over every nginx instance and /usage),
// its persisted state (<data_dir>/cost.state), the daily reset and the
// budget gauge. Thread-safe: every member may be called concurrently.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "levqor/controld/core/log.h"
#include "levqor/controld/cost/amount.h"
#include "levqor/controld/cost/ledger.h"
#include "levqor/controld/cost/settings.h"
#include "levqor/controld/metrics/exposition.h"
#include "levqor/controld/metrics/registry.h"
#include "levqor/controld/metrics/service.h"
#include "levqor/controld/queue/executor.h"

namespace levqor::controld::cost {

// The module's counter family, and controld's own samples in it.
inline constexpr std::string_view kCostFamily = "levqor_ai_cost_usd_total";
inline constexpr std::string_view kInvalidFamily = "levqor_cost_invalid_total";
inline constexpr std::string_view kControldInstance = "controld";
// The job type of the daily reset (the scheduler's metrics-daily-reset).
inline constexpr std::string_view kDailyResetJob = "metrics_daily_reset";

// The state file: "<data_dir>/cost.state".
std::string state_file(const std::string& data_dir);

// The totals of levqor_ai_cost_usd_total in one instance's scrape, per
// connector (nano-dollars). A sample without a valid connector label counts
// as "other"; a sample whose value is not an exact decimal is skipped and
// counted in `skipped`.
CostLedger::Totals scraped_totals(const std::vector<metrics::MetricFamily>& families, std::size_t& skipped);

// - POST /usage amounts: levqor_ai_cost_usd_total{instance="controld",connector}
//   (exact decimal text; at most 64 connectors, then "other") and the daily
//   figure; refused bodies in levqor_cost_invalid_total{instance="controld"}.
// - every scrape of an nginx instance (observe_scrape): the increase of its
//   levqor_ai_cost_usd_total per connector goes into the daily figure
//   (CostLedger::observe).
// - levqor_ai_cost_daily_usd{connector}, levqor_ai_cost_daily_reset_timestamp_seconds
//   and, when cost.daily_budget_usd is set, levqor_ai_cost_daily_budget_usd.
// - the state (daily figures, baselines, reset time) is written to
//   <data_dir>/cost.state (0600, atomic): after every scrape or reset that
//   changed it, after a /usage at most once a second (else at the next scrape,
//   reset or flush()), and by flush() at shutdown. At construction a missing
//   file starts from zero; a corrupt one is logged as an error, renamed to
//   cost.state.corrupt and ignored: controld starts, the day's figure starts
//   from zero.
class CostService {
public:
    struct Settings {
        CostSettings cost;
        std::string data_dir;
    };
    using UnixClock = std::function<std::int64_t()>;
    using ErrorHandler = std::function<void(const std::string& message, const std::string& error)>;

    CostService(Settings settings, metrics::Registry& registry, const Logger& log, ErrorHandler on_error,
                UnixClock clock = nullptr);
    ~CostService();
    CostService(const CostService&) = delete;
    CostService& operator=(const CostService&) = delete;

    void reconfigure(const CostSettings& settings);

    // POST /usage: counts `nanos` for the connector (a valid name); returns
    // the label it was counted under (the name or "other").
    std::string record_usage(const std::string& connector, std::uint64_t nanos);
    // A refused POST /usage body.
    void count_invalid();

    // One successful scrape of `instance`, made within `window`: one that
    // started before the last observed scrape of the instance finished is
    // concurrent with it (CostLedger::observe).
    void observe_scrape(const std::string& instance, const std::vector<metrics::MetricFamily>& families,
                        const metrics::ScrapeWindow& window);

    // The daily reset (the caller folds the latest scrapes in first): every
    // daily figure to zero, persisted, logged. Returns the figures it cleared.
    CostLedger::Totals reset();

    // Writes the state if anything is not yet written.
    void flush();

    CostLedger::Totals daily() const;
    std::int64_t reset_at_unix() const;

private:
    void collect(std::vector<metrics::MetricFamily>& out) const;
    void load();
    void persist_locked();

    const std::string path_;
    const Logger& log_;
    const ErrorHandler on_error_;
    const UnixClock clock_;

    mutable std::mutex mutex_;
    CostSettings settings_;
    CostLedger ledger_;
    ConnectorSet usage_connectors_;
    std::map<std::string, std::uint64_t> usage_totals_;  // /usage, per connector label
    // Per instance, when the latest observed scrape finished.
    std::map<std::string, std::chrono::steady_clock::time_point> observed_until_;
    std::uint64_t invalid_ = 0;
    bool dirty_ = false;
    std::chrono::steady_clock::time_point written_at_{};
};

// The metrics_daily_reset executor: payload {} (no fields); runs refresh()
// (a scrape of every nginx instance, which folds in the latest increases)
// and then service.reset(). max_duration: `max_duration`.
std::shared_ptr<const queue::Executor> make_daily_reset_executor(CostService& service, std::function<void()> refresh,
                                                                 std::chrono::milliseconds max_duration);

}  // namespace levqor::controld::cost
