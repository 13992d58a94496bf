// SPDX-License-Identifier: Apache-2.0
// The cron grammar (schedule/cron.h): parsing, errors naming the field, and
// next_after() against a table of expressions and clock edges.
#include <ctime>

#include <gtest/gtest.h>

#include "levqor/controld/schedule/cron.h"

namespace levqor::controld::schedule {
namespace {

// "2026-02-28T23:59:00Z" -> Seconds.
Seconds at(const std::string& iso) {
    std::tm tm{};
    if (!strptime(iso.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm)) ADD_FAILURE() << "bad test time " << iso;
    return Seconds(std::chrono::seconds(timegm(&tm)));
}

std::string next_of(const std::string& expr, const std::string& after, bool seconds = false) {
    const auto next = Cron::parse(expr, seconds).next_after(at(after));
    return next ? iso_utc(*next) : "none";
}

std::string parse_error(const std::string& expr, bool seconds = false) {
    try {
        Cron::parse(expr, seconds);
    } catch (const CronError& e) {
        return e.what();
    }
    return "";
}

struct NextCase {
    const char* expr;
    const char* after;
    const char* next;
};

TEST(Cron, NextSlotTable) {
    const NextCase cases[] = {
        // strictly after: a time on a slot gives the following one
        {"5 0 * * *", "2026-11-29T00:05:00Z", "2026-11-30T00:05:00Z"},
        {"5 0 * * *", "2026-11-29T00:04:59Z", "2026-11-29T00:05:00Z"},
        {"* * * * *", "2026-11-29T10:00:00Z", "2026-11-29T10:01:00Z"},
        {"* * * * *", "2026-11-29T10:00:30Z", "2026-11-29T10:01:00Z"},
        // month ends and year rollover
        {"0 0 * * *", "2026-01-31T12:00:00Z", "2026-02-01T00:00:00Z"},
        {"0 0 * * *", "2026-04-30T23:59:59Z", "2026-05-01T00:00:00Z"},
        {"0 0 * * *", "2026-12-31T23:59:00Z", "2027-01-01T00:00:00Z"},
        {"59 23 31 12 *", "2026-12-31T23:59:00Z", "2027-12-31T23:59:00Z"},
        {"0 0 31 * *", "2026-01-31T00:00:00Z", "2026-03-31T00:00:00Z"},  // no Feb 31
        {"0 0 31 * *", "2026-05-31T00:00:00Z", "2026-07-31T00:00:00Z"},  // no Jun 31
        {"0 0 30 * *", "2026-01-30T00:00:00Z", "2026-03-30T00:00:00Z"},
        // leap day: Feb 29 only in leap years (2100 is not one)
        {"0 0 29 2 *", "2026-01-01T00:00:00Z", "2028-02-29T00:00:00Z"},
        {"0 0 29 2 *", "2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z"},
        {"0 0 29 2 *", "2097-01-01T00:00:00Z", "2104-02-29T00:00:00Z"},
        {"0 12 * 2 *", "2028-02-28T12:00:00Z", "2028-02-29T12:00:00Z"},
        {"0 12 * 2 *", "2027-02-28T12:00:00Z", "2028-02-01T12:00:00Z"},
        // ranges, lists, steps
        {"*/15 * * * *", "2026-11-29T10:14:00Z", "2026-11-29T10:15:00Z"},
        {"*/15 * * * *", "2026-11-29T10:45:00Z", "2026-11-29T11:00:00Z"},
        {"10-20/5 * * * *", "2026-11-29T10:15:00Z", "2026-11-29T10:20:00Z"},
        {"10-20/5 * * * *", "2026-11-29T10:20:00Z", "2026-11-29T11:10:00Z"},
        {"0 8,12,18 * * *", "2026-11-29T12:00:00Z", "2026-11-29T18:00:00Z"},
        {"0 9-17 * * *", "2026-11-29T17:00:00Z", "2026-11-30T09:00:00Z"},
        {"0 22/1 * * *", "2026-11-29T21:00:00Z", "2026-11-29T22:00:00Z"},  // a/n: a to the maximum
        // names, any case; weekday 7 is Sunday (2026-11-29 is a Sunday)
        {"0 0 1 jan *", "2026-11-29T00:00:00Z", "2027-01-01T00:00:00Z"},
        {"0 0 1 JUN-AUG *", "2026-06-01T00:00:00Z", "2026-07-01T00:00:00Z"},
        {"0 9 * * MON-FRI", "2026-11-27T09:00:00Z", "2026-11-30T09:00:00Z"},  // Fri -> Mon
        {"0 9 * * 7", "2026-11-28T00:00:00Z", "2026-11-29T09:00:00Z"},
        {"0 9 * * 0", "2026-11-28T00:00:00Z", "2026-11-29T09:00:00Z"},
        {"0 9 * * sun", "2026-11-28T00:00:00Z", "2026-11-29T09:00:00Z"},
        {"0 9 * * 5-7", "2026-11-28T09:00:00Z", "2026-11-29T09:00:00Z"},  // Sat -> Sun
        // day-of-month OR day-of-week when both are restricted
        {"0 0 13 * FRI", "2026-11-01T00:00:00Z", "2026-11-06T00:00:00Z"},  // a Friday before the 13th
        {"0 0 13 * FRI", "2026-11-07T00:00:00Z", "2026-11-13T00:00:00Z"},
        {"0 0 1 * MON", "2026-11-29T00:00:00Z", "2026-11-30T00:00:00Z"},  // Monday comes first
        // ... and both when one starts with '*'
        {"0 0 */2 * MON", "2026-11-29T00:00:00Z", "2026-12-07T00:00:00Z"},  // odd days that are Mondays
        {"0 0 1 * *", "2026-11-29T00:00:00Z", "2026-12-01T00:00:00Z"},
        // aliases
        {"@yearly", "2026-11-29T00:00:00Z", "2027-01-01T00:00:00Z"},
        {"@annually", "2026-11-29T00:00:00Z", "2027-01-01T00:00:00Z"},
        {"@monthly", "2026-11-29T00:00:00Z", "2026-12-01T00:00:00Z"},
        {"@weekly", "2026-11-29T00:00:00Z", "2026-12-06T00:00:00Z"},
        {"@daily", "2026-11-29T00:00:00Z", "2026-11-30T00:00:00Z"},
        {"@midnight", "2026-11-29T23:59:59Z", "2026-11-30T00:00:00Z"},
        {"@HOURLY", "2026-11-29T10:59:59Z", "2026-11-29T11:00:00Z"},
        // whitespace between fields
        {"  5\t0  * * * ", "2026-11-29T00:00:00Z", "2026-11-29T00:05:00Z"},
    };
    for (const auto& c : cases) {
        EXPECT_EQ(next_of(c.expr, c.after), c.next) << c.expr << " after " << c.after;
    }
}

TEST(Cron, UtcHasNoDaylightSavingTime) {
    // EU (last Sunday of March and October) and US (second Sunday of March,
    // first of November) switch dates in 2026: 02:30 UTC exists once, and the
    // day has 24 hours of slots.
    for (const char* day : {"2026-03-29", "2026-10-25", "2026-03-08", "2026-11-01"}) {
        const auto cron = Cron::parse("30 2 * * *");
        const auto first = cron.next_after(at(std::string(day) + "T00:00:00Z"));
        ASSERT_TRUE(first);
        EXPECT_EQ(iso_utc(*first), std::string(day) + "T02:30:00Z");
        const auto second = cron.next_after(*first);
        ASSERT_TRUE(second);
        EXPECT_EQ((*second - *first).count(), 86400) << day;

        const auto every = Cron::parse("*/30 * * * *");
        auto t = at(std::string(day) + "T00:00:00Z") - std::chrono::seconds(1);
        int slots = 0;
        int at_0230 = 0;
        while (true) {
            t = *every.next_after(t);
            if (iso_utc(t).substr(0, 10) != day) break;
            ++slots;
            if (iso_utc(t).substr(11) == "02:30:00Z") ++at_0230;
        }
        EXPECT_EQ(slots, 48) << day;
        EXPECT_EQ(at_0230, 1) << day;
    }
}

TEST(Cron, SecondsFieldOnlyWhenAllowed) {
    EXPECT_EQ(next_of("*/2 * * * * *", "2026-11-29T10:00:00Z", true), "2026-11-29T10:00:02Z");
    EXPECT_EQ(next_of("30 5 0 * * *", "2026-11-29T00:05:30Z", true), "2026-11-30T00:05:30Z");
    EXPECT_EQ(parse_error("*/2 * * * * *"),
              "expected 5 fields (minute hour day-of-month month day-of-week) or an @alias, found 6 "
              "(a leading seconds field is for tests only)");
    EXPECT_EQ(parse_error("60 * * * * *", true), "field 1 (second) \"60\": out of range 0-59");
    EXPECT_EQ(parse_error("0 * 24 * * *", true), "field 3 (hour) \"24\": out of range 0-23");
    EXPECT_FALSE(Cron::parse("5 0 * * *", true).has_seconds());
}

TEST(Cron, ErrorsNameTheField) {
    const std::pair<const char*, const char*> cases[] = {
        {"0 25 * * *", "field 2 (hour) \"25\": out of range 0-23"},
        {"60 0 * * *", "field 1 (minute) \"60\": out of range 0-59"},
        {"0 0 0 * *", "field 3 (day-of-month) \"0\": out of range 1-31"},
        {"0 0 32 * *", "field 3 (day-of-month) \"32\": out of range 1-31"},
        {"0 0 * 13 *", "field 4 (month) \"13\": out of range 1-12"},
        {"0 0 * * 8", "field 5 (day-of-week) \"8\": out of range 0-7"},
        {"0 1,25 * * *", "field 2 (hour) \"25\": out of range 0-23"},
        {"0 5-1 * * *", "field 2 (hour) \"5-1\": a range goes up (1-5, not 5-1)"},
        {"*/0 * * * *", "field 1 (minute) \"*/0\": step out of range 1-59"},
        {"*/ * * * *", "field 1 (minute) \"*/\": expected a step number after '/'"},
        {"x * * * *", "field 1 (minute) \"x\": expected a number"},
        {"0 0 * FOO *", "field 4 (month) \"FOO\": unknown name \"FOO\" (expected JAN..DEC)"},
        {"0 0 * * FUN", "field 5 (day-of-week) \"FUN\": unknown name \"FUN\" (expected SUN..SAT)"},
        {"0 0 * * -1", "field 5 (day-of-week) \"-1\": expected a number"},
        {"0 0 1,,2 * *", "field 3 (day-of-month) \"1,,2\": empty list item"},
        {"0 0 * *", "expected 5 fields (minute hour day-of-month month day-of-week) or an @alias, found 4"},
        {"", "expected 5 fields (minute hour day-of-month month day-of-week) or an @alias, found 0"},
        {"@often",
         "unknown alias \"@often\" (expected @yearly, @annually, @monthly, @weekly, @daily, @midnight or "
         "@hourly)"},
        // never matches: refused at parse
        {"0 0 31 2 *", "field 3 (day-of-month) \"31\": never matches in the months of field 4 (\"2\")"},
        {"0 0 30,31 FEB *", "field 3 (day-of-month) \"30,31\": never matches in the months of field 4 (\"FEB\")"},
        {"0 0 31 4,6,9,11 *", "field 3 (day-of-month) \"31\": never matches in the months of field 4 (\"4,6,9,11\")"},
    };
    for (const auto& [expr, error] : cases) EXPECT_EQ(parse_error(expr), error) << expr;
    EXPECT_EQ(parse_error(std::string(201, '*')), "too long (at most 200 characters)");
    EXPECT_EQ(parse_error("0 0 29 2 *"), "");    // leap years have it
    EXPECT_EQ(parse_error("0 0 31 2 MON"), "");  // or: Mondays in February
}

TEST(Cron, IsoUtc) {
    EXPECT_EQ(iso_utc(at("2026-11-29T00:05:00Z")), "2026-11-29T00:05:00Z");
    EXPECT_EQ(iso_utc(Seconds(std::chrono::seconds(0))), "1970-01-01T00:00:00Z");
}

}  // namespace
}  // namespace levqor::controld::schedule
