// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/check_config.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "levqor/controld/core/urls.h"
#include "test_support.h"

namespace levqor::controld {
namespace {

using testing::env_of;
using testing::TempDir;

const std::string kExampleConfig = std::string(LEVQOR_CONTROLD_TEST_DATA) + "/../../../conf/controld/controld.json";

std::string check_error(const std::optional<std::string>& file, const EnvLookup& env) {
    return testing::config_error_of([&] { check_config(file, env); });
}

TEST(CheckConfig, EffectiveSettingsAreAConfigFileThatLoadsToTheSameSettings) {
    // Every key printed is one the loader reads, with a value it reads back
    // as the same: the shipped example, and the defaults.
    const TempDir dir;
    for (const auto& file : {std::optional<std::string>(kExampleConfig), std::optional<std::string>()}) {
        const auto first = effective_settings(load_config(file, env_of({})));
        const auto copy = dir.write("effective.json", first.dump());
        EXPECT_EQ(effective_settings(load_config(copy, env_of({}))), first) << first.dump(2);
    }
}

// The keys the loader knows, as its "unknown key" message lists them.
std::set<std::string> known_keys(const TempDir& dir, const std::string& section) {
    const auto file = dir.write(
        "unknown.json", section.empty() ? R"({"zz_unknown": 1})" : "{\"" + section + R"(": {"zz_unknown": 1}})");
    const auto error = check_error(file, env_of({}));
    const auto list = error.find("known keys");
    std::set<std::string> keys;
    if (list == std::string::npos) return keys;
    std::string rest = error.substr(error.find(": ", list) + 2);
    for (std::size_t at = 0; at <= rest.size();) {
        const auto comma = std::min(rest.find(", ", at), rest.size());
        keys.insert(rest.substr(at, comma - at));
        at = comma + 2;
    }
    return keys;
}

std::set<std::string> printed_keys(const nlohmann::ordered_json& object) {
    std::set<std::string> keys;
    for (const auto& [key, value] : object.items()) keys.insert(key);
    return keys;
}

TEST(CheckConfig, EveryKeyTheLoaderKnowsIsPrinted) {
    // A key added to a component's table but not to its settings_json fails here.
    const TempDir dir;
    const auto shown = effective_settings(load_config(std::nullopt, env_of({})));
    EXPECT_EQ(printed_keys(shown), known_keys(dir, ""));
    for (const char* section : {"error_tracking", "http", "queue", "backup", "cost", "scheduler", "abuse"}) {
        EXPECT_EQ(printed_keys(shown[section]), known_keys(dir, section)) << section;
    }
}

TEST(CheckConfig, SecretsAreMasked) {
    const TempDir dir;
    const auto file = dir.write("c.json", R"({
        "backup": {"targets": [{"name": "db", "kind": "postgres", "url": "host=db password='p w\\'x' dbname=a"}]},
        "queue": {"exec": {"job": {"path": "/bin/true", "env": {"TOKEN": "exec-secret"}}}},
        "schedules": {"s": {"cron": "5 * * * *", "job": {"type": "http", "payload": {"api_key": "k-secret"}}}}
    })");
    const auto out =
        effective_settings(load_config(file, env_of({{"REDIS_URL", "redis://:r-secret@h:1/2"},
                                                     {"DATABASE_URL", "postgresql://u:d-secret@h/db?password=d-secret"},
                                                     {"SENTRY_DSN", "https://s-secret@sentry.example/3"}})))
            .dump();
    for (const char* secret : {"r-secret", "d-secret", "s-secret", "p w", "exec-secret", "k-secret"}) {
        EXPECT_EQ(out.find(secret), std::string::npos) << secret << " in " << out;
    }
    EXPECT_NE(out.find(R"("redis_url":"redis://***@h:1/2")"), std::string::npos) << out;
    EXPECT_NE(out.find(R"("database_url":"postgresql://***@h/db?password=***")"), std::string::npos) << out;
    EXPECT_NE(out.find(R"("url":"host=db password='***' dbname=a")"), std::string::npos) << out;
}

TEST(CheckConfig, MaskedConnectionUrlLeavesUrlsWithoutCredentialsAlone) {
    EXPECT_EQ(masked_connection_url("redis://127.0.0.1:6379/0"), "redis://127.0.0.1:6379/0");
    EXPECT_EQ(masked_connection_url("host=db dbname=p"), "host=db dbname=p");
    // A one-letter password is masked where it is a value, not elsewhere.
    EXPECT_EQ(masked_connection_url("host=p password=p dbname=p"), "host=p password=*** dbname=p");
}

TEST(CheckConfig, ChecksTheFilesAStartReads) {
    const TempDir dir;
    const auto token = dir.write("admin.token", "0123456789abcdef0123456789abcdef\n", 0644);
    const auto env = env_of({{"LEVQOR_ADMIN_TOKEN_FILE", token}, {"LEVQOR_DATA_DIR", dir.path()}});
    const auto error = check_error(std::nullopt, env);
    EXPECT_EQ(error.rfind("admin_token_file: ", 0), 0u) << error;
    EXPECT_NE(error.find("chmod 600"), std::string::npos) << error;

    ::chmod(token.c_str(), 0600);
    const auto report = check_config(std::nullopt, env);
    EXPECT_EQ(report["tokens"]["admin"]["tokens"], 1);
    EXPECT_EQ(report["shutdown"]["budget_ms"], 6000);  // max(1.5 s, 5 s) + 1 s

    const auto pepper = dir.write("pepper", "too short", 0600);
    const auto bad_pepper = check_error(std::nullopt, env_of({{"LEVQOR_ABUSE_PEPPER_FILE", pepper}}));
    EXPECT_EQ(bad_pepper.rfind("abuse.pepper_file ", 0), 0u) << bad_pepper;

    const auto key_config = dir.write("k.json", R"({"backup": {"encryption_key_file": "/nonexistent/key"}})");
    const auto bad_key = check_error(key_config, env_of({}));
    EXPECT_EQ(bad_key.rfind("backup.encryption_key_file: ", 0), 0u) << bad_key;

    const auto not_dir = dir.write("plain", "x");
    const auto bad_dir = check_error(std::nullopt, env_of({{"LEVQOR_DATA_DIR", not_dir}}));
    EXPECT_EQ(bad_dir, "data_dir: " + not_dir + " is not a directory");
}

TEST(CheckConfig, ErrorsAreMasked) {
    const auto env = env_of({{"DATABASE_URL", "host=h password=pg-secret"}, {"SENTRY_DSN", "https://dsn-key@h/1"}});
    EXPECT_EQ(mask_config_error("x redis://u:pw@h:1 y pg-secret dsn-key", env), "x redis://***@h:1 y *** ***");
}

}  // namespace
}  // namespace levqor::controld
