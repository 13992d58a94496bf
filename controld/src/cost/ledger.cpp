// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/cost/ledger.h"

#include <stdexcept>

#include <nlohmann/json.hpp>

#include "levqor/controld/core/json.h"

namespace levqor::controld::cost {
namespace {

using nlohmann::json;

[[noreturn]] void corrupt(const std::string& why) { throw std::invalid_argument(why); }

CostLedger::Totals read_totals(const json& object, const std::string& where) {
    if (!object.is_object()) corrupt(where + ": expected an object");
    if (object.size() > kMaxConnectors + 1)
        corrupt(where + ": more than " + std::to_string(kMaxConnectors + 1) + " connectors");
    CostLedger::Totals out;
    for (const auto& [name, value] : object.items()) {
        if (!valid_connector_name(name)) corrupt(where + ": invalid connector name");
        if (!value.is_number_unsigned() && !(value.is_number_integer() && value.get<std::int64_t>() >= 0)) {
            corrupt(where + "." + name + ": expected a whole number of nano-dollars");
        }
        const auto nanos = value.get<std::uint64_t>();
        if (nanos > kMaxTotalNanos) corrupt(where + "." + name + ": out of range");
        out.emplace(name, nanos);
    }
    return out;
}

json write_totals(const CostLedger::Totals& totals) {
    json out = json::object();
    for (const auto& [name, nanos] : totals) out[name] = nanos;
    return out;
}

}  // namespace

std::string CostLedger::daily_label(const std::string& connector) {
    if (daily_.count(connector) != 0 || connector == kOtherConnector) return connector;
    std::size_t named = daily_.size() - daily_.count(std::string(kOtherConnector));
    return named >= kMaxConnectors ? std::string(kOtherConnector) : connector;
}

void CostLedger::add_usage(const std::string& connector, std::uint64_t nanos) {
    auto& daily = daily_[daily_label(connector)];
    daily = add_capped(daily, nanos);
}

ObserveResult CostLedger::observe(const std::string& instance, const Totals& totals, bool concurrent) {
    ObserveResult result;
    auto it = last_.find(instance);
    if (it == last_.end()) {
        if (last_.size() >= kMaxTrackedInstances) {
            result.ignored = true;
            return result;
        }
        last_.emplace(instance, totals);
        return result;
    }
    auto& last = it->second;
    Totals next = concurrent ? last : Totals{};
    for (const auto& [connector, total] : totals) {
        const auto seen = last.find(connector);
        if (concurrent && seen != last.end() && total < seen->second) {
            ++result.stale;
            continue;
        }
        next[connector] = total;
        std::uint64_t delta = total;
        if (seen != last.end() && total >= seen->second) delta = total - seen->second;
        if (seen != last.end() && total < seen->second) ++result.resets;
        if (delta != 0) {
            auto& daily = daily_[daily_label(connector)];
            daily = add_capped(daily, delta);
            result.added_nanos = add_capped(result.added_nanos, delta);
        }
    }
    // The baselines are what this scrape showed: a connector that vanished
    // (nginx restarted and has not seen it since) counts from zero next time.
    // A concurrent scrape only moves baselines forward.
    last = std::move(next);
    return result;
}

void CostLedger::reset(std::int64_t now_unix) {
    daily_.clear();
    reset_at_unix_ = now_unix;
}

std::string CostLedger::to_json() const {
    json last = json::object();
    for (const auto& [instance, totals] : last_) last[instance] = write_totals(totals);
    const json out{{"version", 1}, {"reset_at", reset_at_unix_}, {"daily", write_totals(daily_)}, {"last", last}};
    return out.dump() + "\n";
}

CostLedger CostLedger::from_json(std::string_view text) {
    json doc;
    try {
        doc = parse_json(text, JsonLimits{kMaxStateBytes});
    } catch (const JsonError& e) {
        corrupt(std::string("not a valid state file: ") + e.what());
    }
    if (!doc.is_object()) corrupt("expected a JSON object");
    if (doc.value("version", json()) != json(1)) corrupt("\"version\": expected 1");
    CostLedger ledger;
    const auto reset_at = doc.value("reset_at", json());
    if (!reset_at.is_number_integer() || reset_at.get<std::int64_t>() < 0) {
        corrupt("\"reset_at\": expected a Unix time");
    }
    ledger.reset_at_unix_ = reset_at.get<std::int64_t>();
    ledger.daily_ = read_totals(doc.value("daily", json()), "\"daily\"");
    const auto last = doc.value("last", json());
    if (!last.is_object()) corrupt("\"last\": expected an object");
    if (last.size() > kMaxTrackedInstances) corrupt("\"last\": too many instances");
    for (const auto& [instance, totals] : last.items()) {
        if (instance.empty() || instance.size() > 256) corrupt("\"last\": invalid instance name");
        ledger.last_.emplace(instance, read_totals(totals, "\"last\"." + instance));
    }
    return ledger;
}

}  // namespace levqor::controld::cost
