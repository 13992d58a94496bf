// SPDX-License-Identifier: Apache-2.0
// controld's structured log: one JSON object per line (stderr by default), with
// a minimum level a SIGHUP can change. Logger is thread-safe: lines from
// concurrent threads never interleave.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace levqor::controld {

enum class LogLevel { debug, info, warn, error };

std::string_view to_string(LogLevel level);
// "debug", "info", "warn" (or "warning"), "error"; nullopt for anything else.
std::optional<LogLevel> parse_log_level(std::string_view text);

// Structured logging: one JSON object per line,
//   {"ts":"2024-05-01T12:00:00.123Z","level":"info","msg":"listening","addr":"127.0.0.1:8089"}
// ts, level and msg come first; the caller's fields follow in their order and
// cannot overwrite those three. Strings that are not valid UTF-8 (a request
// path, say) are written with U+FFFD instead of failing.
//
// Thread-safety: every member function may be called concurrently. Each line
// reaches the sink in one call made under a mutex, so lines never interleave;
// the default sink writes each line to stderr with a single write(2).
class Logger {
public:
    using Fields = nlohmann::ordered_json;                    // an object, or null for none
    using Sink = std::function<void(std::string_view line)>;  // line ends in '\n'

    explicit Logger(LogLevel min_level = LogLevel::info, Sink sink = stderr_sink());

    bool enabled(LogLevel level) const { return level >= min_level_.load(std::memory_order_relaxed); }
    // For a SIGHUP that changes log_level; safe while other threads log.
    void set_min_level(LogLevel level) { min_level_.store(level, std::memory_order_relaxed); }
    void log(LogLevel level, std::string_view msg, const Fields& fields = nullptr) const;

    void debug(std::string_view msg, const Fields& fields = nullptr) const { log(LogLevel::debug, msg, fields); }
    void info(std::string_view msg, const Fields& fields = nullptr) const { log(LogLevel::info, msg, fields); }
    void warn(std::string_view msg, const Fields& fields = nullptr) const { log(LogLevel::warn, msg, fields); }
    void error(std::string_view msg, const Fields& fields = nullptr) const { log(LogLevel::error, msg, fields); }

    static Sink stderr_sink();

private:
    std::atomic<LogLevel> min_level_;
    Sink sink_;
    mutable std::mutex mutex_;
};

// Now as RFC 3339 UTC with milliseconds: "2024-05-01T12:00:00.123Z".
std::string utc_timestamp_now();

// The line Logger::log writes, without the trailing newline; exposed for tests.
std::string format_log_line(LogLevel level, std::string_view msg, const Logger::Fields& fields);

}  // namespace levqor::controld
