// SPDX-License-Identifier: Apache-2.0
// Where error events go: the Sink interface and its two implementations, a
// rate-limited background sender to Sentry and a rotating errors.jsonl file,
// plus the Sentry envelope format. Both sinks are thread-safe; RateLimiter is
// not (callers lock).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include <nlohmann/json.hpp>

#include "levqor/controld/core/log.h"
#include "levqor/controld/core/urls.h"
#include "levqor/controld/metrics/registry.h"

namespace levqor::controld::tracking {

// Where error events go. Each sink counts what happened to every event in
// levqor_error_reports_total{sink,result}.
class Sink {
public:
    virtual ~Sink() = default;
    // Takes a scrubbed event (the Sentry event payload). Never blocks on the
    // network and never throws.
    virtual void submit(nlohmann::json event) = 0;
    // Waits up to `timeout` for queued events to be delivered.
    virtual void flush(std::chrono::milliseconds timeout) = 0;
    virtual std::string_view name() const = 0;
};

// A token bucket: `per_minute` events a minute, bursts of up to `per_minute`.
// Thread-safety: none; callers lock.
class RateLimiter {
public:
    using Clock = std::chrono::steady_clock;
    RateLimiter(unsigned per_minute, Clock::time_point now);
    bool allow(Clock::time_point now);

private:
    double capacity_;
    double tokens_;
    Clock::time_point last_;
};

// The Sentry envelope for one event: the envelope header (event_id,
// sent_at, sdk), one item header {"type":"event","length":N,...} and the
// event JSON, each on its own line (develop.sentry.dev, "Envelopes").
std::string build_envelope(const nlohmann::json& event, std::string_view sent_at);
// "Sentry sentry_version=7, sentry_client=levqor-controld/<v>, sentry_key=<key>"
std::string sentry_auth_header(const SentryDsn& dsn);

// Sends events to Sentry from a background thread: a bounded queue (64),
// at most max_events_per_minute accepted (the rest dropped and counted), a
// 5 s timeout per request, and a pause after a 429 for as long as its
// Retry-After says (60 s without one), dropping events meanwhile. Failures
// are logged without the DSN's key and counted; they are never reported as
// error events themselves.
//
// Thread-safety: submit() and flush() may be called from any thread.
class SentrySink : public Sink {
public:
    SentrySink(SentryDsn dsn, unsigned max_events_per_minute, metrics::Registry& registry, const Logger& log);
    ~SentrySink() override;  // stops the thread; queued events are dropped

    void submit(nlohmann::json event) override;
    void flush(std::chrono::milliseconds timeout) override;
    std::string_view name() const override { return "sentry"; }

private:
    void run();
    void send(const nlohmann::json& event);

    static constexpr std::size_t kQueueCapacity = 64;
    const SentryDsn dsn_;
    const Logger& log_;
    metrics::Family<metrics::Counter>& reports_;

    std::mutex mutex_;
    std::condition_variable wake_;
    std::condition_variable idle_;
    std::deque<nlohmann::json> queue_;
    RateLimiter limiter_;
    bool busy_ = false;
    bool stopping_ = false;
    std::chrono::steady_clock::time_point paused_until_{};
    std::thread thread_;  // last: started after everything it uses
};

// Appends events as JSON lines to <data_dir>/errors.jsonl (mode 0640). When
// a line would take the file past max_bytes, it is rotated first:
// errors.jsonl -> errors.jsonl.1 -> ... -> errors.jsonl.<files>, the oldest
// removed. Write failures are logged and counted, never thrown.
// Thread-safety: submit() may be called from any thread (serialised).
class JsonlSink : public Sink {
public:
    JsonlSink(std::string path, std::uint64_t max_bytes, unsigned files, metrics::Registry& registry,
              const Logger& log);

    void submit(nlohmann::json event) override;
    void flush(std::chrono::milliseconds) override {}
    std::string_view name() const override { return "jsonl"; }
    const std::string& path() const { return path_; }

private:
    void rotate();

    const std::string path_;
    const std::uint64_t max_bytes_;
    const unsigned files_;
    const Logger& log_;
    metrics::Family<metrics::Counter>& reports_;
    std::mutex mutex_;
};

}  // namespace levqor::controld::tracking
