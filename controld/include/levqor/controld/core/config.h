// levqor-controld's configuration as one plain value (Config) and how it is
// built: defaults, then the JSON file (--config), then the environment
// (load_config). A value that cannot be used is a ConfigError naming the
// setting; docs/controld.md documents every key. A Config is copied, never
// shared.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "levqor/controld/core/flag_set.h"
#include "levqor/controld/core/listen_address.h"
#include "levqor/controld/core/log.h"

namespace levqor::controld {

// One nginx instance whose `levqor_status` location controld scrapes.
struct NginxInstance {
  std::string name;  // the `instance` label; default: host[:port] of the URL
  std::string url;

  friend bool operator==(const NginxInstance& a, const NginxInstance& b) {
    return a.name == b.name && a.url == b.url;
  }
};

// Where errors go: Sentry when a DSN is set, else a JSONL file in data_dir.
struct ErrorTrackingSettings {
  std::uint64_t jsonl_max_bytes = 10 * 1024 * 1024;  // rotate errors.jsonl past this
  unsigned jsonl_files = 5;            // errors.jsonl.1 .. .N kept after rotation
  unsigned max_events_per_minute = 10; // Sentry events; the rest are dropped and counted
  std::string environment = "production";

  friend bool operator==(const ErrorTrackingSettings& a, const ErrorTrackingSettings& b) {
    return a.jsonl_max_bytes == b.jsonl_max_bytes && a.jsonl_files == b.jsonl_files &&
           a.max_events_per_minute == b.max_events_per_minute &&
           a.environment == b.environment;
  }
};

// Limits of the HTTP API (fixed at start; a SIGHUP does not change them).
// docs/controld.md, "http", says what each one protects against.
struct HttpSettings {
  std::size_t max_body_bytes = 1024 * 1024;      // larger bodies: 413
  std::size_t max_request_line_bytes = 8192;     // longer: 414
  std::size_t max_header_bytes = 16384;          // all header lines: 431
  std::size_t max_headers = 100;                 // more header fields: 431
  std::chrono::milliseconds header_timeout{10000};  // request line + headers, else 408
  std::chrono::milliseconds body_timeout{60000};    // the whole body, else 408
  std::chrono::milliseconds read_timeout{5000};     // longest pause within a body
  std::chrono::milliseconds write_timeout{5000};    // the whole response
  std::size_t max_connections = 512;
  std::size_t max_unauthenticated_connections = 256;  // not yet sent a valid token
  unsigned worker_threads = 8;
  unsigned admin_threads = 2;  // reserved for requests with the admin token
  std::vector<std::string> allowed_hosts;  // Host names besides localhost & co.

  friend bool operator==(const HttpSettings& a, const HttpSettings& b) {
    return a.max_body_bytes == b.max_body_bytes &&
           a.max_request_line_bytes == b.max_request_line_bytes &&
           a.max_header_bytes == b.max_header_bytes && a.max_headers == b.max_headers &&
           a.header_timeout == b.header_timeout && a.body_timeout == b.body_timeout &&
           a.read_timeout == b.read_timeout && a.write_timeout == b.write_timeout &&
           a.max_connections == b.max_connections &&
           a.max_unauthenticated_connections == b.max_unauthenticated_connections &&
           a.worker_threads == b.worker_threads && a.admin_threads == b.admin_threads &&
           a.allowed_hosts == b.allowed_hosts;
  }
};

// One command that `exec` jobs may run, declared by name in the config
// (queue.exec.<name>). The API names it and may pass arguments; it never
// gives a path or a shell line.
struct ExecCommand {
  std::string path;                   // absolute path of the program
  std::vector<std::string> args;      // fixed arguments, always first
  bool args_allowed = false;          // may a job append its own arguments?
  // May those arguments start with '-'? Off, a job's "-exec" or "--config=..."
  // is refused: they would be options of the command, not operands.
  bool options_allowed = false;
  std::chrono::milliseconds timeout{10000};  // then SIGKILL to its process group
  std::vector<std::pair<std::string, std::string>> env;  // the whole environment
  std::size_t max_output_bytes = 64 * 1024;  // stdout and stderr, each, kept
  // Who the command runs as ("user"/"group"), resolved when the config is
  // loaded. Unset: controld's own identity. Switching needs controld to run
  // as root; otherwise only controld's own user/group are accepted.
  std::optional<std::string> user;
  std::optional<std::string> group;
  std::optional<uid_t> uid;
  std::optional<gid_t> gid;  // the group's, or the user's primary group

  friend bool operator==(const ExecCommand& a, const ExecCommand& b) {
    return a.path == b.path && a.args == b.args && a.args_allowed == b.args_allowed &&
           a.options_allowed == b.options_allowed && a.timeout == b.timeout && a.env == b.env &&
           a.max_output_bytes == b.max_output_bytes && a.user == b.user && a.group == b.group &&
           a.uid == b.uid && a.gid == b.gid;
  }
};

// May a controld running as euid/egid run `command` as its user and group?
// Root may switch to any; anyone else only "switches" to itself. Throws
// std::invalid_argument saying why not.
void check_exec_identity(const ExecCommand& command, uid_t euid, gid_t egid);

// The job queue (docs/controld.md, "Job queue").
struct QueueSettings {
  unsigned workers = 4;                           // worker threads
  unsigned fetch_batch = 200;                     // jobs one worker takes per fetch
  std::chrono::seconds visibility_timeout{30};    // then a held job is delivered again
  // Waits before retries 1, 2, 3, ... by job type; "default" for the rest.
  // A job is attempted 1 + delays.size() times, then dead-lettered.
  std::map<std::string, std::vector<std::chrono::milliseconds>> retry_delays = {
      {"default", {std::chrono::seconds(1), std::chrono::seconds(5), std::chrono::seconds(15)}}};
  double retry_jitter = 0.1;                      // +-10 % on every delay
  std::size_t max_payload_bytes = 64 * 1024;      // one job's payload, as JSON
  std::size_t max_batch = 1000;                   // jobs per POST /jobs
  std::chrono::milliseconds shutdown_grace{5000}; // in-flight jobs at SIGTERM
  std::chrono::seconds idempotency_ttl{86400};    // Idempotency-Key lifetime
  std::chrono::seconds retention{7 * 86400};      // finished job records kept
  std::chrono::milliseconds http_timeout{10000};  // http jobs without timeout_ms
  std::map<std::string, ExecCommand> exec;        // commands exec jobs may run
  // NEW_QUEUE_ENABLED=off: threads that run jobs inline (never the HTTP
  // threads), requests that may wait for one (then 503), and how long
  // POST /jobs waits for the outcome (then 202; the client polls).
  unsigned inline_workers = 4;
  std::size_t inline_queue = 16;
  std::chrono::milliseconds inline_wait{2000};
  // Quota: jobs not finished, and payload bytes stored (then 507).
  std::int64_t max_depth = 100000;
  std::int64_t max_bytes = std::int64_t{256} * 1024 * 1024;

  friend bool operator==(const QueueSettings& a, const QueueSettings& b) {
    return a.workers == b.workers && a.fetch_batch == b.fetch_batch &&
           a.visibility_timeout == b.visibility_timeout && a.retry_delays == b.retry_delays &&
           a.retry_jitter == b.retry_jitter && a.max_payload_bytes == b.max_payload_bytes &&
           a.max_batch == b.max_batch && a.shutdown_grace == b.shutdown_grace &&
           a.idempotency_ttl == b.idempotency_ttl && a.retention == b.retention &&
           a.http_timeout == b.http_timeout && a.exec == b.exec &&
           a.inline_workers == b.inline_workers && a.inline_queue == b.inline_queue &&
           a.inline_wait == b.inline_wait && a.max_depth == b.max_depth &&
           a.max_bytes == b.max_bytes;
  }
};

// Everything levqor-controld is told at start-up (and on SIGHUP). Defaults
// make the daemon run with no file and no environment at all (design.md,
// "controld configuration"); docs/controld.md documents every key. A plain
// value: copy it, don't share it.
struct Config {
  ListenAddress listen{"127.0.0.1", 8089};  // listen / LEVQOR_LISTEN
  LogLevel log_level = LogLevel::info;      // log_level / LEVQOR_LOG_LEVEL
  // How long a SIGTERM/SIGINT waits for in-flight requests before the
  // daemon exits anyway. Kept under the 2 s that supervisors and tests allow.
  std::chrono::milliseconds shutdown_grace{1500};
  std::optional<std::string> config_file;  // --config, if given

  std::string data_dir = "/var/lib/levqor";          // absolute
  std::optional<std::string> admin_token_file;       // unset: admin role disabled
  std::optional<std::string> producer_token_file;    // unset: producer role disabled
  std::string flags_file;                            // absolute; default <data_dir>/flags
  FlagSet flags;                                     // the flags controld starts with

  std::vector<NginxInstance> nginx_instances;
  std::chrono::milliseconds scrape_timeout{1000};
  std::chrono::seconds latency_window{300};

  std::vector<std::string> http_job_allow;  // URL prefixes http jobs may call
  std::optional<std::string> redis_url;
  std::optional<std::string> database_url;
  std::optional<std::string> sentry_dsn;
  ErrorTrackingSettings error_tracking;
  HttpSettings http;
  QueueSettings queue;
};

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

// Builds the configuration: defaults, then the JSON file (if given), then the
// environment (the environment wins). Throws ConfigError for an unreadable
// file, malformed JSON, an unknown key or a bad value.
Config load_config(const std::optional<std::string>& config_file, const EnvLookup& env);

}  // namespace levqor::controld
