// SPDX-License-Identifier: Apache-2.0
// Cron expressions in UTC (docs/controld.md, "Schedules"): the one cron
// grammar of controld — the scheduler's `schedules.<name>.cron` and the
// backup targets' `schedule` are both parsed here. Pure and thread-safe.
//
// Five fields, minute hour day-of-month month day-of-week, each `*`, a
// number, a range `a-b`, a step `*/n`, `a-b/n` or `a/n` (a to the field's
// maximum), or a list of those `a,b-c`; months JAN..DEC and weekdays
// SUN..SAT by name (any case); weekday 7 is Sunday. When both day-of-month
// and day-of-week are restricted (neither starts with `*`) a day matches
// either (the usual cron rule); otherwise both must match. Aliases: @yearly
// @annually @monthly @weekly @daily @midnight @hourly. UTC has no daylight
// saving time: every minute of every day exists exactly once.
//
// A test-only sixth leading field (seconds) is accepted when the caller
// allows it (LEVQOR_TEST_SCHEDULE_SECONDS=1, see test_seconds_allowed()).
#pragma once

#include <bitset>
#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace levqor::controld::schedule {

using Seconds = std::chrono::time_point<std::chrono::system_clock, std::chrono::seconds>;

// A refused expression; what() names the field: `field 2 (hour) "25": out of
// range 0-23`. An std::invalid_argument so the settings reader adds the key.
class CronError : public std::invalid_argument {
public:
    using std::invalid_argument::invalid_argument;
};

// How far next_after() looks: 9 years cover a Feb 29 after any date (2096
// to 2104 has none between).
inline constexpr int kCronHorizonDays = 9 * 366;

class Cron {
public:
    // Throws CronError; also for an expression that never matches (`0 0 31 2 *`).
    static Cron parse(std::string_view text, bool allow_seconds = false);

    // The first slot strictly after `t`, within kCronHorizonDays; nullopt when
    // none (never for an expression parse() accepted).
    std::optional<Seconds> next_after(Seconds t) const;

    const std::string& text() const { return text_; }
    bool has_seconds() const { return has_seconds_; }

private:
    bool day_matches(std::int64_t days_since_epoch) const;

    std::string text_;
    bool has_seconds_ = false;
    std::bitset<60> seconds_;
    std::bitset<60> minutes_;
    std::bitset<24> hours_;
    std::bitset<32> days_;     // 1..31
    std::bitset<13> months_;   // 1..12
    std::bitset<7> weekdays_;  // 0 = Sunday
    bool days_star_ = false;
    bool weekdays_star_ = false;
};

// True when the environment has LEVQOR_TEST_SCHEDULE_SECONDS=1 (tests only:
// a 6-field cron with a leading seconds field is then accepted).
bool test_seconds_allowed();

// True when the environment has LEVQOR_TEST_BUILTIN_SCHEDULES=off (tests
// only): the built-in schedules (metrics-daily-reset, abuse-purge, backup:<target>) are
// listed disabled unless configured, so a suite's controld never runs a
// reset or a backup because of the time of day it starts at (a catch-up).
bool test_builtins_off();

// "2026-11-29T00:05:00Z"
std::string iso_utc(Seconds t);

}  // namespace levqor::controld::schedule
