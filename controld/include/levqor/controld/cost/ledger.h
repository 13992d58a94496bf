// SPDX-License-Identifier: Apache-2.0
// The daily AI spend as data: levqor_ai_cost_daily_usd per connector, built
// from /usage amounts and from the deltas of every nginx instance's
// levqor_ai_cost_usd_total, the last totals seen (the baselines of those
// deltas), the time of the last daily reset, and the state file's JSON.
// CostLedger is a plain value: not thread-safe (CostService locks it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "levqor/controld/cost/amount.h"

namespace levqor::controld::cost {

// Instances whose totals are tracked at most (configured nginx instances).
inline constexpr std::size_t kMaxTrackedInstances = 256;
// The state file is refused above this size (64 connectors x 256 instances fit).
inline constexpr std::size_t kMaxStateBytes = 4 * 1024 * 1024;

// What observe() found in one scrape of one instance.
struct ObserveResult {
    std::uint64_t added_nanos = 0;  // folded into the daily figure
    std::size_t resets = 0;         // series whose total went down (nginx restarted)
    std::size_t stale = 0;          // lower totals of a concurrent scrape, left out
    bool ignored = false;           // a new instance beyond kMaxTrackedInstances
};

class CostLedger {
public:
    using Totals = std::map<std::string, std::uint64_t, std::less<>>;  // connector -> nano-dollars

    // /usage: adds to the connector's daily figure.
    void add_usage(const std::string& connector, std::uint64_t nanos);

    // One scrape of `instance`: its levqor_ai_cost_usd_total per connector.
    // Per connector, the increase since the last total seen is added to the
    // daily figure, as Prometheus' increase() computes it: a total lower
    // than the last one means nginx restarted, and the whole new total is
    // the increase. A connector new on a known instance counts in full (its
    // series starts at its first request). An instance never seen before
    // only sets the baselines: its totals may hold days of spend from before
    // controld knew it. Connectors beyond kMaxConnectors per day count as
    // "other".
    //
    // `concurrent`: this scrape overlapped in time with one already observed
    // (concurrent /metrics requests), so their answers may arrive in either
    // order. A lower total is then not taken for a restart (it may be the
    // older answer): that connector is left as it was, and a real restart is
    // found by the next scrape that does not overlap. Increases count as usual.
    ObserveResult observe(const std::string& instance, const Totals& totals, bool concurrent = false);

    // The daily reset: every daily figure back to zero (the baselines stay,
    // so spend after the reset counts from the totals seen at the reset).
    void reset(std::int64_t now_unix);

    const Totals& daily() const { return daily_; }
    std::int64_t reset_at_unix() const { return reset_at_unix_; }  // 0: never
    std::size_t instances() const { return last_.size(); }

    // The state file: {"version":1,"reset_at":<unix>,"daily":{"<connector>":<nanos>},
    // "last":{"<instance>":{"<connector>":<nanos>}}}.
    std::string to_json() const;
    // Throws std::invalid_argument naming what is wrong (not JSON, too large,
    // a bad field) -- the caller decides what a corrupt file means.
    static CostLedger from_json(std::string_view text);

    friend bool operator==(const CostLedger& a, const CostLedger& b) {
        return a.daily_ == b.daily_ && a.last_ == b.last_ && a.reset_at_unix_ == b.reset_at_unix_;
    }

private:
    std::string daily_label(const std::string& connector);

    Totals daily_;
    std::map<std::string, Totals, std::less<>> last_;  // instance -> the last totals seen
    std::int64_t reset_at_unix_ = 0;
};

}  // namespace levqor::controld::cost
