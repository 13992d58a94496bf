// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/abuse/service.h"

#include <stdexcept>
#include <utility>

#include "levqor/controld/abuse/digest.h"
#include "levqor/controld/core/settings_reader.h"

namespace levqor::controld::abuse {
namespace {

// Null without a pepper file; else the whole input side, or ConfigError.
std::shared_ptr<const InputSide> build_inputs(const AbuseSettings& settings) {
    if (!settings.pepper_file) return nullptr;
    try {
        return std::make_shared<const InputSide>(settings);
    } catch (const ConfigError&) {
        throw;
    } catch (const std::exception& e) {
        throw ConfigError(std::string("abuse: ") + e.what());
    }
}

metrics::Family<metrics::Counter>& decisions_family(metrics::Registry& registry) {
    auto& family = registry.counter("levqor_abuse_decisions_total",
                                    "Abuse checks answered, by check (device, signup) and decision (allow, "
                                    "deny, shadow_deny: allowed in shadow mode where on would deny).",
                                    {"check", "decision"});
    for (const char* check : {"device", "signup"}) {
        for (const char* decision : {"allow", "deny", "shadow_deny"}) family.labels({check, decision});
    }
    return family;
}

// off: allow without a store (the feature does nothing, so a store that is
// down does not matter), as AbuseStore answers off.
Decision guards_off(std::optional<long> limit) {
    Decision d;
    d.reason = "guards_off";
    d.limit = limit;
    return d;
}

// A deny-list match, as the mode answers it (the store is not consulted:
// on records nothing for a denied request, so shadow does not either).
Decision deny_listed(const DenyMatch& match, std::optional<long> limit, Mode mode) {
    Decision d;
    d.allow = mode != Mode::on;
    d.reason = match.reason;
    d.count = 0;
    d.limit = limit;
    return d;
}

class PurgeExecutor final : public queue::Executor {
public:
    explicit PurgeExecutor(AbuseService& service) : service_(service) {}

    void validate(const nlohmann::json& payload) const override {
        if (!payload.is_object() || !payload.empty()) {
            throw queue::InvalidJob("invalid_job", "payload: abuse_purge takes an empty object {}");
        }
    }
    queue::ExecutionResult run_one(const queue::Delivery&) const override {
        queue::ExecutionResult result;
        try {
            result.result = nlohmann::ordered_json{{"deleted", service_.purge(Clock::now())}};
        } catch (const std::exception& e) {
            result.kind = queue::ExecutionResult::Kind::retryable;
            result.error = e.what();
        }
        return result;
    }
    // A purge is a few indexed deletes; the store's statement timeout is 5 s.
    std::chrono::milliseconds max_duration(const queue::Delivery&) const override { return std::chrono::seconds(60); }

private:
    AbuseService& service_;
};

}  // namespace

std::shared_ptr<const queue::Executor> make_purge_executor(AbuseService& service) {
    return std::make_shared<PurgeExecutor>(service);
}

AbuseService::AbuseService(const AbuseSettings& settings, StoreOptions store, metrics::Registry& registry,
                           const Logger& log)
    : settings_(settings),
      inputs_(build_inputs(settings)),
      store_options_(std::move(store)),
      decisions_(decisions_family(registry)),
      log_(log) {
    if (!inputs_) log_.warn("abuse.pepper_file is not set: the /abuse routes answer 503 abuse_unconfigured");
}

AbuseService::AbuseService(const AbuseSettings& settings, std::unique_ptr<AbuseStore> store,
                           metrics::Registry& registry, const Logger& log)
    : settings_(settings),
      inputs_(build_inputs(settings)),
      store_(std::move(store)),
      decisions_(decisions_family(registry)),
      log_(log) {}

void AbuseService::reconfigure(const AbuseSettings& settings) {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (settings == settings_) return;
    }
    auto next = build_inputs(settings);  // outside the lock: opens files
    std::lock_guard<std::mutex> lock(mutex_);
    settings_ = settings;
    inputs_ = std::move(next);
}

std::shared_ptr<const InputSide> AbuseService::inputs() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return inputs_;
}

AbuseStore& AbuseService::store() {
    std::lock_guard<std::mutex> lock(store_mutex_);
    if (!store_) {
        store_ = std::make_unique<StorePool>(store_options_);  // StoreError: the next call tries again
        log_.info("abuse store opened", {{"store", store_->kind()}});
    }
    return *store_;
}

void AbuseService::count(const char* check, const Decision& decision, Mode mode) {
    decisions_.labels({check, metric_decision(decision, mode)}).inc();
}

Decision AbuseService::device(const ParsedDevice& parsed, Mode mode, TimePoint now) {
    std::optional<long> limit;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        const auto it = settings_.device_changes_per_24h.find(parsed.request.plan);
        if (it != settings_.device_changes_per_24h.end()) limit = static_cast<long>(it->second);
    }
    const auto decision = mode == Mode::off ? guards_off(limit)
                          : parsed.denied   ? deny_listed(*parsed.denied, limit, mode)
                                            : store().check_device(parsed.request, limit, mode, now);
    count("device", decision, mode);
    return decision;
}

Decision AbuseService::signup(const ParsedSignup& parsed, Mode mode, TimePoint now) {
    long limit = 0;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        limit = static_cast<long>(settings_.referral_signups_per_asn_per_day);
    }
    const auto decision = mode == Mode::off ? guards_off(limit)
                          : parsed.denied   ? deny_listed(*parsed.denied, limit, mode)
                                            : store().check_signup(parsed.request, limit, mode, now);
    count("signup", decision, mode);
    return decision;
}

std::size_t AbuseService::purge(TimePoint now) {
    int days = 0;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        days = static_cast<int>(settings_.retention_days);
    }
    return store().purge(retention_cutoff(now, days));
}

nlohmann::ordered_json AbuseService::status(bool full) const {
    const auto inputs = this->inputs();
    nlohmann::ordered_json out;
    out["status"] = inputs ? "ok" : "not_configured";
    if (!inputs) return out;
    if (!full) return out;
    const auto s = inputs->status();
    out["networks"] = s.network.note;
    out["email_deny_patterns"] = s.email_deny_patterns;
    out["device_deny_patterns"] = s.device_deny_patterns;
    return out;
}

}  // namespace levqor::controld::abuse
