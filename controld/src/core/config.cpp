#include "levqor/controld/core/config.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace levqor::controld {
namespace {

std::string json_quoted(const std::string& value) {
  return nlohmann::json(value).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void check_config_file(const std::string& path) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (!std::filesystem::exists(status)) {
    throw ConfigError("config file " + json_quoted(path) +
                      " (from --config) does not exist; fix the path or omit "
                      "--config to run on defaults and the environment");
  }
  if (std::filesystem::is_directory(status)) {
    throw ConfigError("config file " + json_quoted(path) + " (from --config) is a directory");
  }
  std::ifstream in(path);
  if (!in) {
    throw ConfigError("config file " + json_quoted(path) + " (from --config) cannot be read: " +
                      std::strerror(errno));
  }
}

void apply_environment(Config& config, const EnvLookup& env) {
  if (auto listen = env("LEVQOR_LISTEN")) {
    try {
      config.listen = parse_listen_address(*listen);
    } catch (const std::invalid_argument& e) {
      throw ConfigError("LEVQOR_LISTEN=" + json_quoted(*listen) + " is invalid: " + e.what());
    }
  }
  if (auto level = env("LEVQOR_LOG_LEVEL")) {
    auto parsed = parse_log_level(*level);
    if (!parsed) {
      throw ConfigError("LEVQOR_LOG_LEVEL=" + json_quoted(*level) +
                        " is invalid: expected debug, info, warn or error");
    }
    config.log_level = *parsed;
  }
}

}  // namespace

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
    check_config_file(*config_file);
    config.config_file = config_file;
  }
  apply_environment(config, env);
  return config;
}

}  // namespace levqor::controld
