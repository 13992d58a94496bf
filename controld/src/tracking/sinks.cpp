// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/tracking/sinks.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "levqor/controld/core/unique_fd.h"
#include "levqor/controld/net/http_client.h"
#include "levqor/controld/version.h"

namespace levqor::controld::tracking {
namespace {

metrics::Family<metrics::Counter>& reports_family(metrics::Registry& registry) {
    return registry.counter("levqor_error_reports_total",
                            "Error events by sink (sentry, jsonl) and what became of them: sent, "
                            "written, failed, dropped_rate_limit, dropped_queue_full, "
                            "dropped_server_backoff.",
                            {"sink", "result"});
}

std::string dump(const nlohmann::json& value) {
    return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// Seconds to pause after a 429: Retry-After as a number of seconds, else 60.
std::chrono::seconds retry_after(const net::HttpResponse& response) {
    auto it = response.headers.find("retry-after");
    if (it != response.headers.end()) {
        char* end = nullptr;
        const double seconds = std::strtod(it->second.c_str(), &end);
        if (end != it->second.c_str() && seconds > 0 && seconds < 86400) {
            return std::chrono::seconds(static_cast<long>(seconds + 0.999));
        }
    }
    return std::chrono::seconds(60);
}

}  // namespace

RateLimiter::RateLimiter(unsigned per_minute, Clock::time_point now)
    : capacity_(per_minute), tokens_(per_minute), last_(now) {}

bool RateLimiter::allow(Clock::time_point now) {
    const double elapsed = std::chrono::duration<double>(now - last_).count();
    if (elapsed > 0) {
        tokens_ = std::min(capacity_, tokens_ + elapsed * capacity_ / 60.0);
        last_ = now;
    }
    if (tokens_ < 1) return false;
    tokens_ -= 1;
    return true;
}

std::string build_envelope(const nlohmann::json& event, std::string_view sent_at) {
    const std::string payload = dump(event);
    nlohmann::json header = {{"event_id", event.value("event_id", "")},
                             {"sent_at", sent_at},
                             {"sdk", {{"name", "levqor-controld"}, {"version", kVersion}}}};
    nlohmann::json item = {{"type", "event"}, {"content_type", "application/json"}, {"length", payload.size()}};
    return dump(header) + "\n" + dump(item) + "\n" + payload + "\n";
}

std::string sentry_auth_header(const SentryDsn& dsn) {
    return "Sentry sentry_version=7, sentry_client=levqor-controld/" + std::string(kVersion) +
           ", sentry_key=" + dsn.public_key;
}

SentrySink::SentrySink(SentryDsn dsn, unsigned max_events_per_minute, metrics::Registry& registry, const Logger& log)
    : dsn_(std::move(dsn)),
      log_(log),
      reports_(reports_family(registry)),
      limiter_(max_events_per_minute, std::chrono::steady_clock::now()),
      thread_([this] { run(); }) {}

SentrySink::~SentrySink() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
}

void SentrySink::submit(nlohmann::json event) {
    const char* dropped = nullptr;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        const auto now = std::chrono::steady_clock::now();
        if (now < paused_until_) {
            dropped = "dropped_server_backoff";
        } else if (!limiter_.allow(now)) {
            dropped = "dropped_rate_limit";
        } else if (queue_.size() >= kQueueCapacity) {
            dropped = "dropped_queue_full";
        } else {
            queue_.push_back(std::move(event));
        }
    }
    if (dropped != nullptr) {
        reports_.labels({"sentry", dropped}).inc();
        return;
    }
    wake_.notify_one();
}

void SentrySink::flush(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mutex_);
    idle_.wait_for(lock, timeout, [this] { return queue_.empty() && !busy_; });
}

void SentrySink::run() {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
        wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (stopping_) return;
        auto event = std::move(queue_.front());
        queue_.pop_front();
        busy_ = true;
        lock.unlock();
        send(event);
        lock.lock();
        busy_ = false;
        if (queue_.empty()) idle_.notify_all();
    }
}

void SentrySink::send(const nlohmann::json& event) {
    net::HttpRequest request;
    request.method = "POST";
    request.url = dsn_.envelope_url();
    request.timeout = std::chrono::seconds(5);
    request.max_response_bytes = 64 * 1024;
    request.headers = {{"Content-Type", "application/x-sentry-envelope"}, {"X-Sentry-Auth", sentry_auth_header(dsn_)}};
    request.body = build_envelope(event, utc_timestamp_now());
    const auto response = net::perform(request);
    if (response.transport_ok() && response.status >= 200 && response.status < 300) {
        reports_.labels({"sentry", "sent"}).inc();
        return;
    }
    reports_.labels({"sentry", "failed"}).inc();
    std::string why = response.transport_ok() ? "HTTP status " + std::to_string(response.status) : response.error;
    if (response.transport_ok() && response.status == 429) {
        const auto pause = retry_after(response);
        std::lock_guard<std::mutex> lock(mutex_);
        paused_until_ = std::chrono::steady_clock::now() + pause;
        why += "; pausing for " + std::to_string(pause.count()) + " s";
    }
    log_.warn("cannot send an error event to Sentry", {{"dsn", dsn_.redacted()}, {"error", why}});
}

JsonlSink::JsonlSink(std::string path, std::uint64_t max_bytes, unsigned files, metrics::Registry& registry,
                     const Logger& log)
    : path_(std::move(path)), max_bytes_(max_bytes), files_(files), log_(log), reports_(reports_family(registry)) {}

void JsonlSink::rotate() {
    const auto name = [this](unsigned n) { return path_ + "." + std::to_string(n); };
    std::remove(name(files_).c_str());
    for (unsigned n = files_; n > 1; --n) std::rename(name(n - 1).c_str(), name(n).c_str());
    std::rename(path_.c_str(), name(1).c_str());
}

void JsonlSink::submit(nlohmann::json event) {
    const std::string line = dump(event) + "\n";
    std::lock_guard<std::mutex> lock(mutex_);
    struct stat st {};
    if (::stat(path_.c_str(), &st) == 0 && st.st_size > 0 &&
        static_cast<std::uint64_t>(st.st_size) + line.size() > max_bytes_) {
        rotate();
    }
    UniqueFd fd(::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640));
    bool ok = fd.valid();
    if (ok) {
        // One write(2) of a whole line: O_APPEND keeps lines from interleaving.
        const auto n = ::write(fd.get(), line.data(), line.size());
        ok = n == static_cast<ssize_t>(line.size());
    }
    if (!ok) {
        reports_.labels({"jsonl", "failed"}).inc();
        log_.warn("cannot write an error event", {{"file", path_}, {"error", std::strerror(errno)}});
        return;
    }
    reports_.labels({"jsonl", "written"}).inc();
}

}  // namespace levqor::controld::tracking
