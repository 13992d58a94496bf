// SPDX-License-Identifier: Apache-2.0
// The abuse component as controld runs it: the input side (rebuilt and
// swapped whole on reload; a bad file keeps the old one), the store pool
// (opened at the first check: a PostgreSQL that is down at start answers
// 503 instead of stopping controld), the limits, and the decision metric
// levqor_abuse_decisions_total{check,decision}.
//
// Without abuse.pepper_file the component is "unconfigured": inputs()
// returns null and the routes answer 503 abuse_unconfigured, so an nginx
// auth_request denies (fail closed); /healthz says so.
//
// Thread-safety: every method may be called concurrently.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "levqor/controld/abuse/inputs.h"
#include "levqor/controld/abuse/settings.h"
#include "levqor/controld/abuse/store_pool.h"
#include "levqor/controld/core/log.h"
#include "levqor/controld/metrics/registry.h"
#include "levqor/controld/queue/executor.h"

namespace levqor::controld::abuse {

// The queue job type the built-in schedule abuse-purge runs.
inline constexpr const char* kPurgeJob = "abuse_purge";

class AbuseService {
public:
    // Throws ConfigError when abuse.pepper_file (or asn_mmdb, or a deny
    // pattern) is set but cannot be used: at start a broken file stops
    // controld. Opens no store yet.
    AbuseService(const AbuseSettings& settings, StoreOptions store, metrics::Registry& registry, const Logger& log);
    // A store given (tests).
    AbuseService(const AbuseSettings& settings, std::unique_ptr<AbuseStore> store, metrics::Registry& registry,
                 const Logger& log);

    // SIGHUP: a new input side and limits. Throws ConfigError (the old ones
    // stay) when the new settings cannot be used.
    void reconfigure(const AbuseSettings& settings);

    // Null when unconfigured (no pepper file).
    std::shared_ptr<const InputSide> inputs() const;

    // Decides a parsed request: a deny-list match is a deny (reason
    // email_denied / device_denied; in shadow an allow counted shadow_deny;
    // off: allow guards_off), else the store decides. Counts the metric.
    // Throws StoreError, InvalidInput.
    Decision device(const ParsedDevice& parsed, Mode mode, TimePoint now);
    Decision signup(const ParsedSignup& parsed, Mode mode, TimePoint now);

    // Deletes what is older than abuse.retention_days; returns the rows.
    std::size_t purge(TimePoint now);

    // The /healthz part (checks.abuse): {"status":"ok"|"not_configured"}
    // (no abuse.pepper_file) and, for `full` (the admin token),
    // the networks (the ASN file's path) and the deny-list sizes.
    nlohmann::ordered_json status(bool full) const;

private:
    AbuseStore& store();
    void count(const char* check, const Decision& decision, Mode mode);

    mutable std::mutex mutex_;
    AbuseSettings settings_;
    std::shared_ptr<const InputSide> inputs_;
    StoreOptions store_options_;
    std::mutex store_mutex_;
    std::unique_ptr<AbuseStore> store_;
    metrics::Family<metrics::Counter>& decisions_;
    const Logger& log_;
};

// The abuse_purge job type: payload {}, runs service.purge(now), result
// {"deleted": <rows>}; a store error is retried.
std::shared_ptr<const queue::Executor> make_purge_executor(AbuseService& service);

}  // namespace levqor::controld::abuse
