#include "levqor/controld/core/config.h"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <set>
#include <sstream>

#include "levqor/controld/core/files.h"
#include "levqor/controld/core/job_url.h"
#include "levqor/controld/core/json.h"
#include "levqor/controld/core/text.h"
#include "levqor/controld/core/urls.h"

namespace levqor::controld {
namespace {

using nlohmann::json;

// A config file is a few KiB; this only stops a wrong path (a log, a dump)
// from being read whole.
constexpr std::size_t kMaxConfigBytes = 4 * 1024 * 1024;

std::string quoted(const std::string& value) {
  return json(value).dump(-1, ' ', false, json::error_handler_t::replace);
}

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

std::string absolute_path(const std::string& path) {
  return std::filesystem::absolute(path).lexically_normal().string();
}

// ---- values shared by the file and the environment --------------------------
// Each parser throws std::invalid_argument with the reason; the caller says
// where the value came from.

[[noreturn]] void invalid(const std::string& why) { throw std::invalid_argument(why); }

ListenAddress listen_value(const std::string& text) { return parse_listen_address(text); }

LogLevel log_level_value(const std::string& text) {
  auto level = parse_log_level(text);
  if (!level) invalid("expected debug, info, warn or error");
  return *level;
}

FlagState flag_value(const std::string& text) {
  auto state = parse_flag_state(text);
  if (!state) invalid("expected off, shadow or on");
  return *state;
}

std::string path_value(const std::string& text) {
  if (text.empty()) invalid("empty path");
  return absolute_path(text);
}

// "name=url" or "url".
NginxInstance instance_value(const std::string& text, const std::string& name = "") {
  std::string url = text;
  std::string given_name = name;
  const auto eq = text.find('=');
  const auto scheme = text.find("://");
  if (given_name.empty() && eq != std::string::npos &&
      (scheme == std::string::npos || eq < scheme)) {
    given_name = text.substr(0, eq);
    url = text.substr(eq + 1);
    if (given_name.empty()) invalid("empty instance name before '='");
  }
  const auto parsed = parse_http_url(url);
  return NginxInstance{given_name.empty() ? parsed.authority() : given_name, url};
}

void check_unique_names(const std::vector<NginxInstance>& instances) {
  std::set<std::string> names;
  for (const auto& instance : instances) {
    if (!names.insert(instance.name).second) {
      invalid("two instances are named " + quoted(instance.name) +
              "; give each a distinct name (name=url, or {\"name\":...,\"url\":...})");
    }
  }
}

std::string prefix_value(const std::string& text) {
  normalize_job_url_prefix(text);
  return text;
}

std::string sentry_dsn_value(const std::string& text) {
  parse_sentry_dsn(text);
  return text;
}

std::string redis_url_value(const std::string& text) {
  redis_server_url(text);
  return text;
}

// A host name or address for http.allowed_hosts: no port, no scheme, no
// wildcard.
std::string host_value(const std::string& text) {
  const bool ipv6 = text.find(':') != std::string::npos;
  const auto bare = ipv6 && text.size() > 2 && text.front() == '[' && text.back() == ']'
                        ? text.substr(1, text.size() - 2)
                        : text;
  const char* allowed = ipv6 ? "0123456789abcdefABCDEF:." : nullptr;
  const bool ok = !bare.empty() && bare.size() <= 253 &&
                  (allowed ? bare.find_first_not_of(allowed) == std::string::npos
                           : std::all_of(bare.begin(), bare.end(), [](char c) {
                               return std::isalnum(static_cast<unsigned char>(c)) || c == '.' ||
                                      c == '-' || c == '_';
                             }));
  if (!ok) invalid("expected a host name or an IP address, without port or wildcard");
  return text;
}

std::string database_url_value(const std::string& text) {
  check_database_url(text);
  return text;
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

// ---- the config file ----------------------------------------------------------

const std::vector<std::string> kTopKeys = {
    "listen",          "log_level",       "data_dir",          "admin_token_file",
    "producer_token_file", "flags_file",  "flags",             "nginx_status_urls",
    "scrape_timeout_ms", "latency_window_s", "http_job_allow", "redis_url",
    "database_url",    "sentry_dsn",      "error_tracking",    "http",
    "queue"};
const std::vector<std::string> kErrorTrackingKeys = {"jsonl_max_bytes", "jsonl_files",
                                                     "max_events_per_minute", "environment"};
const std::vector<std::string> kHttpKeys = {
    "max_body_bytes",  "max_request_line_bytes", "max_header_bytes", "max_headers",
    "header_timeout_ms", "body_timeout_ms",      "read_timeout_ms",  "write_timeout_ms",
    "max_connections", "max_unauthenticated_connections", "worker_threads", "admin_threads",
    "allowed_hosts"};
const std::vector<std::string> kInstanceKeys = {"name", "url"};
const std::vector<std::string> kQueueKeys = {
    "workers",        "fetch_batch",      "visibility_timeout_s", "retry_delays_s",
    "retry_jitter",   "max_payload_bytes", "max_batch",           "shutdown_grace_ms",
    "idempotency_ttl_s", "retention_s",   "http_timeout_ms",      "exec",
    "inline_workers", "inline_queue",     "inline_wait_ms",       "max_depth",
    "max_bytes"};
const std::vector<std::string> kExecKeys = {"path",       "args", "args_allowed",
                                            "options_allowed", "timeout_ms", "env",
                                            "max_output_bytes", "user", "group"};

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

class FileReader {
 public:
  explicit FileReader(std::string path) : path_(std::move(path)) {}

  json read() const {
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
      throw ConfigError("config file " + quoted(path_) + " is " + std::to_string(size) +
                        " bytes; the limit is " + std::to_string(kMaxConfigBytes));
    }
    std::optional<std::string> text;
    try {
      text = read_file_if_exists(path_);
    } catch (const FileError& e) {
      throw ConfigError("config file " + quoted(path_) + " (from --config) cannot be read: " +
                        e.what());
    }
    if (!text) {
      throw ConfigError("config file " + quoted(path_) + " (from --config) does not exist");
    }
    json root;
    try {
      root = parse_json(*text, JsonLimits{kMaxConfigBytes, kMaxJsonDepth, /*comments=*/true});
    } catch (const JsonError& e) {
      throw ConfigError("config file " + quoted(path_) +
                        (e.kind() == JsonError::Kind::syntax ? " is not valid JSON: "
                                                             : " is refused: ") +
                        e.what());
    }
    if (!root.is_object()) {
      throw ConfigError("config file " + quoted(path_) + ": the top level must be a JSON object");
    }
    return root;
  }

  void apply(const json& root, Config& config) const {
    check_keys(root, "", kTopKeys);
    string_key(root, "listen", [&](const std::string& v) { config.listen = listen_value(v); });
    string_key(root, "log_level",
               [&](const std::string& v) { config.log_level = log_level_value(v); });
    string_key(root, "data_dir", [&](const std::string& v) { config.data_dir = path_value(v); });
    optional_path_key(root, "admin_token_file", config.admin_token_file);
    optional_path_key(root, "producer_token_file", config.producer_token_file);
    string_key(root, "flags_file",
               [&](const std::string& v) { config.flags_file = path_value(v); });
    if (root.contains("flags")) apply_flags(root["flags"], config.flags);
    if (root.contains("nginx_status_urls")) {
      config.nginx_instances = instances(root["nginx_status_urls"]);
    }
    int_key(root, "scrape_timeout_ms", 10, 60000,
            [&](std::int64_t v) { config.scrape_timeout = std::chrono::milliseconds(v); });
    int_key(root, "latency_window_s", 10, 86400,
            [&](std::int64_t v) { config.latency_window = std::chrono::seconds(v); });
    if (root.contains("http_job_allow")) {
      config.http_job_allow = string_list(root["http_job_allow"], "http_job_allow", prefix_value);
    }
    optional_string_key(root, "redis_url", config.redis_url, redis_url_value);
    optional_string_key(root, "database_url", config.database_url, database_url_value);
    optional_string_key(root, "sentry_dsn", config.sentry_dsn, sentry_dsn_value);
    if (root.contains("error_tracking")) {
      apply_error_tracking(root["error_tracking"], config.error_tracking);
    }
    if (root.contains("http")) apply_http(root["http"], config.http);
    if (root.contains("queue")) apply_queue(root["queue"], config.queue);
  }

 private:
  std::string where(const std::string& key) const {
    return "config file " + quoted(path_) + ": " + quoted(key);
  }

  [[noreturn]] void bad(const std::string& key, const json& value, const std::string& why) const {
    throw ConfigError(where(key) + " = " +
                      value.dump(-1, ' ', false, json::error_handler_t::replace) +
                      " is invalid: " + why);
  }

  void check_keys(const json& object, const std::string& prefix,
                  const std::vector<std::string>& known) const {
    for (const auto& [key, value] : object.items()) {
      if (std::find(known.begin(), known.end(), key) != known.end()) continue;
      std::string message = "config file " + quoted(path_) + ": unknown key " +
                            quoted(prefix + key);
      for (const auto& candidate : known) {
        if (edit_distance(key, candidate) <= 2) {
          message += " (did you mean " + quoted(prefix + candidate) + "?)";
          break;
        }
      }
      throw ConfigError(
          message + "; known keys" +
          (prefix.empty() ? "" : " in " + quoted(prefix.substr(0, prefix.size() - 1))) + ": " +
          join(known));
    }
  }

  template <typename Apply>
  void string_value(const std::string& key, const json& value, Apply&& apply) const {
    if (!value.is_string()) bad(key, value, "expected a string");
    try {
      apply(value.get<std::string>());
    } catch (const std::invalid_argument& e) {
      bad(key, value, e.what());
    }
  }

  template <typename Apply>
  void string_key(const json& object, const std::string& key, Apply&& apply,
                  const std::string& prefix = "") const {
    if (!object.contains(key)) return;
    string_value(prefix + key, object[key], apply);
  }

  void optional_path_key(const json& object, const std::string& key,
                         std::optional<std::string>& out) const {
    if (!object.contains(key)) return;
    if (object[key].is_null()) {
      out.reset();
      return;
    }
    string_value(key, object[key], [&](const std::string& v) { out = path_value(v); });
  }

  template <typename Check>
  void optional_string_key(const json& object, const std::string& key,
                           std::optional<std::string>& out, Check&& check) const {
    if (!object.contains(key)) return;
    const auto& value = object[key];
    if (value.is_null() || (value.is_string() && value.get<std::string>().empty())) {
      out.reset();
      return;
    }
    string_value(key, value, [&](const std::string& v) { out = check(v); });
  }

  template <typename Apply>
  void int_key(const json& object, const std::string& key, std::int64_t min, std::int64_t max,
               Apply&& apply, const std::string& prefix = "") const {
    if (!object.contains(key)) return;
    const auto& value = object[key];
    const std::string range = "expected a whole number from " + std::to_string(min) + " to " +
                              std::to_string(max);
    if (!value.is_number_integer()) bad(prefix + key, value, range);
    const auto n = value.is_number_unsigned()
                       ? static_cast<std::int64_t>(std::min<std::uint64_t>(
                             value.get<std::uint64_t>(), std::uint64_t(INT64_MAX)))
                       : value.get<std::int64_t>();
    if (n < min || n > max) bad(prefix + key, value, range);
    apply(n);
  }

  void apply_flags(const json& flags, FlagSet& out) const {
    if (!flags.is_object()) {
      bad("flags", flags, "expected an object such as {\"RATELIMIT_ENABLED\":\"shadow\"}");
    }
    for (const auto& [name, value] : flags.items()) {
      const auto flag = parse_flag_name(name);
      if (!flag) {
        throw ConfigError("config file " + quoted(path_) + ": unknown flag " +
                          quoted("flags." + name) + "; known flags: " + flag_names_list());
      }
      string_value("flags." + name, value,
                   [&](const std::string& v) { out.set(*flag, flag_value(v)); });
    }
  }

  std::vector<NginxInstance> instances(const json& list) const {
    const std::string key = "nginx_status_urls";
    if (!list.is_array()) {
      bad(key, list, "expected a list of URLs or {\"name\":...,\"url\":...} objects");
    }
    std::vector<NginxInstance> out;
    for (std::size_t i = 0; i < list.size(); ++i) {
      const auto& item = list[i];
      const auto item_key = key + "[" + std::to_string(i) + "]";
      if (item.is_string()) {
        string_value(item_key, item,
                     [&](const std::string& v) { out.push_back(instance_value(v)); });
        continue;
      }
      if (!item.is_object()) bad(item_key, item, "expected a URL or {\"name\":...,\"url\":...}");
      check_keys(item, item_key + ".", kInstanceKeys);
      if (!item.contains("url")) bad(item_key, item, "missing \"url\"");
      std::string name;
      string_key(item, "name", [&](const std::string& v) {
        if (v.empty()) invalid("empty name");
        name = v;
      }, item_key + ".");
      string_key(item, "url", [&](const std::string& v) {
        out.push_back(instance_value(v, name));
      }, item_key + ".");
    }
    try {
      check_unique_names(out);
    } catch (const std::invalid_argument& e) {
      bad(key, list, e.what());
    }
    return out;
  }

  template <typename Check>
  std::vector<std::string> string_list(const json& list, const std::string& key,
                                       Check&& check) const {
    if (!list.is_array()) bad(key, list, "expected a list of strings");
    std::vector<std::string> out;
    for (std::size_t i = 0; i < list.size(); ++i) {
      string_value(key + "[" + std::to_string(i) + "]", list[i],
                   [&](const std::string& v) { out.push_back(check(v)); });
    }
    return out;
  }

  void apply_error_tracking(const json& section, ErrorTrackingSettings& out) const {
    const std::string p = "error_tracking.";
    if (!section.is_object()) bad("error_tracking", section, "expected an object");
    check_keys(section, p, kErrorTrackingKeys);
    int_key(section, "jsonl_max_bytes", 4096, std::int64_t(1) << 40,
            [&](std::int64_t v) { out.jsonl_max_bytes = static_cast<std::uint64_t>(v); }, p);
    int_key(section, "jsonl_files", 1, 100,
            [&](std::int64_t v) { out.jsonl_files = static_cast<unsigned>(v); }, p);
    int_key(section, "max_events_per_minute", 1, 10000,
            [&](std::int64_t v) { out.max_events_per_minute = static_cast<unsigned>(v); }, p);
    string_key(section, "environment", [&](const std::string& v) {
      if (v.empty() || v.size() > 64) invalid("expected 1 to 64 characters");
      out.environment = v;
    }, p);
  }

  void apply_http(const json& section, HttpSettings& out) const {
    const std::string p = "http.";
    if (!section.is_object()) bad("http", section, "expected an object");
    check_keys(section, p, kHttpKeys);
    const auto size = [&](const char* key, std::int64_t min, std::int64_t max, std::size_t& field) {
      int_key(section, key, min, max,
              [&](std::int64_t v) { field = static_cast<std::size_t>(v); }, p);
    };
    const auto millis = [&](const char* key, std::int64_t min, std::int64_t max,
                            std::chrono::milliseconds& field) {
      int_key(section, key, min, max,
              [&](std::int64_t v) { field = std::chrono::milliseconds(v); }, p);
    };
    const auto threads = [&](const char* key, std::int64_t max, unsigned& field) {
      int_key(section, key, 1, max, [&](std::int64_t v) { field = static_cast<unsigned>(v); }, p);
    };
    size("max_body_bytes", 1024, 64 * 1024 * 1024, out.max_body_bytes);
    size("max_request_line_bytes", 256, 65536, out.max_request_line_bytes);
    size("max_header_bytes", 1024, 262144, out.max_header_bytes);
    size("max_headers", 8, 1000, out.max_headers);
    millis("header_timeout_ms", 100, 600000, out.header_timeout);
    millis("body_timeout_ms", 100, 3600000, out.body_timeout);
    millis("read_timeout_ms", 100, 600000, out.read_timeout);
    millis("write_timeout_ms", 100, 600000, out.write_timeout);
    size("max_connections", 16, 65536, out.max_connections);
    size("max_unauthenticated_connections", 1, 65536, out.max_unauthenticated_connections);
    threads("worker_threads", 64, out.worker_threads);
    threads("admin_threads", 16, out.admin_threads);
    if (section.contains("allowed_hosts")) {
      out.allowed_hosts = string_list(section["allowed_hosts"], p + "allowed_hosts", host_value);
    }
    if (out.max_unauthenticated_connections > out.max_connections) {
      bad(p + "max_unauthenticated_connections", json(out.max_unauthenticated_connections),
          "must not exceed http.max_connections (" + std::to_string(out.max_connections) + ")");
    }
  }

  void apply_queue(const json& section, QueueSettings& out) const {
    const std::string p = "queue.";
    if (!section.is_object()) bad("queue", section, "expected an object");
    check_keys(section, p, kQueueKeys);
    int_key(section, "workers", 0, 64,
            [&](std::int64_t v) { out.workers = static_cast<unsigned>(v); }, p);
    int_key(section, "fetch_batch", 1, 1000,
            [&](std::int64_t v) { out.fetch_batch = static_cast<unsigned>(v); }, p);
    int_key(section, "visibility_timeout_s", 1, 86400,
            [&](std::int64_t v) { out.visibility_timeout = std::chrono::seconds(v); }, p);
    if (section.contains("retry_delays_s")) {
      out.retry_delays = retry_delays(section["retry_delays_s"]);
    }
    if (section.contains("retry_jitter")) {
      const auto& v = section["retry_jitter"];
      if (!v.is_number() || v.get<double>() < 0 || v.get<double>() > 0.5) {
        bad(p + "retry_jitter", v, "expected a number from 0 to 0.5 (0.1 = +-10 %)");
      }
      out.retry_jitter = v.get<double>();
    }
    int_key(section, "max_payload_bytes", 64, 16 * 1024 * 1024,
            [&](std::int64_t v) { out.max_payload_bytes = static_cast<std::size_t>(v); }, p);
    int_key(section, "max_batch", 1, 10000,
            [&](std::int64_t v) { out.max_batch = static_cast<std::size_t>(v); }, p);
    int_key(section, "shutdown_grace_ms", 0, 600000,
            [&](std::int64_t v) { out.shutdown_grace = std::chrono::milliseconds(v); }, p);
    int_key(section, "idempotency_ttl_s", 60, 30 * 86400,
            [&](std::int64_t v) { out.idempotency_ttl = std::chrono::seconds(v); }, p);
    int_key(section, "retention_s", 60, 365 * 86400,
            [&](std::int64_t v) { out.retention = std::chrono::seconds(v); }, p);
    int_key(section, "http_timeout_ms", 10, 600000,
            [&](std::int64_t v) { out.http_timeout = std::chrono::milliseconds(v); }, p);
    if (section.contains("exec")) out.exec = exec_commands(section["exec"]);
    for (const auto& [name, command] : out.exec) {
      if (command.timeout >= out.visibility_timeout) {
        bad(p + "exec." + name + ".timeout_ms", json(command.timeout.count()),
            "must be shorter than queue.visibility_timeout_s (" +
                std::to_string(out.visibility_timeout.count()) +
                " s), or the job would be delivered again while it runs");
      }
    }
    if (out.http_timeout >= out.visibility_timeout) {
      bad(p + "http_timeout_ms", json(out.http_timeout.count()),
          "must be shorter than queue.visibility_timeout_s");
    }
    int_key(section, "inline_workers", 1, 64,
            [&](std::int64_t v) { out.inline_workers = static_cast<unsigned>(v); }, p);
    int_key(section, "inline_queue", 0, 10000,
            [&](std::int64_t v) { out.inline_queue = static_cast<std::size_t>(v); }, p);
    int_key(section, "inline_wait_ms", 0, 60000,
            [&](std::int64_t v) { out.inline_wait = std::chrono::milliseconds(v); }, p);
    int_key(section, "max_depth", 1, 1000000000, [&](std::int64_t v) { out.max_depth = v; }, p);
    int_key(section, "max_bytes", 1024, std::int64_t{1} << 40,
            [&](std::int64_t v) { out.max_bytes = v; }, p);
    if (out.max_bytes < static_cast<std::int64_t>(out.max_payload_bytes)) {
      bad(p + "max_bytes", json(out.max_bytes),
          "must be at least queue.max_payload_bytes (" + std::to_string(out.max_payload_bytes) +
              "), or no job would fit");
    }
  }

  std::map<std::string, std::vector<std::chrono::milliseconds>> retry_delays(
      const json& value) const {
    const std::string key = "queue.retry_delays_s";
    if (!value.is_object()) {
      bad(key, value, "expected an object of job type -> list of seconds, e.g. "
                      "{\"default\":[1,5,15],\"http\":[2,10,30]}");
    }
    std::map<std::string, std::vector<std::chrono::milliseconds>> out;
    for (const auto& [type, list] : value.items()) {
      const auto item_key = key + "." + type;
      if (!list.is_array() || list.size() > 20) bad(item_key, list, "expected 0 to 20 numbers");
      auto& delays = out[type];
      for (const auto& delay : list) {
        if (!delay.is_number() || delay.get<double>() < 0 || delay.get<double>() > 86400) {
          bad(item_key, list, "each delay is a number of seconds from 0 to 86400");
        }
        delays.emplace_back(static_cast<std::int64_t>(delay.get<double>() * 1000 + 0.5));
      }
    }
    if (out.count("default") == 0) {
      out["default"] = QueueSettings{}.retry_delays.at("default");
    }
    return out;
  }

  void bool_key(const json& object, const std::string& key, bool& out,
                const std::string& prefix) const {
    if (!object.contains(key)) return;
    if (!object[key].is_boolean()) bad(prefix + key, object[key], "expected true or false");
    out = object[key].get<bool>();
  }

  // "user" and "group": resolved to ids now, so a typo stops the start
  // rather than every job.
  void exec_identity(const json& spec, ExecCommand& command, const std::string& p) const {
    std::optional<gid_t> primary_gid;
    string_key(spec, "user", [&](const std::string& v) {
      gid_t gid = 0;
      resolve_user(v, command, gid);
      primary_gid = gid;
    }, p);
    string_key(spec, "group", [&](const std::string& v) { resolve_group(v, command); }, p);
    if (!command.gid) command.gid = primary_gid;
    try {
      check_exec_identity(command, ::geteuid(), ::getegid());
    } catch (const std::invalid_argument& e) {
      const std::string key = spec.contains("user") ? "user" : "group";
      bad(p + key, spec[key], e.what());
    }
  }

  std::map<std::string, ExecCommand> exec_commands(const json& value) const {
    const std::string key = "queue.exec";
    if (!value.is_object()) {
      bad(key, value, "expected an object of command name -> {\"path\":...}");
    }
    std::map<std::string, ExecCommand> out;
    for (const auto& [name, spec] : value.items()) {
      const auto p = key + "." + name + ".";
      if (name.empty() || name.size() > 64 ||
          name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") !=
              std::string::npos) {
        throw ConfigError(where(key) + ": command name " + quoted(name) +
                          " is invalid: use 1 to 64 letters, digits, '_', '-' or '.'");
      }
      if (!spec.is_object()) bad(key + "." + name, spec, "expected an object");
      check_keys(spec, p, kExecKeys);
      if (!spec.contains("path")) bad(key + "." + name, spec, "missing \"path\"");
      ExecCommand command;
      string_key(spec, "path", [&](const std::string& v) {
        if (v.empty() || v.front() != '/') invalid("expected an absolute path to a program");
        command.path = v;
      }, p);
      if (spec.contains("args")) {
        command.args = string_list(spec["args"], p + "args", [](const std::string& v) { return v; });
      }
      bool_key(spec, "args_allowed", command.args_allowed, p);
      bool_key(spec, "options_allowed", command.options_allowed, p);
      exec_identity(spec, command, p);
      int_key(spec, "timeout_ms", 10, 3600 * 1000,
              [&](std::int64_t v) { command.timeout = std::chrono::milliseconds(v); }, p);
      int_key(spec, "max_output_bytes", 0, 16 * 1024 * 1024,
              [&](std::int64_t v) { command.max_output_bytes = static_cast<std::size_t>(v); }, p);
      if (spec.contains("env")) {
        const auto& env = spec["env"];
        if (!env.is_object()) bad(p + "env", env, "expected an object of NAME -> value");
        for (const auto& [var, val] : env.items()) {
          if (var.empty() || var.find('=') != std::string::npos) {
            bad(p + "env", env, "variable names are non-empty and have no '='");
          }
          // variable = var: a structured binding cannot be captured in C++17 (clang refuses).
          string_value(p + "env." + var, val, [&, variable = var](const std::string& v) {
            command.env.emplace_back(variable, v);
          });
        }
      }
      out.emplace(name, std::move(command));
    }
    return out;
  }

  std::string path_;
};

// ---- the environment ----------------------------------------------------------

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

void apply_environment(Config& config, const EnvLookup& env) {
  const EnvReader e(env);
  e.with("LEVQOR_LISTEN", [&](const std::string& v) { config.listen = listen_value(v); });
  e.with("LEVQOR_LOG_LEVEL", [&](const std::string& v) { config.log_level = log_level_value(v); });
  e.with("LEVQOR_DATA_DIR", [&](const std::string& v) { config.data_dir = path_value(v); });
  e.optional("LEVQOR_ADMIN_TOKEN_FILE", config.admin_token_file, path_value);
  e.optional("LEVQOR_PRODUCER_TOKEN_FILE", config.producer_token_file, path_value);
  e.with("LEVQOR_FLAGS_FILE", [&](const std::string& v) { config.flags_file = path_value(v); });
  e.with("LEVQOR_NGINX_STATUS_URLS", [&](const std::string& v) {
    std::vector<NginxInstance> instances;
    for (const auto& item : split_commas(v)) instances.push_back(instance_value(item));
    check_unique_names(instances);
    config.nginx_instances = std::move(instances);
  });
  e.with("LEVQOR_HTTP_JOB_ALLOW", [&](const std::string& v) {
    std::vector<std::string> prefixes;
    for (const auto& item : split_commas(v)) prefixes.push_back(prefix_value(item));
    config.http_job_allow = std::move(prefixes);
  });
  e.with("LEVQOR_QUEUE_WORKERS", [&](const std::string& v) {
    if (v.empty() || v.size() > 2 || v.find_first_not_of("0123456789") != std::string::npos ||
        std::stoi(v) > 64) {
      invalid("expected a whole number from 0 to 64");
    }
    config.queue.workers = static_cast<unsigned>(std::stoi(v));
  });
  e.optional("REDIS_URL", config.redis_url, redis_url_value);
  e.optional("DATABASE_URL", config.database_url, database_url_value);
  e.optional("SENTRY_DSN", config.sentry_dsn, sentry_dsn_value);
  for (Flag flag : kAllFlags) {
    e.with(std::string(flag_name(flag)),
           [&](const std::string& v) { config.flags.set(flag, flag_value(v)); });
  }
}

}  // namespace

void check_exec_identity(const ExecCommand& command, uid_t euid, gid_t egid) {
  if (euid == 0) return;
  const auto own = " (controld runs as uid " + std::to_string(euid) + ", gid " +
                   std::to_string(egid) + ", not as root)";
  if (command.uid && *command.uid != euid) {
    invalid("only root can run a command as another user" + own +
            "; run controld as root or drop \"user\"");
  }
  if (command.gid && *command.gid != egid) {
    invalid("only root can run a command with another group" + own +
            (command.group ? std::string("; run controld as root or drop \"group\"")
                           : std::string("; the user's primary group is " +
                                         std::to_string(*command.gid) +
                                         ": set \"group\" to controld's own")));
  }
}

EnvLookup process_environment() {
  return [](const std::string& name) -> std::optional<std::string> {
    // getenv is safe here: nothing in controld modifies the environment.
    if (const char* value = std::getenv(name.c_str())) return std::string(value);
    return std::nullopt;
  };
}

Config load_config(const std::optional<std::string>& config_file, const EnvLookup& env) {
  Config config;
  if (config_file) {
    const FileReader reader(*config_file);
    reader.apply(reader.read(), config);
    config.config_file = config_file;
  }
  apply_environment(config, env);
  if (config.flags_file.empty()) config.flags_file = config.data_dir + "/flags";
  return config;
}

}  // namespace levqor::controld
