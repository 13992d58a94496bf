// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/queue/settings.h"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>

#include "levqor/controld/core/job_url.h"

namespace levqor::controld::queue {
namespace {

using nlohmann::json;

const auto prefix_value = accepted_by(normalize_job_url_prefix);

// getpwnam_r/getgrnam_r with a buffer that grows until the entry fits.
template <typename Entry, typename Lookup>
bool lookup_entry(const std::string& name, Entry& entry, Lookup&& lookup) {
    std::vector<char> buffer(1024);
    for (;;) {
        Entry* found = nullptr;
        const int rc = lookup(name.c_str(), &entry, buffer.data(), buffer.size(), &found);
        if (rc == ERANGE && buffer.size() < (1u << 20)) {
            buffer.resize(buffer.size() * 2);
            continue;
        }
        return rc == 0 && found != nullptr;
    }
}

void resolve_user(const std::string& name, ExecCommand& command, gid_t& primary_gid) {
    struct passwd entry {};
    if (name.empty() || !lookup_entry(name, entry, ::getpwnam_r)) {
        invalid("no such user on this system (getent passwd " + name + ")");
    }
    command.user = name;
    command.uid = entry.pw_uid;
    primary_gid = entry.pw_gid;
}

void resolve_group(const std::string& name, ExecCommand& command) {
    struct group entry {};
    if (name.empty() || !lookup_entry(name, entry, ::getgrnam_r)) {
        invalid("no such group on this system (getent group " + name + ")");
    }
    command.group = name;
    command.gid = entry.gr_gid;
}

// ---- queue.exec.<name> ------------------------------------------------------------

// One command while it is read: "user" and "group" are resolved to ids now,
// so a typo stops the start rather than every job.
struct ExecFields {
    ExecCommand command;
    std::optional<gid_t> primary_gid;  // the user's, for a command without "group"
};

void read_exec_env(const SettingsReader& reader, const std::string& key, const json& env, ExecCommand& command) {
    if (!env.is_object()) reader.bad(key, env, "expected an object of NAME -> value");
    for (const auto& [var, val] : env.items()) {
        if (var.empty() || var.find('=') != std::string::npos) {
            reader.bad(key, env, "variable names are non-empty and have no '='");
        }
        // variable = var: a structured binding cannot be captured in C++17 (clang refuses).
        reader.string_value(key + "." + var, val,
                            [&, variable = var](const std::string& v) { command.env.emplace_back(variable, v); });
    }
}

const Keys<ExecFields>& exec_keys() {
    using S = ExecFields;
    static const Keys<S> keys = {
        string_key<S>("path",
                      [](const std::string& v, S& out) {
                          if (v.empty() || v.front() != '/') {
                              invalid("expected an absolute path to a program");
                          }
                          out.command.path = v;
                      }),
        {"args", [](const SettingsReader& r, const std::string& key, const json& value,
                    S& out) { out.command.args = r.string_list(key, value, [](const std::string& v) { return v; }); }},
        {"args_allowed", [](const SettingsReader& r, const std::string& key, const json& value,
                            S& out) { out.command.args_allowed = r.boolean(key, value); }},
        {"options_allowed", [](const SettingsReader& r, const std::string& key, const json& value,
                               S& out) { out.command.options_allowed = r.boolean(key, value); }},
        {"timeout_ms",
         [](const SettingsReader& r, const std::string& key, const json& value, S& out) {
             out.command.timeout = std::chrono::milliseconds(r.integer(key, value, 10, 3600 * 1000));
         }},
        {"env", [](const SettingsReader& r, const std::string& key, const json& value,
                   S& out) { read_exec_env(r, key, value, out.command); }},
        {"max_output_bytes",
         [](const SettingsReader& r, const std::string& key, const json& value, S& out) {
             out.command.max_output_bytes = static_cast<std::size_t>(r.integer(key, value, 0, 16 * 1024 * 1024));
         }},
        string_key<S>("user",
                      [](const std::string& v, S& out) {
                          gid_t gid = 0;
                          resolve_user(v, out.command, gid);
                          out.primary_gid = gid;
                      }),
        string_key<S>("group", [](const std::string& v, S& out) { resolve_group(v, out.command); }),
    };
    return keys;
}

ExecCommand read_exec_command(const SettingsReader& reader, const std::string& key, const json& spec) {
    if (!spec.is_object()) reader.bad(key, spec, "expected an object");
    const auto p = key + ".";
    reader.check_keys(spec, p, key_names(exec_keys()));
    if (!spec.contains("path")) reader.bad(key, spec, "missing \"path\"");
    ExecFields fields;
    read_keys(reader, spec, p, exec_keys(), fields);
    auto& command = fields.command;
    if (!command.gid) command.gid = fields.primary_gid;
    try {
        check_exec_identity(command, ::geteuid(), ::getegid());
    } catch (const std::invalid_argument& e) {
        const std::string who = spec.contains("user") ? "user" : "group";
        reader.bad(p + who, spec[who], e.what());
    }
    return std::move(command);
}

std::map<std::string, ExecCommand> read_exec_commands(const SettingsReader& reader, const std::string& key,
                                                      const json& value) {
    if (!value.is_object()) {
        reader.bad(key, value, "expected an object of command name -> {\"path\":...}");
    }
    std::map<std::string, ExecCommand> out;
    for (const auto& [name, spec] : value.items()) {
        if (name.empty() || name.size() > 64 ||
            name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") !=
                std::string::npos) {
            throw ConfigError(reader.where(key) + ": command name " + quoted(name) +
                              " is invalid: use 1 to 64 letters, digits, '_', '-' or '.'");
        }
        out.emplace(name, read_exec_command(reader, key + "." + name, spec));
    }
    return out;
}

// ---- the queue section ------------------------------------------------------------

std::map<std::string, std::vector<std::chrono::milliseconds>> read_retry_delays(const SettingsReader& reader,
                                                                                const std::string& key,
                                                                                const json& value) {
    if (!value.is_object()) {
        reader.bad(key, value,
                   "expected an object of job type -> list of seconds, e.g. "
                   "{\"default\":[1,5,15],\"http\":[2,10,30]}");
    }
    std::map<std::string, std::vector<std::chrono::milliseconds>> out;
    for (const auto& [type, list] : value.items()) {
        const auto item_key = key + "." + type;
        if (!list.is_array() || list.size() > 20) reader.bad(item_key, list, "expected 0 to 20 numbers");
        auto& delays = out[type];
        for (const auto& delay : list) {
            if (!delay.is_number() || delay.get<double>() < 0 || delay.get<double>() > 86400) {
                reader.bad(item_key, list, "each delay is a number of seconds from 0 to 86400");
            }
            delays.emplace_back(static_cast<std::int64_t>(delay.get<double>() * 1000 + 0.5));
        }
    }
    if (out.count("default") == 0) {
        out["default"] = QueueSettings{}.retry_delays.at("default");
    }
    return out;
}

const Keys<QueueSettings>& queue_keys() {
    using S = QueueSettings;
    static const Keys<S> keys = {
        integer_key("workers", 0, 64, &S::workers),
        integer_key("fetch_batch", 1, 1000, &S::fetch_batch),
        integer_key("visibility_timeout_s", 1, 86400, &S::visibility_timeout),
        {"retry_delays_s", [](const SettingsReader& r, const std::string& key, const json& value,
                              S& out) { out.retry_delays = read_retry_delays(r, key, value); }},
        {"retry_jitter",
         [](const SettingsReader& r, const std::string& key, const json& value, S& out) {
             if (!value.is_number() || value.get<double>() < 0 || value.get<double>() > 0.5) {
                 r.bad(key, value, "expected a number from 0 to 0.5 (0.1 = +-10 %)");
             }
             out.retry_jitter = value.get<double>();
         }},
        integer_key("max_payload_bytes", 64, 16 * 1024 * 1024, &S::max_payload_bytes),
        integer_key("max_batch", 1, 10000, &S::max_batch),
        integer_key("shutdown_grace_ms", 0, 600000, &S::shutdown_grace),
        integer_key("idempotency_ttl_s", 60, 30 * 86400, &S::idempotency_ttl),
        integer_key("retention_s", 60, 365 * 86400, &S::retention),
        integer_key("http_timeout_ms", 10, 600000, &S::http_timeout),
        {"exec", [](const SettingsReader& r, const std::string& key, const json& value,
                    S& out) { out.exec = read_exec_commands(r, key, value); }},
        integer_key("inline_workers", 1, 64, &S::inline_workers),
        integer_key("inline_queue", 0, 10000, &S::inline_queue),
        integer_key("inline_wait_ms", 0, 60000, &S::inline_wait),
        integer_key("max_depth", 1, 1000000000, &S::max_depth),
        integer_key("max_bytes", 1024, std::int64_t{1} << 40, &S::max_bytes),
    };
    return keys;
}

// The rules that span several keys of the section.
void check_queue(const SettingsReader& reader, const std::string& p, QueueSettings& out) {
    for (const auto& [name, command] : out.exec) {
        if (command.timeout >= out.visibility_timeout) {
            reader.bad(p + "exec." + name + ".timeout_ms", json(command.timeout.count()),
                       "must be shorter than queue.visibility_timeout_s (" +
                           std::to_string(out.visibility_timeout.count()) +
                           " s), or the job would be delivered again while it runs");
        }
    }
    if (out.http_timeout >= out.visibility_timeout) {
        reader.bad(p + "http_timeout_ms", json(out.http_timeout.count()),
                   "must be shorter than queue.visibility_timeout_s");
    }
    if (out.max_bytes < static_cast<std::int64_t>(out.max_payload_bytes)) {
        reader.bad(p + "max_bytes", json(out.max_bytes),
                   "must be at least queue.max_payload_bytes (" + std::to_string(out.max_payload_bytes) +
                       "), or no job would fit");
    }
}

// The queue's top-level keys.
const Keys<QueueSettings>& top_keys() {
    using S = QueueSettings;
    static const Keys<S> keys = {
        {"http_job_allow", [](const SettingsReader& r, const std::string& key, const json& value,
                              S& out) { out.http_job_allow = r.string_list(key, value, prefix_value); }},
        section_key("queue", queue_keys(), check_queue),
    };
    return keys;
}

void read_environment(const EnvReader& e, QueueSettings& out) {
    e.with("LEVQOR_HTTP_JOB_ALLOW", [&](const std::string& v) {
        std::vector<std::string> prefixes;
        for (const auto& item : split_commas(v)) prefixes.push_back(prefix_value(item));
        out.http_job_allow = std::move(prefixes);
    });
    e.with("LEVQOR_QUEUE_WORKERS", [&](const std::string& v) {
        if (v.empty() || v.size() > 2 || v.find_first_not_of("0123456789") != std::string::npos || std::stoi(v) > 64) {
            invalid("expected a whole number from 0 to 64");
        }
        out.workers = static_cast<unsigned>(std::stoi(v));
    });
}

}  // namespace

void check_exec_identity(const ExecCommand& command, uid_t euid, gid_t egid) {
    if (euid == 0) return;
    const auto own =
        " (controld runs as uid " + std::to_string(euid) + ", gid " + std::to_string(egid) + ", not as root)";
    if (command.uid && *command.uid != euid) {
        invalid("only root can run a command as another user" + own + "; run controld as root or drop \"user\"");
    }
    if (command.gid && *command.gid != egid) {
        invalid("only root can run a command with another group" + own +
                (command.group ? std::string("; run controld as root or drop \"group\"")
                               : std::string("; the user's primary group is " + std::to_string(*command.gid) +
                                             ": set \"group\" to controld's own")));
    }
}

ConfigPart config_part(QueueSettings& out) { return controld::config_part(top_keys(), out, read_environment); }

nlohmann::ordered_json settings_json(const QueueSettings& s) {
    using ojson = nlohmann::ordered_json;
    auto delays = ojson::object();
    for (const auto& [type, list] : s.retry_delays) {
        auto& seconds = delays[type] = ojson::array();
        for (const auto d : list) seconds.push_back(static_cast<double>(d.count()) / 1000.0);
    }
    auto exec = ojson::object();
    for (const auto& [name, c] : s.exec) {
        auto env = ojson::object();
        for (const auto& [variable, value] : c.env) env[variable] = "***";
        auto& out = exec[name] = {{"path", c.path},
                                  {"args", c.args},
                                  {"args_allowed", c.args_allowed},
                                  {"options_allowed", c.options_allowed},
                                  {"timeout_ms", c.timeout.count()},
                                  {"env", std::move(env)},
                                  {"max_output_bytes", c.max_output_bytes}};
        if (c.user) out["user"] = *c.user;
        if (c.group) out["group"] = *c.group;
    }
    return {{"http_job_allow", s.http_job_allow},
            {"queue",
             {{"workers", s.workers},
              {"fetch_batch", s.fetch_batch},
              {"visibility_timeout_s", s.visibility_timeout.count()},
              {"retry_delays_s", std::move(delays)},
              {"retry_jitter", s.retry_jitter},
              {"max_payload_bytes", s.max_payload_bytes},
              {"max_batch", s.max_batch},
              {"shutdown_grace_ms", s.shutdown_grace.count()},
              {"idempotency_ttl_s", s.idempotency_ttl.count()},
              {"retention_s", s.retention.count()},
              {"http_timeout_ms", s.http_timeout.count()},
              {"inline_workers", s.inline_workers},
              {"inline_queue", s.inline_queue},
              {"inline_wait_ms", s.inline_wait.count()},
              {"max_depth", s.max_depth},
              {"max_bytes", s.max_bytes},
              {"exec", std::move(exec)}}}};
}

}  // namespace levqor::controld::queue
