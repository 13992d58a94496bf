// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/cost/service.h"

#include <cstdio>

#include <nlohmann/json.hpp>

#include "levqor/controld/core/files.h"
#include "levqor/controld/queue/job.h"

namespace levqor::controld::cost {
namespace {

using metrics::Label;
using metrics::MetricFamily;
using metrics::MetricType;
using metrics::Sample;

// A /usage burst writes the state at most this often; the rest waits for
// the next scrape, reset or flush().
constexpr std::chrono::seconds kUsageWriteInterval{1};

std::int64_t system_unix_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

nlohmann::ordered_json totals_json(const CostLedger::Totals& totals) {
    nlohmann::ordered_json out = nlohmann::ordered_json::object();
    for (const auto& [connector, nanos] : totals) out[connector] = format_usd(nanos);
    return out;
}

}  // namespace

std::string state_file(const std::string& data_dir) { return data_dir + "/cost.state"; }

CostLedger::Totals scraped_totals(const std::vector<MetricFamily>& families, std::size_t& skipped) {
    CostLedger::Totals out;
    for (const auto& family : families) {
        if (family.name != kCostFamily) continue;
        for (const auto& sample : family.samples) {
            if (sample.name != kCostFamily) continue;
            std::string connector(kOtherConnector);
            for (const auto& label : sample.labels) {
                if (label.name == "connector" && valid_connector_name(label.value)) connector = label.value;
            }
            const auto nanos = parse_usd_nanos(sample.value, kMaxTotalNanos);
            if (!nanos) {
                ++skipped;
                continue;
            }
            auto& total = out[connector];
            total = add_capped(total, nanos.value());
        }
    }
    return out;
}

CostService::CostService(Settings settings, metrics::Registry& registry, const Logger& log, ErrorHandler on_error,
                         UnixClock clock)
    : path_(state_file(settings.data_dir)),
      log_(log),
      on_error_(std::move(on_error)),
      clock_(clock ? std::move(clock) : UnixClock(system_unix_now)),
      settings_(settings.cost) {
    load();
    registry.add_collector([this](std::vector<MetricFamily>& out) { collect(out); });
}

CostService::~CostService() { flush(); }

void CostService::load() {
    std::optional<std::string> text;
    try {
        text = read_file_if_exists(path_);
    } catch (const FileError& e) {
        log_.error("cannot read the cost state file; the daily AI spend starts from zero",
                   {{"state_file", path_}, {"error", e.what()}});
        return;
    }
    if (!text) {
        log_.info("no cost state file yet; the daily AI spend starts from zero", {{"state_file", path_}});
        return;
    }
    try {
        if (text->size() > kMaxStateBytes) throw std::invalid_argument("larger than 4 MiB");
        ledger_ = CostLedger::from_json(*text);
        log_.info("daily AI spend restored from the state file", {{"state_file", path_},
                                                                  {"reset_at", ledger_.reset_at_unix()},
                                                                  {"daily_usd", totals_json(ledger_.daily())}});
    } catch (const std::invalid_argument& e) {
        // Cost accounting is not worth refusing to start over: the figure of
        // the day starts again from zero, the bad file is kept for a look.
        const auto aside = path_ + ".corrupt";
        const bool moved = std::rename(path_.c_str(), aside.c_str()) == 0;
        log_.error("the cost state file is corrupt and is ignored; the daily AI spend starts from zero",
                   {{"state_file", path_}, {"moved_to", moved ? aside : std::string()}, {"error", e.what()}});
        if (on_error_) on_error_("the cost state file is corrupt and is ignored", e.what());
    }
}

void CostService::persist_locked() {
    try {
        write_file_atomically(path_, ledger_.to_json(), 0600);
        dirty_ = false;
        written_at_ = std::chrono::steady_clock::now();
    } catch (const FileError& e) {
        dirty_ = true;
        log_.error("cannot write the cost state file", {{"state_file", path_}, {"error", e.what()}});
        if (on_error_) on_error_("cannot write the cost state file", e.what());
    }
}

void CostService::reconfigure(const CostSettings& settings) {
    std::lock_guard<std::mutex> lock(mutex_);
    settings_ = settings;
}

std::string CostService::record_usage(const std::string& connector, std::uint64_t nanos) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto label = usage_connectors_.label_for(connector);
    auto& total = usage_totals_[label];
    total = add_capped(total, nanos);
    ledger_.add_usage(label, nanos);
    dirty_ = true;
    if (std::chrono::steady_clock::now() - written_at_ >= kUsageWriteInterval) persist_locked();
    return label;
}

void CostService::count_invalid() {
    std::lock_guard<std::mutex> lock(mutex_);
    ++invalid_;
}

void CostService::observe_scrape(const std::string& instance, const std::vector<MetricFamily>& families,
                                 const metrics::ScrapeWindow& window) {
    std::size_t skipped = 0;
    const auto totals = scraped_totals(families, skipped);
    if (skipped != 0) {
        log_.debug("levqor_ai_cost_usd_total samples that are not exact decimals were skipped",
                   {{"instance", instance}, {"samples", skipped}});
    }
    std::lock_guard<std::mutex> lock(mutex_);
    auto [until, first] = observed_until_.try_emplace(instance, window.finished);
    const bool concurrent = !first && window.started < until->second;
    if (!first) until->second = std::max(until->second, window.finished);
    const auto result = ledger_.observe(instance, totals, concurrent);
    if (result.ignored) {
        log_.warn("too many nginx instances for cost accounting; this one is not counted",
                  {{"instance", instance}, {"max", kMaxTrackedInstances}});
        return;
    }
    if (result.resets != 0) {
        log_.info("levqor_ai_cost_usd_total went down (nginx restarted); its new total counts as new spend",
                  {{"instance", instance}, {"series", result.resets}});
    }
    // The baselines change with every scrape that brought spend; an idle
    // scrape writes only what /usage left unwritten.
    if (result.added_nanos != 0 || result.resets != 0 || dirty_) persist_locked();
}

CostLedger::Totals CostService::reset() {
    std::lock_guard<std::mutex> lock(mutex_);
    auto cleared = ledger_.daily();
    const auto previous = ledger_.reset_at_unix();
    ledger_.reset(clock_());
    persist_locked();
    log_.info("daily AI spend reset", {{"state_file", path_},
                                       {"previous_reset_at", previous},
                                       {"reset_at", ledger_.reset_at_unix()},
                                       {"cleared_usd", totals_json(cleared)}});
    return cleared;
}

void CostService::flush() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (dirty_) persist_locked();
}

CostLedger::Totals CostService::daily() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return ledger_.daily();
}

std::int64_t CostService::reset_at_unix() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return ledger_.reset_at_unix();
}

void CostService::collect(std::vector<MetricFamily>& out) const {
    std::lock_guard<std::mutex> lock(mutex_);
    const Label instance{"instance", std::string(kControldInstance)};
    if (!usage_totals_.empty()) {
        MetricFamily total{std::string(kCostFamily),
                           "AI spend in USD, per connector: measured by each nginx instance (levqor_cost) and "
                           "reported to controld through POST /usage (instance=\"controld\").",
                           MetricType::counter,
                           {}};
        for (const auto& [connector, nanos] : usage_totals_) {
            total.samples.push_back(
                Sample{total.name, {instance, Label{"connector", connector}}, format_usd(nanos), {}});
        }
        out.push_back(std::move(total));
    }
    out.push_back(MetricFamily{std::string(kInvalidFamily),
                               "AI cost amounts refused as not a number, negative or above 1e6 USD: by each nginx "
                               "instance, and POST /usage bodies refused by controld (instance=\"controld\").",
                               MetricType::counter,
                               {Sample{std::string(kInvalidFamily), {instance}, std::to_string(invalid_), {}}}});
    MetricFamily daily{"levqor_ai_cost_daily_usd",
                       "AI spend in USD since the last daily reset (metrics_daily_reset, 00:05 UTC), per connector, "
                       "over every nginx instance and POST /usage.",
                       MetricType::gauge,
                       {}};
    for (const auto& [connector, nanos] : ledger_.daily()) {
        daily.samples.push_back(Sample{daily.name, {Label{"connector", connector}}, format_usd(nanos), {}});
    }
    if (!daily.samples.empty()) out.push_back(std::move(daily));
    out.push_back(MetricFamily{
        "levqor_ai_cost_daily_reset_timestamp_seconds",
        "Unix time of the last daily reset of levqor_ai_cost_daily_usd (0: never).",
        MetricType::gauge,
        {Sample{"levqor_ai_cost_daily_reset_timestamp_seconds", {}, std::to_string(ledger_.reset_at_unix()), {}}}});
    if (settings_.daily_budget_usd) {
        out.push_back(MetricFamily{
            "levqor_ai_cost_daily_budget_usd",
            "cost.daily_budget_usd: the AI spend budget per day in USD.",
            MetricType::gauge,
            {Sample{"levqor_ai_cost_daily_budget_usd", {}, metrics::format_value(*settings_.daily_budget_usd), {}}}});
    }
}

namespace {

class DailyResetExecutor final : public queue::Executor {
public:
    DailyResetExecutor(CostService& service, std::function<void()> refresh, std::chrono::milliseconds max_duration)
        : service_(service), refresh_(std::move(refresh)), max_duration_(max_duration) {}

    void validate(const nlohmann::json& payload) const override {
        if (!payload.is_object() || !payload.empty()) {
            throw queue::InvalidJob("invalid_job", "payload: metrics_daily_reset takes an empty object {}");
        }
    }
    queue::ExecutionResult run_one(const queue::Delivery&) const override {
        queue::ExecutionResult result;
        try {
            if (refresh_) refresh_();
            const auto cleared = service_.reset();
            result.result =
                nlohmann::ordered_json{{"reset_at", service_.reset_at_unix()}, {"cleared_usd", totals_json(cleared)}};
        } catch (const std::exception& e) {
            result.kind = queue::ExecutionResult::Kind::retryable;
            result.error = e.what();
        }
        return result;
    }
    std::chrono::milliseconds max_duration(const queue::Delivery&) const override { return max_duration_; }

private:
    CostService& service_;
    const std::function<void()> refresh_;
    const std::chrono::milliseconds max_duration_;
};

}  // namespace

std::shared_ptr<const queue::Executor> make_daily_reset_executor(CostService& service, std::function<void()> refresh,
                                                                 std::chrono::milliseconds max_duration) {
    return std::make_shared<DailyResetExecutor>(service, std::move(refresh), max_duration);
}

}  // namespace levqor::controld::cost
