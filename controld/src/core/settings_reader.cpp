// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/core/settings_reader.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "levqor/controld/core/files.h"
#include "levqor/controld/core/json.h"
#include "levqor/controld/core/text.h"

namespace levqor::controld {
namespace {

using nlohmann::json;

// A config file is a few KiB; this only stops a wrong path (a log, a dump)
// from being read whole.
constexpr std::size_t kMaxConfigBytes = 4 * 1024 * 1024;

std::string join(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
    return out;
}

std::size_t edit_distance(const std::string& a, const std::string& b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diagonal = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t above = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
            diagonal = above;
        }
    }
    return row[b.size()];
}

}  // namespace

EnvLookup process_environment() {
    return [](const std::string& name) -> std::optional<std::string> {
        // getenv is safe here: nothing in controld modifies the environment.
        if (const char* value = std::getenv(name.c_str())) return std::string(value);
        return std::nullopt;
    };
}

void invalid(const std::string& why) { throw std::invalid_argument(why); }

std::string quoted(const std::string& value) {
    return json(value).dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string path_value(const std::string& text) {
    if (text.empty()) invalid("empty path");
    return std::filesystem::absolute(text).lexically_normal().string();
}

std::vector<std::string> split_commas(const std::string& text) {
    std::vector<std::string> out;
    std::stringstream in(text);
    for (std::string item; std::getline(in, item, ',');) {
        const auto trimmed = trim(item);
        if (!trimmed.empty()) out.emplace_back(trimmed);
    }
    return out;
}

json SettingsReader::read_file() const {
    std::error_code ec;
    const auto status = std::filesystem::status(path_, ec);
    if (!std::filesystem::exists(status)) {
        throw ConfigError("config file " + quoted(path_) +
                          " (from --config) does not exist; fix the path or omit --config to "
                          "run on defaults and the environment");
    }
    if (std::filesystem::is_directory(status)) {
        throw ConfigError("config file " + quoted(path_) + " (from --config) is a directory");
    }
    const auto size = std::filesystem::file_size(path_, ec);
    if (!ec && size > kMaxConfigBytes) {
        throw ConfigError("config file " + quoted(path_) + " is " + std::to_string(size) + " bytes; the limit is " +
                          std::to_string(kMaxConfigBytes));
    }
    std::optional<std::string> text;
    try {
        text = read_file_if_exists(path_);
    } catch (const FileError& e) {
        throw ConfigError("config file " + quoted(path_) + " (from --config) cannot be read: " + e.what());
    }
    if (!text) {
        throw ConfigError("config file " + quoted(path_) + " (from --config) does not exist");
    }
    json root;
    try {
        root = parse_json(*text, JsonLimits{kMaxConfigBytes, kMaxJsonDepth, /*comments=*/true});
    } catch (const JsonError& e) {
        throw ConfigError("config file " + quoted(path_) +
                          (e.kind() == JsonError::Kind::syntax ? " is not valid JSON: " : " is refused: ") + e.what());
    }
    if (!root.is_object()) {
        throw ConfigError("config file " + quoted(path_) + ": the top level must be a JSON object");
    }
    return root;
}

std::string SettingsReader::where(const std::string& key) const {
    return "config file " + quoted(path_) + ": " + quoted(key);
}

void SettingsReader::fail(const std::string& what) const {
    throw ConfigError("config file " + quoted(path_) + ": " + what);
}

void SettingsReader::bad(const std::string& key, const json& value, const std::string& why) const {
    throw ConfigError(where(key) + " = " + value.dump(-1, ' ', false, json::error_handler_t::replace) +
                      " is invalid: " + why);
}

void SettingsReader::check_keys(const json& object, const std::string& prefix,
                                const std::vector<std::string>& known) const {
    for (const auto& [key, value] : object.items()) {
        if (std::find(known.begin(), known.end(), key) != known.end()) continue;
        std::string message = "unknown key " + quoted(prefix + key);
        for (const auto& candidate : known) {
            if (edit_distance(key, candidate) <= 2) {
                message += " (did you mean " + quoted(prefix + candidate) + "?)";
                break;
            }
        }
        fail(message + "; known keys" + (prefix.empty() ? "" : " in " + quoted(prefix.substr(0, prefix.size() - 1))) +
             ": " + join(known));
    }
}

std::int64_t SettingsReader::integer(const std::string& key, const json& value, std::int64_t min,
                                     std::int64_t max) const {
    const std::string range = "expected a whole number from " + std::to_string(min) + " to " + std::to_string(max);
    if (!value.is_number_integer()) bad(key, value, range);
    const auto n =
        value.is_number_unsigned()
            ? static_cast<std::int64_t>(std::min<std::uint64_t>(value.get<std::uint64_t>(), std::uint64_t(INT64_MAX)))
            : value.get<std::int64_t>();
    if (n < min || n > max) bad(key, value, range);
    return n;
}

bool SettingsReader::boolean(const std::string& key, const json& value) const {
    if (!value.is_boolean()) bad(key, value, "expected true or false");
    return value.get<bool>();
}

std::optional<std::string> SettingsReader::optional_path(const std::string& key, const json& value) const {
    if (value.is_null()) return std::nullopt;
    std::optional<std::string> out;
    string_value(key, value, [&](const std::string& v) { out = path_value(v); });
    return out;
}

}  // namespace levqor::controld
