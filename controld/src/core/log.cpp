// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/core/log.h"

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <ctime>

namespace levqor::controld {

std::string utc_timestamp_now() {
    using namespace std::chrono;
    const auto now = system_clock::now();
    const auto secs = system_clock::to_time_t(now);
    const auto millis = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
    std::tm tm{};
    ::gmtime_r(&secs, &tm);
    char buf[32];
    const auto len = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    char out[40];
    std::snprintf(out, sizeof out, "%.*s.%03dZ", static_cast<int>(len), buf, static_cast<int>(millis));
    return out;
}

namespace {

void write_all(int fd, std::string_view data) {
    while (!data.empty()) {
        const auto n = ::write(fd, data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            return;  // nowhere left to report a failing stderr
        }
        data.remove_prefix(static_cast<std::size_t>(n));
    }
}

}  // namespace

std::string_view to_string(LogLevel level) {
    switch (level) {
        case LogLevel::debug:
            return "debug";
        case LogLevel::info:
            return "info";
        case LogLevel::warn:
            return "warn";
        case LogLevel::error:
            return "error";
    }
    return "unknown";
}

std::optional<LogLevel> parse_log_level(std::string_view text) {
    if (text == "debug") return LogLevel::debug;
    if (text == "info") return LogLevel::info;
    if (text == "warn" || text == "warning") return LogLevel::warn;
    if (text == "error") return LogLevel::error;
    return std::nullopt;
}

std::string format_log_line(LogLevel level, std::string_view msg, const Logger::Fields& fields) {
    Logger::Fields line = Logger::Fields::object();
    line["ts"] = utc_timestamp_now();
    line["level"] = to_string(level);
    line["msg"] = msg;
    if (fields.is_object()) {
        for (const auto& [key, value] : fields.items()) {
            if (!line.contains(key)) line[key] = value;
        }
    }
    return line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

Logger::Logger(LogLevel min_level, Sink sink) : min_level_(min_level), sink_(std::move(sink)) {}

void Logger::log(LogLevel level, std::string_view msg, const Fields& fields) const {
    if (!enabled(level)) return;
    auto line = format_log_line(level, msg, fields);
    line += '\n';
    std::lock_guard<std::mutex> lock(mutex_);
    sink_(line);
}

Logger::Sink Logger::stderr_sink() {
    return [](std::string_view line) { write_all(STDERR_FILENO, line); };
}

}  // namespace levqor::controld
