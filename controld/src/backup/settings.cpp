// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/backup/settings.h"

#include <set>

#include "levqor/controld/core/urls.h"
#include "levqor/controld/schedule/cron.h"

namespace levqor::controld::backup {
namespace {

using nlohmann::json;

bool valid_target_name(const std::string& name) {
    if (name.empty() || name.size() > 64) return false;
    return name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") ==
           std::string::npos;
}

const Keys<BackupTarget>& target_keys() {
    using S = BackupTarget;
    static const Keys<S> keys = {
        string_key<S>("name",
                      [](const std::string& v, S& out) {
                          if (!valid_target_name(v)) invalid("expected 1 to 64 letters, digits, '_' or '-'");
                          out.name = v;
                      }),
        string_key<S>("kind",
                      [](const std::string& v, S& out) {
                          if (v != "postgres" && v != "sqlite") invalid("expected postgres or sqlite");
                          out.kind = v;
                      }),
        string_key<S>("url",
                      [](const std::string& v, S& out) {
                          if (v.empty() || v.size() > 4096) invalid("expected a libpq URL or conninfo");
                          out.url = v;
                      }),
        string_key<S>("path",
                      [](const std::string& v, S& out) {
                          if (v.empty() || v.front() != '/') invalid("expected an absolute path");
                          out.path = path_value(v);
                      }),
        string_key<S>("schedule",
                      [](const std::string& v, S& out) {
                          check_schedule_text(v);
                          out.schedule = v;
                      }),
    };
    return keys;
}

std::vector<BackupTarget> read_targets(const SettingsReader& reader, const std::string& key, const json& value) {
    if (!value.is_array())
        reader.bad(key, value, "expected a list of {\"name\",\"kind\",\"url\"|\"path\",\"schedule\"}");
    if (value.size() > 100) reader.bad(key, value, "at most 100 targets");
    std::vector<BackupTarget> out;
    std::set<std::string> names;
    for (std::size_t i = 0; i < value.size(); ++i) {
        const auto k = key + "[" + std::to_string(i) + "]";
        const auto& spec = value[i];
        if (!spec.is_object()) reader.bad(k, spec, "expected an object");
        reader.check_keys(spec, k + ".", key_names(target_keys()));
        BackupTarget target;
        read_keys(reader, spec, k + ".", target_keys(), target);
        if (target.name.empty()) reader.bad(k, spec, "missing \"name\"");
        if (target.kind.empty()) reader.bad(k, spec, "missing \"kind\" (postgres or sqlite)");
        if (target.kind == "postgres") {
            if (target.url.empty()) reader.bad(k, spec, "a postgres target needs \"url\"");
            if (!target.path.empty())
                reader.bad(k + ".path", spec["path"], "a postgres target has \"url\", not \"path\"");
        } else {
            if (target.path.empty()) reader.bad(k, spec, "a sqlite target needs \"path\"");
            if (!target.url.empty()) reader.bad(k + ".url", spec["url"], "a sqlite target has \"path\", not \"url\"");
        }
        if (!names.insert(target.name).second) reader.bad(k + ".name", spec["name"], "another target has this name");
        out.push_back(std::move(target));
    }
    return out;
}

const Keys<BackupSettings>& section_keys() {
    using S = BackupSettings;
    static const Keys<S> keys = {
        string_key<S>("dir", [](const std::string& v, S& out) { out.dir = path_value(v); }),
        integer_key("retention_days", 0, 3650, &S::retention_days),
        {"encryption_key_file", [](const SettingsReader& r, const std::string& key, const json& value,
                                   S& out) { out.encryption_key_file = r.optional_path(key, value); }},
        string_key<S>("pg_bin_dir",
                      [](const std::string& v, S& out) { out.pg_bin_dir = v.empty() ? v : path_value(v); }),
        {"targets", [](const SettingsReader& r, const std::string& key, const json& value,
                       S& out) { out.targets = read_targets(r, key, value); }},
    };
    return keys;
}

const Keys<BackupSettings>& top_keys() {
    static const Keys<BackupSettings> keys = {section_key("backup", section_keys())};
    return keys;
}

}  // namespace

void check_schedule_text(const std::string& text) { schedule::Cron::parse(text, schedule::test_seconds_allowed()); }

ConfigPart config_part(BackupSettings& out) { return controld::config_part(top_keys(), out); }

nlohmann::ordered_json settings_json(const BackupSettings& s) {
    auto targets = nlohmann::ordered_json::array();
    for (const auto& t : s.targets) {
        nlohmann::ordered_json target = {{"name", t.name}, {"kind", t.kind}};
        if (t.kind == "postgres") {
            target["url"] = masked_connection_url(t.url);
        } else {
            target["path"] = t.path;
        }
        target["schedule"] = t.schedule;
        targets.push_back(std::move(target));
    }
    return {{"backup",
             {{"dir", s.dir},
              {"retention_days", s.retention_days},
              {"encryption_key_file", s.encryption_key_file ? nlohmann::ordered_json(*s.encryption_key_file)
                                                            : nlohmann::ordered_json(nullptr)},
              {"pg_bin_dir", s.pg_bin_dir},
              {"targets", std::move(targets)}}}};
}

}  // namespace levqor::controld::backup
