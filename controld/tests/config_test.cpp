#include "levqor/controld/core/config.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>

namespace levqor::controld {
namespace {

EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

std::string error_of(const std::optional<std::string>& file, const EnvLookup& env) {
  try {
    load_config(file, env);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(Config, DefaultsNeedNoFileAndNoEnvironment) {
  const auto config = load_config(std::nullopt, env_of({}));
  EXPECT_EQ(config.listen, (ListenAddress{"127.0.0.1", 8089}));
  EXPECT_EQ(config.log_level, LogLevel::info);
  EXPECT_FALSE(config.config_file);
  EXPECT_LT(config.shutdown_grace.count(), 2000);
}

TEST(Config, EnvironmentSetsListenAndLogLevel) {
  const auto config = load_config(
      std::nullopt, env_of({{"LEVQOR_LISTEN", "[::1]:0"}, {"LEVQOR_LOG_LEVEL", "debug"}}));
  EXPECT_EQ(config.listen, (ListenAddress{"::1", 0}));
  EXPECT_EQ(config.log_level, LogLevel::debug);
}

TEST(Config, BadListenNamesTheVariableAndTheValue) {
  const auto message = error_of(std::nullopt, env_of({{"LEVQOR_LISTEN", "nope"}}));
  EXPECT_NE(message.find("LEVQOR_LISTEN=\"nope\""), std::string::npos) << message;
  EXPECT_NE(message.find("missing port"), std::string::npos) << message;
}

TEST(Config, EmptyListenIsAnError) {
  EXPECT_NE(error_of(std::nullopt, env_of({{"LEVQOR_LISTEN", ""}})).find("empty"),
            std::string::npos);
}

TEST(Config, BadLogLevelIsAnError) {
  const auto message = error_of(std::nullopt, env_of({{"LEVQOR_LOG_LEVEL", "loud"}}));
  EXPECT_NE(message.find("LEVQOR_LOG_LEVEL=\"loud\""), std::string::npos) << message;
}

TEST(Config, MissingConfigFileIsAnError) {
  const auto message = error_of(std::string("/nonexistent/levqor.conf"), env_of({}));
  EXPECT_NE(message.find("\"/nonexistent/levqor.conf\""), std::string::npos) << message;
  EXPECT_NE(message.find("does not exist"), std::string::npos) << message;
}

TEST(Config, DirectoryAsConfigFileIsAnError) {
  EXPECT_NE(error_of(std::string("/"), env_of({})).find("is a directory"), std::string::npos);
}

TEST(Config, ExistingConfigFileIsAccepted) {
  char path[] = "/tmp/levqor-config-test-XXXXXX";
  const int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ::close(fd);
  const auto config = load_config(std::string(path), env_of({}));
  EXPECT_EQ(config.config_file, std::string(path));
  std::remove(path);
}

}  // namespace
}  // namespace levqor::controld
