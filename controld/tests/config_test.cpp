// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "test_support.h"

namespace levqor::controld {
namespace {

using testing::env_of;
using testing::TempDir;

std::string error_of(const std::optional<std::string>& file, const EnvLookup& env) {
    return testing::config_error_of([&] { load_config(file, env); });
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// ---- defaults and the environment ---------------------------------------------

TEST(Config, DefaultsNeedNoFileAndNoEnvironment) {
    const auto config = load_config(std::nullopt, env_of({}));
    EXPECT_EQ(config.listen, (ListenAddress{"127.0.0.1", 8089}));
    EXPECT_EQ(config.log_level, LogLevel::info);
    EXPECT_FALSE(config.config_file);
    EXPECT_LT(config.shutdown_grace.count(), 2000);
    EXPECT_EQ(config.data_dir, "/var/lib/levqor");
    EXPECT_EQ(config.flags.file, "/var/lib/levqor/flags");
    EXPECT_FALSE(config.tokens.admin);
    EXPECT_FALSE(config.tokens.producer);
    EXPECT_TRUE(config.metrics.nginx_instances.empty());
    EXPECT_EQ(config.metrics.scrape_timeout.count(), 1000);
    EXPECT_EQ(config.metrics.latency_window.count(), 300);
    EXPECT_EQ(config.flags.configured, FlagSet{});
    EXPECT_FALSE(config.error_tracking.sentry_dsn);
    EXPECT_FALSE(config.redis_url);
    EXPECT_FALSE(config.database_url);
    EXPECT_EQ(config.http.max_body_bytes, 1024u * 1024u);
}

TEST(Config, EnvironmentSetsEverything) {
    const auto config = load_config(
        std::nullopt, env_of({{"LEVQOR_LISTEN", "[::1]:0"},
                              {"LEVQOR_LOG_LEVEL", "debug"},
                              {"LEVQOR_DATA_DIR", "/srv/levqor"},
                              {"LEVQOR_ADMIN_TOKEN_FILE", "/etc/levqor/admin.token"},
                              {"LEVQOR_PRODUCER_TOKEN_FILE", "/etc/levqor/producer.token"},
                              {"LEVQOR_NGINX_STATUS_URLS",
                               "http://127.0.0.1:8080/levqor/status, edge2=http://10.0.0.2/levqor/status"},
                              {"LEVQOR_HTTP_JOB_ALLOW", "https://hooks.example.com/,http://127.0.0.1:9000/"},
                              {"REDIS_URL", "redis://:pw@127.0.0.1:6380/2"},
                              {"DATABASE_URL", "postgresql://levqor@127.0.0.1/levqor"},
                              {"SENTRY_DSN", "https://abc@o1.ingest.sentry.io/42"},
                              {"RATELIMIT_ENABLED", "shadow"},
                              {"SECURITY_HEADERS_ENABLED", "on"}}));
    EXPECT_EQ(config.listen, (ListenAddress{"::1", 0}));
    EXPECT_EQ(config.log_level, LogLevel::debug);
    EXPECT_EQ(config.data_dir, "/srv/levqor");
    EXPECT_EQ(config.flags.file, "/srv/levqor/flags");  // follows data_dir
    EXPECT_EQ(config.tokens.admin, "/etc/levqor/admin.token");
    EXPECT_EQ(config.tokens.producer, "/etc/levqor/producer.token");
    ASSERT_EQ(config.metrics.nginx_instances.size(), 2u);
    EXPECT_EQ(config.metrics.nginx_instances[0],
              (metrics::NginxInstance{"127.0.0.1:8080", "http://127.0.0.1:8080/levqor/status"}));
    EXPECT_EQ(config.metrics.nginx_instances[1], (metrics::NginxInstance{"edge2", "http://10.0.0.2/levqor/status"}));
    EXPECT_EQ(config.queue.http_job_allow,
              (std::vector<std::string>{"https://hooks.example.com/", "http://127.0.0.1:9000/"}));
    EXPECT_EQ(config.redis_url, "redis://:pw@127.0.0.1:6380/2");
    EXPECT_EQ(config.database_url, "postgresql://levqor@127.0.0.1/levqor");
    EXPECT_EQ(config.error_tracking.sentry_dsn, "https://abc@o1.ingest.sentry.io/42");
    EXPECT_EQ(config.flags.configured.get(Flag::ratelimit), FlagState::shadow);
    EXPECT_EQ(config.flags.configured.get(Flag::security_headers), FlagState::on);
    EXPECT_EQ(config.flags.configured.get(Flag::webhook_verify), FlagState::off);
}

TEST(Config, RelativePathsBecomeAbsolute) {
    const auto config = load_config(std::nullopt, env_of({{"LEVQOR_DATA_DIR", "data/./x"}}));
    ASSERT_FALSE(config.data_dir.empty());
    EXPECT_EQ(config.data_dir.front(), '/');
    EXPECT_TRUE(contains(config.data_dir, "/data/x")) << config.data_dir;
}

TEST(Config, EmptyOptionalVariablesMeanUnset) {
    const auto config = load_config(std::nullopt, env_of({{"SENTRY_DSN", ""},
                                                          {"REDIS_URL", ""},
                                                          {"LEVQOR_ADMIN_TOKEN_FILE", ""},
                                                          {"LEVQOR_NGINX_STATUS_URLS", ""},
                                                          {"LEVQOR_HTTP_JOB_ALLOW", ""}}));
    EXPECT_FALSE(config.error_tracking.sentry_dsn);
    EXPECT_FALSE(config.redis_url);
    EXPECT_FALSE(config.tokens.admin);
    EXPECT_TRUE(config.metrics.nginx_instances.empty());
    EXPECT_TRUE(config.queue.http_job_allow.empty());
}

TEST(Config, BadEnvironmentValuesNameTheVariableAndTheValue) {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"LEVQOR_LISTEN", "nope"},
        {"LEVQOR_LOG_LEVEL", "loud"},
        {"RATELIMIT_ENABLED", "maybe"},
        {"NEW_QUEUE_ENABLED", "ON"},
        {"LEVQOR_NGINX_STATUS_URLS", "ftp://x/y"},
        {"LEVQOR_NGINX_STATUS_URLS", "http://a/s,http://a/s"},
        {"LEVQOR_HTTP_JOB_ALLOW", "hooks.example.com"},
        {"SENTRY_DSN", "https://sentry.io/42"},
        {"REDIS_URL", "http://127.0.0.1:6379"},
        {"DATABASE_URL", "mysql://x"},
        {"LEVQOR_DATA_DIR", ""},
    };
    for (const auto& [name, value] : cases) {
        const auto message = error_of(std::nullopt, env_of({{name, value}}));
        EXPECT_TRUE(contains(message, name + "=\"" + value + "\" is invalid")) << name << ": " << message;
    }
}

TEST(Config, BadFlagValueListsTheAcceptedOnes) {
    const auto message = error_of(std::nullopt, env_of({{"WEBHOOK_VERIFY_ALL", "enforce"}}));
    EXPECT_TRUE(contains(message, "expected off, shadow or on")) << message;
}

// ---- the file -----------------------------------------------------------------

TEST(Config, FileSetsEveryKey) {
    TempDir dir;
    const auto path = dir.write("controld.json", R"({
    // comments are allowed
    "listen": "127.0.0.1:9999",
    "log_level": "warn",
    "data_dir": "/srv/data",
    "admin_token_file": "/etc/levqor/admin.token",
    "producer_token_file": null,
    "flags_file": "/run/levqor/flags",
    "flags": {"ABUSE_GUARDS_ENABLED": "shadow"},
    "nginx_status_urls": ["http://127.0.0.1:8080/levqor/status",
                          {"name": "edge-2", "url": "https://10.0.0.2:8443/levqor/status"}],
    "scrape_timeout_ms": 250,
    "latency_window_s": 60,
    "http_job_allow": ["https://hooks.example.com/"],
    "redis_url": "redis://127.0.0.1:6379",
    "database_url": "host=127.0.0.1 dbname=levqor",
    "sentry_dsn": "http://key@127.0.0.1:9000/7",
    "error_tracking": {"jsonl_max_bytes": 65536, "jsonl_files": 3,
                       "max_events_per_minute": 5, "environment": "staging"},
    "http": {"max_body_bytes": 4096, "read_timeout_ms": 2000, "write_timeout_ms": 3000}
  })");
    const auto config = load_config(path, env_of({}));
    EXPECT_EQ(config.config_file, path);
    EXPECT_EQ(config.listen, (ListenAddress{"127.0.0.1", 9999}));
    EXPECT_EQ(config.log_level, LogLevel::warn);
    EXPECT_EQ(config.data_dir, "/srv/data");
    EXPECT_EQ(config.tokens.admin, "/etc/levqor/admin.token");
    EXPECT_FALSE(config.tokens.producer);
    EXPECT_EQ(config.flags.file, "/run/levqor/flags");
    EXPECT_EQ(config.flags.configured.get(Flag::abuse_guards), FlagState::shadow);
    ASSERT_EQ(config.metrics.nginx_instances.size(), 2u);
    EXPECT_EQ(config.metrics.nginx_instances[0].name, "127.0.0.1:8080");
    EXPECT_EQ(config.metrics.nginx_instances[1].name, "edge-2");
    EXPECT_EQ(config.metrics.scrape_timeout.count(), 250);
    EXPECT_EQ(config.metrics.latency_window.count(), 60);
    EXPECT_EQ(config.queue.http_job_allow.size(), 1u);
    EXPECT_EQ(config.redis_url, "redis://127.0.0.1:6379");
    EXPECT_EQ(config.database_url, "host=127.0.0.1 dbname=levqor");
    EXPECT_EQ(config.error_tracking.sentry_dsn, "http://key@127.0.0.1:9000/7");
    EXPECT_EQ(config.error_tracking.jsonl_max_bytes, 65536u);
    EXPECT_EQ(config.error_tracking.jsonl_files, 3u);
    EXPECT_EQ(config.error_tracking.max_events_per_minute, 5u);
    EXPECT_EQ(config.error_tracking.environment, "staging");
    EXPECT_EQ(config.http.max_body_bytes, 4096u);
    EXPECT_EQ(config.http.read_timeout.count(), 2000);
    EXPECT_EQ(config.http.write_timeout.count(), 3000);
}

TEST(Config, HttpSection) {
    TempDir dir;
    const auto path = dir.write("controld.json", R"({"http": {
    "max_body_bytes": 2048, "max_request_line_bytes": 1024, "max_header_bytes": 4096,
    "max_headers": 20, "header_timeout_ms": 3000, "body_timeout_ms": 9000,
    "read_timeout_ms": 1000, "write_timeout_ms": 2000, "max_connections": 100,
    "max_unauthenticated_connections": 40, "worker_threads": 4, "admin_threads": 1,
    "allowed_hosts": ["controld.internal", "10.0.0.5", "[fd00::1]"]}})");
    const auto http = load_config(path, env_of({})).http;
    EXPECT_EQ(http.max_body_bytes, 2048u);
    EXPECT_EQ(http.max_request_line_bytes, 1024u);
    EXPECT_EQ(http.max_header_bytes, 4096u);
    EXPECT_EQ(http.max_headers, 20u);
    EXPECT_EQ(http.header_timeout.count(), 3000);
    EXPECT_EQ(http.body_timeout.count(), 9000);
    EXPECT_EQ(http.read_timeout.count(), 1000);
    EXPECT_EQ(http.write_timeout.count(), 2000);
    EXPECT_EQ(http.max_connections, 100u);
    EXPECT_EQ(http.max_unauthenticated_connections, 40u);
    EXPECT_EQ(http.worker_threads, 4u);
    EXPECT_EQ(http.admin_threads, 1u);
    EXPECT_EQ(http.allowed_hosts, (std::vector<std::string>{"controld.internal", "10.0.0.5", "[fd00::1]"}));

    const auto defaults = load_config(std::nullopt, env_of({})).http;
    EXPECT_EQ(defaults.max_request_line_bytes, 8192u);
    EXPECT_EQ(defaults.max_header_bytes, 16384u);
    EXPECT_EQ(defaults.max_headers, 100u);
    EXPECT_EQ(defaults.header_timeout.count(), 10000);
    EXPECT_EQ(defaults.max_connections, 512u);
    EXPECT_EQ(defaults.max_unauthenticated_connections, 256u);
    EXPECT_EQ(defaults.worker_threads, 8u);
    EXPECT_EQ(defaults.admin_threads, 2u);
    EXPECT_TRUE(defaults.allowed_hosts.empty());

    const auto bad = [&](const std::string& section) {
        return error_of(dir.write("c.json", R"({"http": )" + section + "}"), env_of({}));
    };
    EXPECT_TRUE(contains(bad(R"({"max_headers": 5})"), "\"http.max_headers\" = 5 is invalid"));
    EXPECT_TRUE(contains(bad(R"({"max_connections": 64, "max_unauthenticated_connections": 65})"),
                         "must not exceed http.max_connections"));
    EXPECT_TRUE(contains(bad(R"({"allowed_hosts": ["*"]})"), "http.allowed_hosts[0]"));
    EXPECT_TRUE(contains(bad(R"({"allowed_hosts": ["h:8089"]})"), "without port"));
    EXPECT_TRUE(contains(bad(R"({"allowed_hosts": "h"})"), "expected a list of strings"));
}

TEST(Config, QueueSection) {
    TempDir dir;
    const auto path = dir.write("controld.json", R"({"queue": {
    "workers": 2, "fetch_batch": 50, "visibility_timeout_s": 20,
    "retry_delays_s": {"http": [0.5, 2]}, "retry_jitter": 0.2,
    "max_payload_bytes": 1024, "max_batch": 10, "shutdown_grace_ms": 3000,
    "idempotency_ttl_s": 3600, "retention_s": 600, "http_timeout_ms": 5000,
    "exec": {"report": {"path": "/usr/local/bin/report", "args": ["--quiet"],
                        "args_allowed": true, "timeout_ms": 15000,
                        "env": {"LANG": "C"}, "max_output_bytes": 100}}}})");
    const auto config = load_config(path, env_of({{"LEVQOR_QUEUE_WORKERS", "6"}}));
    const auto& q = config.queue;
    EXPECT_EQ(q.workers, 6u);  // the environment wins
    EXPECT_EQ(q.fetch_batch, 50u);
    EXPECT_EQ(q.visibility_timeout.count(), 20);
    EXPECT_EQ(q.retry_delays.at("http"), (std::vector<std::chrono::milliseconds>{std::chrono::milliseconds(500),
                                                                                 std::chrono::milliseconds(2000)}));
    EXPECT_EQ(q.retry_delays.at("default").size(), 3u);  // kept when not given
    EXPECT_DOUBLE_EQ(q.retry_jitter, 0.2);
    EXPECT_EQ(q.max_payload_bytes, 1024u);
    EXPECT_EQ(q.max_batch, 10u);
    EXPECT_EQ(q.shutdown_grace.count(), 3000);
    EXPECT_EQ(q.idempotency_ttl.count(), 3600);
    EXPECT_EQ(q.retention.count(), 600);
    EXPECT_EQ(q.http_timeout.count(), 5000);
    const auto& report = q.exec.at("report");
    EXPECT_EQ(report.path, "/usr/local/bin/report");
    EXPECT_EQ(report.args, std::vector<std::string>{"--quiet"});
    EXPECT_TRUE(report.args_allowed);
    EXPECT_EQ(report.timeout.count(), 15000);
    EXPECT_EQ(report.env.at(0), (std::pair<std::string, std::string>{"LANG", "C"}));
    EXPECT_EQ(report.max_output_bytes, 100u);

    const auto defaults = load_config(std::nullopt, env_of({})).queue;
    EXPECT_EQ(defaults.workers, 4u);
    EXPECT_EQ(defaults.visibility_timeout.count(), 30);
    EXPECT_EQ(defaults.retry_delays.at("default"),
              (std::vector<std::chrono::milliseconds>{std::chrono::seconds(1), std::chrono::seconds(5),
                                                      std::chrono::seconds(15)}));
}

TEST(Config, BadQueueValuesNameTheKey) {
    TempDir dir;
    const auto bad = [&](const std::string& queue) {
        return error_of(dir.write("c.json", R"({"queue": )" + queue + "}"), env_of({}));
    };
    EXPECT_TRUE(contains(bad(R"({"wokers": 2})"), "unknown key \"queue.wokers\" (did you mean \"queue.workers\"?)"));
    EXPECT_TRUE(contains(bad(R"({"workers": 100})"), "\"queue.workers\" = 100 is invalid"));
    EXPECT_TRUE(contains(bad(R"({"retry_delays_s": {"http": [1, "x"]}})"), "queue.retry_delays_s.http"));
    EXPECT_TRUE(contains(bad(R"({"retry_jitter": 2})"), "queue.retry_jitter"));
    EXPECT_TRUE(contains(bad(R"({"exec": {"x": {"path": "relative"}}})"), "queue.exec.x.path"));
    EXPECT_TRUE(
        contains(bad(R"({"exec": {"x": {"path": "/bin/x", "shell": true}}})"), "unknown key \"queue.exec.x.shell\""));
    EXPECT_TRUE(contains(bad(R"({"exec": {"x": {"path": "/bin/x", "timeout_ms": 60000}}})"),
                         "shorter than queue.visibility_timeout_s"));
    EXPECT_TRUE(contains(bad(R"({"exec": {"a b": {"path": "/bin/x"}}})"), "command name \"a b\""));
    EXPECT_TRUE(contains(error_of(std::nullopt, env_of({{"LEVQOR_QUEUE_WORKERS", "many"}})),
                         "LEVQOR_QUEUE_WORKERS=\"many\" is invalid"));
    EXPECT_TRUE(contains(bad(R"({"exec": {"x": {"path": "/bin/x", "options_allowed": 1}}})"),
                         "\"queue.exec.x.options_allowed\" = 1 is invalid: expected true or false"));
    EXPECT_TRUE(contains(bad(R"({"exec": {"x": {"path": "/bin/x", "user": "no-such-user-lq"}}})"),
                         "\"queue.exec.x.user\" = \"no-such-user-lq\" is invalid: no such user"));
    EXPECT_TRUE(contains(bad(R"({"exec": {"x": {"path": "/bin/x", "group": "no-such-group-lq"}}})"),
                         "\"queue.exec.x.group\" = \"no-such-group-lq\" is invalid: no such group"));
}

TEST(Config, ExecCommandsMayTakeOptionsAndRunAsAnotherUser) {
    TempDir dir;
    const auto config = load_config(dir.write("c.json", R"({"queue": {"exec": {
        "plain": {"path": "/bin/true"},
        "opts": {"path": "/bin/ls", "args_allowed": true, "options_allowed": true},
        "nobody": {"path": "/usr/bin/id", "user": "nobody"},
        "grouped": {"path": "/usr/bin/id", "user": "nobody", "group": "root"}}}})"),
                                    env_of({}));
    const auto& exec = config.queue.exec;
    EXPECT_FALSE(exec.at("plain").options_allowed);
    EXPECT_FALSE(exec.at("plain").uid);
    EXPECT_FALSE(exec.at("plain").gid);
    EXPECT_TRUE(exec.at("opts").options_allowed);
    if (::geteuid() != 0) GTEST_SKIP() << "switching users needs root";
    EXPECT_EQ(exec.at("nobody").uid, std::optional<uid_t>(65534));
    EXPECT_EQ(exec.at("nobody").gid, std::optional<gid_t>(65534));  // nobody's primary group
    EXPECT_EQ(exec.at("grouped").gid, std::optional<gid_t>(0));
}

TEST(Config, OnlyRootMaySwitchTheIdentityOfExecCommands) {
    queue::ExecCommand command;
    command.uid = 65534;
    command.gid = 65534;
    EXPECT_NO_THROW(queue::check_exec_identity(command, 0, 0));
    EXPECT_NO_THROW(queue::check_exec_identity(command, 65534, 65534));  // itself
    try {
        queue::check_exec_identity(command, 1000, 65534);
        FAIL() << "accepted";
    } catch (const std::invalid_argument& e) {
        EXPECT_TRUE(contains(e.what(),
                             "only root can run a command as another user (controld runs "
                             "as uid 1000, gid 65534, not as root)"))
            << e.what();
    }
    command.uid.reset();
    EXPECT_THROW(queue::check_exec_identity(command, 1000, 1000), std::invalid_argument);
    command.gid.reset();
    EXPECT_NO_THROW(queue::check_exec_identity(command, 1000, 1000));
}

TEST(Config, QueueInlineRunnersAndQuota) {
    TempDir dir;
    const auto defaults = load_config(std::nullopt, env_of({})).queue;
    EXPECT_EQ(defaults.inline_workers, 4u);
    EXPECT_EQ(defaults.inline_queue, 16u);
    EXPECT_EQ(defaults.inline_wait.count(), 2000);
    EXPECT_EQ(defaults.max_depth, 100000);
    EXPECT_EQ(defaults.max_bytes, 256 * 1024 * 1024);
    const auto q = load_config(dir.write("c.json", R"({"queue": {"inline_workers": 2,
      "inline_queue": 0, "inline_wait_ms": 250, "max_depth": 500, "max_bytes": 1048576}})"),
                               env_of({}))
                       .queue;
    EXPECT_EQ(q.inline_workers, 2u);
    EXPECT_EQ(q.inline_queue, 0u);
    EXPECT_EQ(q.inline_wait.count(), 250);
    EXPECT_EQ(q.max_depth, 500);
    EXPECT_EQ(q.max_bytes, 1048576);
    const auto bad = [&](const std::string& queue) {
        return error_of(dir.write("c.json", R"({"queue": )" + queue + "}"), env_of({}));
    };
    EXPECT_TRUE(contains(bad(R"({"inline_workers": 0})"), "\"queue.inline_workers\" = 0 is invalid"));
    EXPECT_TRUE(contains(bad(R"({"inline_wait_ms": -1})"), "queue.inline_wait_ms"));
    EXPECT_TRUE(contains(bad(R"({"max_depth": 0})"), "queue.max_depth"));
    EXPECT_TRUE(contains(bad(R"({"max_bytes": 2048})"), "must be at least queue.max_payload_bytes (65536)"));
}

TEST(Config, EnvironmentOverridesTheFile) {
    TempDir dir;
    const auto path = dir.write("c.json", R"({"listen": "127.0.0.1:9999", "flags":
      {"RATELIMIT_ENABLED": "on", "WEBHOOK_VERIFY_ALL": "shadow"},
      "nginx_status_urls": ["http://a:1/s"], "sentry_dsn": "https://k@h/1"})");
    const auto config = load_config(path, env_of({{"LEVQOR_LISTEN", "127.0.0.1:7777"},
                                                  {"RATELIMIT_ENABLED", "off"},
                                                  {"LEVQOR_NGINX_STATUS_URLS", "http://b:2/s"},
                                                  {"SENTRY_DSN", ""}}));
    EXPECT_EQ(config.listen.port, 7777);
    EXPECT_EQ(config.flags.configured.get(Flag::ratelimit), FlagState::off);          // env wins
    EXPECT_EQ(config.flags.configured.get(Flag::webhook_verify), FlagState::shadow);  // file only
    ASSERT_EQ(config.metrics.nginx_instances.size(), 1u);
    EXPECT_EQ(config.metrics.nginx_instances[0].url, "http://b:2/s");
    EXPECT_FALSE(config.error_tracking.sentry_dsn);  // an empty variable unsets
}

TEST(Config, UnknownKeysAreErrorsWithASuggestion) {
    TempDir dir;
    auto message = error_of(dir.write("c.json", R"({"scrape_timout_ms": 100})"), env_of({}));
    EXPECT_TRUE(contains(message, "unknown key \"scrape_timout_ms\"")) << message;
    EXPECT_TRUE(contains(message, "did you mean \"scrape_timeout_ms\"")) << message;
    EXPECT_TRUE(contains(message, dir.file("c.json"))) << message;

    message = error_of(dir.write("c.json", R"({"error_tracking": {"files": 2}})"), env_of({}));
    EXPECT_TRUE(contains(message, "unknown key \"error_tracking.files\"")) << message;

    message = error_of(dir.write("c.json", R"({"flags": {"RATELIMIT": "on"}})"), env_of({}));
    EXPECT_TRUE(contains(message, "unknown flag \"flags.RATELIMIT\"")) << message;

    message =
        error_of(dir.write("c.json", R"({"nginx_status_urls": [{"url": "http://a/s", "nmae": "x"}]})"), env_of({}));
    EXPECT_TRUE(contains(message, "nginx_status_urls[0].nmae")) << message;
}

TEST(Config, BadFileValuesNameTheKeyAndTheValue) {
    TempDir dir;
    const std::vector<std::pair<std::string, std::string>> cases = {
        {R"({"listen": 8089})", "\"listen\" = 8089 is invalid: expected a string"},
        {R"({"listen": "localhost"})", "\"listen\" = \"localhost\" is invalid: missing port"},
        {R"({"scrape_timeout_ms": 0})",
         "\"scrape_timeout_ms\" = 0 is invalid: expected a whole number from 10 to 60000"},
        {R"({"scrape_timeout_ms": "1000"})", "\"scrape_timeout_ms\" = \"1000\" is invalid"},
        {R"({"scrape_timeout_ms": 1.5})", "\"scrape_timeout_ms\" = 1.5 is invalid"},
        {R"({"flags": {"RATELIMIT_ENABLED": "yes"}})",
         "\"flags.RATELIMIT_ENABLED\" = \"yes\" is invalid: expected off, shadow or on"},
        {R"({"flags": ["RATELIMIT_ENABLED"]})", "\"flags\""},
        {R"({"nginx_status_urls": "http://a/s"})", "\"nginx_status_urls\" = \"http://a/s\" is invalid"},
        {R"({"nginx_status_urls": ["a/s"]})", "\"nginx_status_urls[0]\" = \"a/s\" is invalid: missing scheme"},
        {R"({"nginx_status_urls": [{"name": "x"}]})", "missing \"url\""},
        {R"({"nginx_status_urls": [{"name": "x", "url": "http://a/s"}, {"name": "x", "url": "http://b/s"}]})",
         "two instances are named \"x\""},
        {R"({"nginx_status_urls": [{"name": "controld", "url": "http://a/s"}]})",
         "the instance name \"controld\" is reserved"},
        {R"({"nginx_status_urls": ["controld=http://a/s"]})", "the instance name \"controld\" is reserved"},
        {R"({"sentry_dsn": "https://sentry.io/1"})", "\"sentry_dsn\""},
        {R"({"error_tracking": {"jsonl_files": 0}})", "\"error_tracking.jsonl_files\" = 0 is invalid"},
        {R"({"http": {"max_body_bytes": 10}})", "\"http.max_body_bytes\" = 10 is invalid"},
        {R"({"log_level": "chatty"})", "\"log_level\" = \"chatty\" is invalid"},
    };
    for (const auto& [json, expected] : cases) {
        const auto message = error_of(dir.write("c.json", json), env_of({}));
        EXPECT_TRUE(contains(message, expected)) << json << "\n  -> " << message;
    }
}

TEST(Config, MalformedJsonIsAnError) {
    TempDir dir;
    auto message = error_of(dir.write("c.json", "{\"listen\": "), env_of({}));
    EXPECT_TRUE(contains(message, "is not valid JSON")) << message;
    message = error_of(dir.write("c.json", ""), env_of({}));
    EXPECT_TRUE(contains(message, "is not valid JSON")) << message;
    message = error_of(dir.write("c.json", "[1]"), env_of({}));
    EXPECT_TRUE(contains(message, "must be a JSON object")) << message;
}

TEST(Config, DeepOrHugeFilesAreRefusedBeforeParsing) {
    TempDir dir;
    const std::size_t n = 300000;
    auto message = error_of(
        dir.write("c.json", "{\"queue\":{\"retry_delays_s\":" + std::string(n, '[') + std::string(n, ']') + "}}"),
        env_of({}));
    EXPECT_TRUE(contains(message, "is refused: nesting deeper than 64 levels")) << message;
    // Brackets in comments do not count; comments are still allowed.
    EXPECT_EQ(error_of(dir.write("c.json", "// " + std::string(100, '[') + "\n{}"), env_of({})), "");
    message = error_of(dir.write("c.json", "{}" + std::string(5 * 1024 * 1024, ' ')), env_of({}));
    EXPECT_TRUE(contains(message, "bytes; the limit is 4194304")) << message;
}

TEST(Config, MissingConfigFileIsAnError) {
    const auto message = error_of(std::string("/nonexistent/levqor.conf"), env_of({}));
    EXPECT_TRUE(contains(message, "\"/nonexistent/levqor.conf\"")) << message;
    EXPECT_TRUE(contains(message, "does not exist")) << message;
}

TEST(Config, DirectoryAsConfigFileIsAnError) {
    EXPECT_TRUE(contains(error_of(std::string("/"), env_of({})), "is a directory"));
}

TEST(Config, EmptyObjectIsTheDefaults) {
    TempDir dir;
    const auto config = load_config(dir.write("c.json", "{}"), env_of({}));
    EXPECT_EQ(config.listen, (ListenAddress{"127.0.0.1", 8089}));
}

}  // namespace
}  // namespace levqor::controld
