// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/schedule/cron.h"

#include <cctype>
#include <cstdlib>
#include <ctime>
#include <vector>

namespace levqor::controld::schedule {
namespace {

struct CronField {
    const char* name;
    int min;
    int max;
    const char* const* names;  // 3-letter names for min.., or nullptr
};

const char* const kMonthNames[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",  "JUL",
                                   "AUG", "SEP", "OCT", "NOV", "DEC", nullptr};
const char* const kWeekdayNames[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", nullptr};

const CronField kSecondField{"second", 0, 59, nullptr};
const CronField kCronFields[] = {
    {"minute", 0, 59, nullptr},           {"hour", 0, 23, nullptr},
    {"day-of-month", 1, 31, nullptr},     {"month", 1, 12, kMonthNames},
    {"day-of-week", 0, 7, kWeekdayNames},
};

struct FieldError {
    int number;
    const CronField& field;

    [[noreturn]] void fail(std::string_view item, const std::string& why) const {
        throw CronError("field " + std::to_string(number) + " (" + field.name + ") \"" + std::string(item) +
                        "\": " + why);
    }
};

std::string upper(std::string_view text) {
    std::string out(text);
    for (auto& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return out;
}

int cron_value(std::string_view token, std::string_view item, const FieldError& where) {
    const auto& field = where.field;
    if (token.empty()) where.fail(item, "expected a number");
    if (std::isalpha(static_cast<unsigned char>(token.front()))) {
        if (field.names) {
            const auto name = upper(token);
            for (int i = 0; field.names[i]; ++i) {
                if (name == field.names[i]) return field.min + i;
            }
            where.fail(item, std::string("unknown name \"") + std::string(token) + "\" (expected " + field.names[0] +
                                 ".." + (field.min == 0 ? "SAT" : "DEC") + ")");
        }
        where.fail(item, "expected a number");
    }
    if (token.size() > 4 || token.find_first_not_of("0123456789") != std::string_view::npos) {
        where.fail(item, "expected a number");
    }
    const int value = std::atoi(std::string(token).c_str());
    if (value < field.min || value > field.max) {
        where.fail(item, "out of range " + std::to_string(field.min) + "-" + std::to_string(field.max));
    }
    return value;
}

// One field: a list of items, each *, a, a-b, with an optional /step.
// Returns the values (dow 7 included as 7).
std::vector<bool> cron_field_values(std::string_view text, const FieldError& where) {
    const auto& field = where.field;
    std::vector<bool> out(static_cast<std::size_t>(field.max + 1), false);
    std::size_t start = 0;
    while (true) {
        const auto comma = text.find(',', start);
        const auto item = text.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
        if (item.empty()) where.fail(text, "empty list item");
        auto base = item;
        int step = 1;
        bool stepped = false;
        if (const auto slash = item.find('/'); slash != std::string_view::npos) {
            const auto step_text = item.substr(slash + 1);
            if (step_text.empty() || step_text.size() > 4 ||
                step_text.find_first_not_of("0123456789") != std::string_view::npos) {
                where.fail(item, "expected a step number after '/'");
            }
            step = std::atoi(std::string(step_text).c_str());
            if (step < 1 || step > field.max) {
                where.fail(item, "step out of range 1-" + std::to_string(field.max));
            }
            base = item.substr(0, slash);
            stepped = true;
        }
        int low = field.min;
        int high = field.max;
        if (base == "*") {
            if (field.max == 7) high = 6;  // */2 in day-of-week: 0,2,4,6
        } else if (const auto dash = base.find('-'); dash != std::string_view::npos) {
            low = cron_value(base.substr(0, dash), item, where);
            high = cron_value(base.substr(dash + 1), item, where);
            if (low > high) {
                where.fail(item, "a range goes up (" + std::to_string(high) + "-" + std::to_string(low) + ", not " +
                                     std::to_string(low) + "-" + std::to_string(high) + ")");
            }
        } else {
            low = cron_value(base, item, where);
            high = stepped ? field.max : low;
        }
        for (int v = low; v <= high; v += step) out[static_cast<std::size_t>(v)] = true;
        if (comma == std::string_view::npos) break;
        start = comma + 1;
    }
    return out;
}

template <std::size_t N>
void set_bits(std::bitset<N>& bits, const std::vector<bool>& values) {
    for (std::size_t v = 0; v < values.size(); ++v) {
        if (values[v]) bits.set(v % N);
    }
}

std::string_view cron_alias(std::string_view text) {
    const auto name = upper(text);
    if (name == "@YEARLY" || name == "@ANNUALLY") return "0 0 1 1 *";
    if (name == "@MONTHLY") return "0 0 1 * *";
    if (name == "@WEEKLY") return "0 0 * * 0";
    if (name == "@DAILY" || name == "@MIDNIGHT") return "0 0 * * *";
    if (name == "@HOURLY") return "0 * * * *";
    throw CronError("unknown alias \"" + std::string(text) +
                    "\" (expected @yearly, @annually, @monthly, @weekly, @daily, @midnight or @hourly)");
}

std::tm utc_day(std::int64_t days_since_epoch) {
    const std::time_t t = static_cast<std::time_t>(days_since_epoch * 86400);
    std::tm tm{};
    gmtime_r(&t, &tm);
    return tm;
}

}  // namespace

Cron Cron::parse(std::string_view text, bool allow_seconds) {
    if (text.size() > 200) throw CronError("too long (at most 200 characters)");
    Cron cron;
    cron.text_ = std::string(text);
    std::vector<std::string_view> fields;
    std::size_t i = 0;
    while (i < text.size()) {
        while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
        const auto begin = i;
        while (i < text.size() && text[i] != ' ' && text[i] != '\t') ++i;
        if (i > begin) fields.push_back(text.substr(begin, i - begin));
    }
    if (fields.size() == 1 && fields.front().front() == '@') {
        auto alias = parse(cron_alias(fields.front()));
        alias.text_ = cron.text_;
        return alias;
    }
    const bool seconds = fields.size() == 6 && allow_seconds;
    if (fields.size() != 5 && !seconds) {
        std::string why = "expected 5 fields (minute hour day-of-month month day-of-week) or an @alias, found " +
                          std::to_string(fields.size());
        if (fields.size() == 6) why += " (a leading seconds field is for tests only)";
        throw CronError(why);
    }
    cron.has_seconds_ = seconds;
    std::size_t first = 0;
    if (seconds) {
        set_bits(cron.seconds_, cron_field_values(fields[0], FieldError{1, kSecondField}));
        first = 1;
    } else {
        cron.seconds_.set(0);
    }
    std::vector<bool> values[5];
    for (std::size_t f = 0; f < 5; ++f) {
        values[f] = cron_field_values(fields[first + f], FieldError{static_cast<int>(first + f + 1), kCronFields[f]});
    }
    set_bits(cron.minutes_, values[0]);
    set_bits(cron.hours_, values[1]);
    set_bits(cron.days_, values[2]);
    set_bits(cron.months_, values[3]);
    set_bits(cron.weekdays_, values[4]);
    cron.days_star_ = fields[first + 2].front() == '*';
    cron.weekdays_star_ = fields[first + 4].front() == '*';
    if (!cron.next_after(Seconds(std::chrono::seconds(0)))) {
        throw CronError("field " + std::to_string(first + 3) + " (day-of-month) \"" + std::string(fields[first + 2]) +
                        "\": never matches in the months of field " + std::to_string(first + 4) + " (\"" +
                        std::string(fields[first + 3]) + "\")");
    }
    return cron;
}

bool Cron::day_matches(std::int64_t days_since_epoch) const {
    const auto tm = utc_day(days_since_epoch);
    if (!months_.test(static_cast<std::size_t>(tm.tm_mon + 1))) return false;
    const bool day = days_.test(static_cast<std::size_t>(tm.tm_mday));
    const bool weekday = weekdays_.test(static_cast<std::size_t>(tm.tm_wday));
    if (days_star_ || weekdays_star_) return day && weekday;
    return day || weekday;
}

std::optional<Seconds> Cron::next_after(Seconds t) const {
    const std::int64_t start = t.time_since_epoch().count() + 1;
    std::int64_t day = start / 86400;
    if (start % 86400 < 0) --day;
    std::int64_t from = start - day * 86400;
    for (int n = 0; n <= kCronHorizonDays; ++n, ++day, from = 0) {
        if (!day_matches(day)) continue;
        for (int h = 0; h < 24; ++h) {
            if (!hours_.test(static_cast<std::size_t>(h)) || (h + 1) * 3600 <= from) continue;
            for (int m = 0; m < 60; ++m) {
                const int base = h * 3600 + m * 60;
                if (!minutes_.test(static_cast<std::size_t>(m)) || base + 59 < from) continue;
                for (int s = 0; s < 60; ++s) {
                    if (seconds_.test(static_cast<std::size_t>(s)) && base + s >= from) {
                        return Seconds(std::chrono::seconds(day * 86400 + base + s));
                    }
                }
            }
        }
    }
    return std::nullopt;
}

bool test_seconds_allowed() {
    const char* value = std::getenv("LEVQOR_TEST_SCHEDULE_SECONDS");
    return value && std::string_view(value) == "1";
}

bool test_builtins_off() {
    const char* value = std::getenv("LEVQOR_TEST_BUILTIN_SCHEDULES");
    return value && std::string_view(value) == "off";
}

std::string iso_utc(Seconds t) {
    const std::time_t time = static_cast<std::time_t>(t.time_since_epoch().count());
    std::tm tm{};
    gmtime_r(&time, &tm);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return text;
}

}  // namespace levqor::controld::schedule
