#include "levqor/controld/check_config.h"

#include <gtest/gtest.h>

#include "levqor/controld/core/urls.h"
#include "test_support.h"

namespace levqor::controld {
namespace {

using testing::env_of;
using testing::TempDir;

const std::string kExampleConfig = std::string(LEVQOR_CONTROLD_TEST_DATA) + "/../../../conf/controld/controld.json";

std::string check_error(const std::optional<std::string>& file, const EnvLookup& env) {
    try {
        check_config(file, env);
    } catch (const ConfigError& e) {
        return e.what();
    }
    return "";
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
