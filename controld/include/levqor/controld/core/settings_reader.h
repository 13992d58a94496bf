// SPDX-License-Identifier: Apache-2.0
// The generic half of controld's configuration: how a component's settings
// are read from the JSON config file and from the environment, with error
// messages that name the file, the key (or variable), the value and what
// would be accepted. A component declares each of its keys once, in a Keys
// table (name + how the value is read into its settings struct); the same
// table answers "is this key known?" (unknown keys are errors, with a "did
// you mean" suggestion) and reads the value. core/config.h composes the
// components' tables into the whole file. Nothing here knows a component's
// keys. Plain functions and immutable readers: thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace levqor::controld {

// A configuration value that cannot be used. what() names the setting (the
// environment variable or the file and key), the value and what would be
// accepted; the daemon prints it and exits 2.
class ConfigError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Looks up an environment variable; nullopt when it is not set.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;
EnvLookup process_environment();

// ---- value checks shared by the file and the environment ----------------------
// Each throws std::invalid_argument with the reason; the reader that called
// it says where the value came from.

[[noreturn]] void invalid(const std::string& why);
// JSON-quoted, for messages: "a \"b\"".
std::string quoted(const std::string& value);
// A path made absolute and normal; "empty path" when empty.
std::string path_value(const std::string& text);
// "a, b,,c" -> {"a", "b", "c"}
std::vector<std::string> split_commas(const std::string& text);
// A check made of a parser that throws std::invalid_argument for what it
// refuses (redis_server_url, ...): the text itself, as given, once accepted.
template <typename Parse>
auto accepted_by(Parse parse) {
    return [parse](const std::string& text) {
        parse(text);
        return text;
    };
}

// ---- the file -------------------------------------------------------------------

// Reads typed values out of one config file's JSON. Every error is a
// ConfigError that starts with `config file "<path>": "<key>"`.
class SettingsReader {
public:
    explicit SettingsReader(std::string path) : path_(std::move(path)) {}

    // The file's top-level object (at most 4 MiB, comments allowed). Throws
    // ConfigError when it is missing, a directory, too large, not JSON or not
    // an object.
    nlohmann::json read_file() const;

    // `config file "<path>": "<key>"`
    std::string where(const std::string& key) const;
    // ConfigError: `config file "<path>": <what>`.
    [[noreturn]] void fail(const std::string& what) const;
    // ConfigError: `config file "<path>": "<key>" = <value> is invalid: <why>`.
    [[noreturn]] void bad(const std::string& key, const nlohmann::json& value, const std::string& why) const;
    // Refuses a key of `object` that is not in `known`, suggesting the closest
    // one and listing them all. prefix: "queue." for the queue section.
    void check_keys(const nlohmann::json& object, const std::string& prefix,
                    const std::vector<std::string>& known) const;

    // apply(the string) for a string value; a std::invalid_argument from apply
    // becomes a ConfigError naming key and value.
    template <typename Apply>
    void string_value(const std::string& key, const nlohmann::json& value, Apply&& apply) const {
        if (!value.is_string()) bad(key, value, "expected a string");
        try {
            apply(value.template get<std::string>());
        } catch (const std::invalid_argument& e) {
            bad(key, value, e.what());
        }
    }
    // A whole number from min to max.
    std::int64_t integer(const std::string& key, const nlohmann::json& value, std::int64_t min, std::int64_t max) const;
    bool boolean(const std::string& key, const nlohmann::json& value) const;
    // A list of strings, each passed through check(string) -> string.
    template <typename Check>
    std::vector<std::string> string_list(const std::string& key, const nlohmann::json& list, Check&& check) const {
        if (!list.is_array()) bad(key, list, "expected a list of strings");
        std::vector<std::string> out;
        for (std::size_t i = 0; i < list.size(); ++i) {
            string_value(key + "[" + std::to_string(i) + "]", list[i],
                         [&](const std::string& v) { out.push_back(check(v)); });
        }
        return out;
    }
    // null or "" unsets; anything else is a string passed through check.
    template <typename Check>
    std::optional<std::string> optional_string(const std::string& key, const nlohmann::json& value,
                                               Check&& check) const {
        if (value.is_null() || (value.is_string() && value.template get<std::string>().empty())) {
            return std::nullopt;
        }
        std::optional<std::string> out;
        string_value(key, value, [&](const std::string& v) { out = check(v); });
        return out;
    }
    // null unsets; anything else is a path (made absolute).
    std::optional<std::string> optional_path(const std::string& key, const nlohmann::json& value) const;

private:
    std::string path_;
};

// One key of a settings struct S, declared once: its name, and how its value
// is read into S. `key` is the full name for messages ("queue.workers").
template <typename S>
struct Key {
    std::string name;
    std::function<void(const SettingsReader& reader, const std::string& key, const nlohmann::json& value, S& out)> read;
};
template <typename S>
using Keys = std::vector<Key<S>>;

template <typename S>
std::vector<std::string> key_names(const Keys<S>& keys) {
    std::vector<std::string> names;
    names.reserve(keys.size());
    for (const auto& key : keys) names.push_back(key.name);
    return names;
}

// Reads the keys of `keys` that `object` has, in the table's order. Unknown
// keys are the caller's business (read_section checks them).
template <typename S>
void read_keys(const SettingsReader& reader, const nlohmann::json& object, const std::string& prefix,
               const Keys<S>& keys, S& out) {
    for (const auto& key : keys) {
        const auto found = object.find(key.name);
        if (found != object.end()) key.read(reader, prefix + key.name, *found, out);
    }
}

namespace settings_detail {
// T, in a context that does not deduce it (a lambda converts to a
// std::function of the S the table already named).
template <typename T>
struct same {
    using type = T;
};
template <typename T>
using same_t = typename same<T>::type;

template <typename T>
struct is_duration : std::false_type {};
template <typename Rep, typename Period>
struct is_duration<std::chrono::duration<Rep, Period>> : std::true_type {};

// A whole number as the field's type: a count, or a duration in the field's
// own unit (so "timeout_ms" goes into milliseconds, "retention_s" into seconds).
template <typename Field>
Field from_integer(std::int64_t value) {
    if constexpr (is_duration<Field>::value) {
        return Field(value);
    } else {
        return static_cast<Field>(value);
    }
}
}  // namespace settings_detail

// ---- key declarations -------------------------------------------------------------

// A whole number from min to max into S::*field (an integer or a duration).
template <typename S, typename Field>
Key<S> integer_key(std::string name, std::int64_t min, std::int64_t max, Field S::*field) {
    return {std::move(name), [min, max, field](const SettingsReader& reader, const std::string& key,
                                               const nlohmann::json& value, S& out) {
                out.*field = settings_detail::from_integer<Field>(reader.integer(key, value, min, max));
            }};
}

// true or false into S::*field.
template <typename S>
Key<S> boolean_key(std::string name, bool S::*field) {
    return {std::move(name), [field](const SettingsReader& reader, const std::string& key, const nlohmann::json& value,
                                     S& out) { out.*field = reader.boolean(key, value); }};
}

// A string handed to apply(string, S&), which may throw std::invalid_argument.
template <typename S, typename Apply>
Key<S> string_key(std::string name, Apply apply) {
    return {std::move(name),
            [apply](const SettingsReader& reader, const std::string& key, const nlohmann::json& value, S& out) {
                reader.string_value(key, value, [&](const std::string& v) { apply(v, out); });
            }};
}

// A nested object ("queue": {...}) whose keys are `keys`, into the same S;
// then check(reader, prefix, out) for rules that span several keys.
template <typename S>
using SectionCheck = std::function<void(const SettingsReader&, const std::string& prefix, S&)>;

template <typename S>
void read_section(const SettingsReader& reader, const std::string& key, const nlohmann::json& value,
                  const Keys<S>& keys, S& out, const SectionCheck<settings_detail::same_t<S>>& check = nullptr) {
    if (!value.is_object()) reader.bad(key, value, "expected an object");
    const auto prefix = key + ".";
    reader.check_keys(value, prefix, key_names(keys));
    read_keys(reader, value, prefix, keys, out);
    if (check) check(reader, prefix, out);
}

template <typename S>
Key<S> section_key(std::string name, const Keys<S>& keys, SectionCheck<settings_detail::same_t<S>> check = nullptr) {
    return {std::move(name),
            [&keys, check](const SettingsReader& reader, const std::string& key, const nlohmann::json& value, S& out) {
                read_section(reader, key, value, keys, out, check);
            }};
}

// ---- the environment ----------------------------------------------------------------

// Reads environment variables. Every error is a ConfigError
// `NAME="value" is invalid: <why>`.
class EnvReader {
public:
    explicit EnvReader(const EnvLookup& env) : env_(env) {}

    // Calls apply(value) when `name` is set; a std::invalid_argument from it
    // becomes a ConfigError naming the variable and the value.
    template <typename Apply>
    void with(const std::string& name, Apply&& apply) const {
        const auto value = env_(name);
        if (!value) return;
        try {
            apply(*value);
        } catch (const std::invalid_argument& e) {
            throw ConfigError(name + "=" + quoted(*value) + " is invalid: " + e.what());
        }
    }

    // An optional setting: set and non-empty replaces it, set and empty clears it.
    template <typename Check>
    void optional(const std::string& name, std::optional<std::string>& out, Check&& check) const {
        with(name, [&](const std::string& v) {
            if (v.empty()) {
                out.reset();
            } else {
                out = check(v);
            }
        });
    }

private:
    const EnvLookup& env_;
};

}  // namespace levqor::controld
