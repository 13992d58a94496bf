// SPDX-License-Identifier: Apache-2.0
// The generic settings reader (core/settings_reader.h) with a made-up
// component: one key table serves the unknown-key check and the reading,
// and every message names the file, the key, the value and the range.
#include "levqor/controld/core/settings_reader.h"

#include <gtest/gtest.h>

#include "levqor/controld/core/config.h"
#include "test_support.h"

namespace levqor::controld {
namespace {

using nlohmann::json;
using testing::env_of;
using testing::TempDir;

struct BackupSettings {
    unsigned copies = 3;
    std::chrono::seconds interval{3600};
    bool compress = false;
    std::string target = "/var/backups";
};

const Keys<BackupSettings>& backup_keys() {
    using S = BackupSettings;
    static const Keys<S> keys = {
        integer_key("copies", 1, 10, &S::copies),
        integer_key("interval_s", 60, 86400, &S::interval),
        boolean_key("compress", &S::compress),
        string_key<S>("target", [](const std::string& v, S& out) { out.target = path_value(v); }),
    };
    return keys;
}

const Keys<BackupSettings>& top_keys() {
    static const Keys<BackupSettings> keys = {
        section_key("backup", backup_keys(), [](const SettingsReader& r, const std::string& p, BackupSettings& s) {
            if (s.copies > 5 && s.interval < std::chrono::seconds(600)) {
                r.bad(p + "copies", json(s.copies), "at most 5 copies below an interval of 600 s");
            }
        })};
    return keys;
}

void backup_environment(const EnvReader& e, BackupSettings& out) {
    e.with("LEVQOR_BACKUP_TARGET", [&](const std::string& v) { out.target = path_value(v); });
}

std::string error_of(const std::function<void()>& load) {
    try {
        load();
    } catch (const ConfigError& e) {
        return e.what();
    }
    return "";
}

struct Loaded {
    CoreSettings core;
    BackupSettings backup;
};

Loaded load(const std::optional<std::string>& file, const EnvLookup& env) {
    Loaded out;
    load_parts(file, env, {config_part(out.core), config_part(top_keys(), out.backup, backup_environment)});
    return out;
}

TEST(SettingsReader, AKeyTableReadsEachKeyIntoItsFieldInItsOwnUnit) {
    TempDir dir;
    const auto loaded = load(dir.write("c.json", R"({"backup": {"copies": 2, "interval_s": 600,
      "compress": true, "target": "/srv/b"}})"),
                             env_of({}));
    EXPECT_EQ(loaded.backup.copies, 2u);
    EXPECT_EQ(loaded.backup.interval, std::chrono::minutes(10));
    EXPECT_TRUE(loaded.backup.compress);
    EXPECT_EQ(loaded.backup.target, "/srv/b");
    EXPECT_EQ(loaded.core.data_dir, "/var/lib/levqor");  // core's part, untouched
}

TEST(SettingsReader, KeysNotGivenKeepTheirDefaults) {
    TempDir dir;
    const auto loaded = load(dir.write("c.json", R"({"backup": {}})"), env_of({}));
    EXPECT_EQ(loaded.backup.copies, 3u);
    EXPECT_EQ(loaded.backup.interval, std::chrono::hours(1));
}

TEST(SettingsReader, TheSameTableNamesTheKnownKeysOfASection) {
    TempDir dir;
    const auto path = dir.write("c.json", R"({"backup": {"copeis": 2}})");
    EXPECT_EQ(error_of([&] { load(path, env_of({})); }),
              "config file \"" + path +
                  "\": unknown key \"backup.copeis\" (did you mean \"backup.copies\"?); known keys "
                  "in \"backup\": copies, interval_s, compress, target");
}

TEST(SettingsReader, TopLevelKeysAreTheUnionOfEveryPartsKeys) {
    TempDir dir;
    EXPECT_EQ(error_of([&] { load(dir.write("c.json", R"({"backup": {}, "listen": "127.0.0.1:1"})"), env_of({})); }),
              "");
    const auto message = error_of([&] { load(dir.write("c.json", R"({"bakup": {}})"), env_of({})); });
    EXPECT_NE(message.find("unknown key \"bakup\" (did you mean \"backup\"?)"), std::string::npos) << message;
    EXPECT_NE(message.find("data_dir, redis_url, database_url, backup"), std::string::npos) << message;
}

TEST(SettingsReader, BadValuesNameTheFileTheKeyTheValueAndTheRange) {
    TempDir dir;
    const auto bad = [&](const std::string& section) {
        const auto path = dir.write("c.json", R"({"backup": )" + section + "}");
        const auto message = error_of([&] { load(path, env_of({})); });
        const auto prefix = "config file \"" + path + "\": ";
        EXPECT_EQ(message.rfind(prefix, 0), 0u) << message;
        return message.substr(prefix.size());
    };
    EXPECT_EQ(bad(R"({"copies": 11})"), "\"backup.copies\" = 11 is invalid: expected a whole number from 1 to 10");
    EXPECT_EQ(bad(R"({"copies": "2"})"), "\"backup.copies\" = \"2\" is invalid: expected a whole number from 1 to 10");
    EXPECT_EQ(bad(R"({"compress": "yes"})"), "\"backup.compress\" = \"yes\" is invalid: expected true or false");
    EXPECT_EQ(bad(R"({"target": ""})"), "\"backup.target\" = \"\" is invalid: empty path");
    EXPECT_EQ(bad(R"([1])"), "\"backup\" = [1] is invalid: expected an object");
    EXPECT_EQ(bad(R"({"copies": 6, "interval_s": 60})"),
              "\"backup.copies\" = 6 is invalid: at most 5 copies below an interval of 600 s");
}

TEST(SettingsReader, TheEnvironmentWinsAndItsErrorsNameTheVariable) {
    TempDir dir;
    const auto path = dir.write("c.json", R"({"backup": {"target": "/a"}})");
    EXPECT_EQ(load(path, env_of({{"LEVQOR_BACKUP_TARGET", "/b"}})).backup.target, "/b");
    EXPECT_EQ(error_of([&] {
                  load(path, env_of({{"LEVQOR_BACKUP_TARGET", ""}}));
              }),
              "LEVQOR_BACKUP_TARGET=\"\" is invalid: empty path");
}

TEST(SettingsReader, WithoutAFileOnlyTheEnvironmentApplies) {
    const auto loaded = load(std::nullopt, env_of({{"LEVQOR_BACKUP_TARGET", "/b"}}));
    EXPECT_EQ(loaded.backup.target, "/b");
    EXPECT_EQ(loaded.backup.copies, 3u);
}

TEST(SettingsReader, SplitCommasTrimsAndDropsEmptyItems) {
    EXPECT_EQ(split_commas(" a, b,,c ,"), (std::vector<std::string>{"a", "b", "c"}));
    EXPECT_TRUE(split_commas("").empty());
}

}  // namespace
}  // namespace levqor::controld
