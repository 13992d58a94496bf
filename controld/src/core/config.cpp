#include "levqor/controld/core/config.h"

#include "levqor/controld/core/urls.h"

namespace levqor::controld {
namespace {

using nlohmann::json;

// ---- values shared by the file and the environment --------------------------
// Each parser throws std::invalid_argument with the reason; the caller says
// where the value came from.

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

std::string redis_url_value(const std::string& text) {
  parse_redis_url(text);
  return text;
}

std::string database_url_value(const std::string& text) {
  check_database_url(text);
  return text;
}

// ---- the file -------------------------------------------------------------------

void read_flags(const SettingsReader& reader, const std::string& key, const json& flags,
                FlagSet& out) {
  if (!flags.is_object()) {
    reader.bad(key, flags, "expected an object such as {\"RATELIMIT_ENABLED\":\"shadow\"}");
  }
  for (const auto& [name, value] : flags.items()) {
    const auto flag = parse_flag_name(name);
    if (!flag) {
      reader.fail("unknown flag " + quoted(key + "." + name) +
                  "; known flags: " + flag_names_list());
    }
    reader.string_value(key + "." + name, value,
                        [&](const std::string& v) { out.set(*flag, flag_value(v)); });
  }
}

const Keys<CoreSettings>& core_keys() {
  using S = CoreSettings;
  static const Keys<S> keys = {
      string_key<S>("listen", [](const std::string& v, S& out) { out.listen = listen_value(v); }),
      string_key<S>("log_level",
                    [](const std::string& v, S& out) { out.log_level = log_level_value(v); }),
      string_key<S>("data_dir", [](const std::string& v, S& out) { out.data_dir = path_value(v); }),
      {"admin_token_file",
       [](const SettingsReader& r, const std::string& key, const json& value, S& out) {
         out.admin_token_file = r.optional_path(key, value);
       }},
      {"producer_token_file",
       [](const SettingsReader& r, const std::string& key, const json& value, S& out) {
         out.producer_token_file = r.optional_path(key, value);
       }},
      string_key<S>("flags_file",
                    [](const std::string& v, S& out) { out.flags_file = path_value(v); }),
      {"flags", [](const SettingsReader& r, const std::string& key, const json& value,
                   S& out) { read_flags(r, key, value, out.flags); }},
      {"redis_url", [](const SettingsReader& r, const std::string& key, const json& value,
                       S& out) { out.redis_url = r.optional_string(key, value, redis_url_value); }},
      {"database_url",
       [](const SettingsReader& r, const std::string& key, const json& value, S& out) {
         out.database_url = r.optional_string(key, value, database_url_value);
       }},
  };
  return keys;
}

// ---- the environment ----------------------------------------------------------

void read_core_environment(const EnvReader& e, CoreSettings& out) {
  e.with("LEVQOR_LISTEN", [&](const std::string& v) { out.listen = listen_value(v); });
  e.with("LEVQOR_LOG_LEVEL", [&](const std::string& v) { out.log_level = log_level_value(v); });
  e.with("LEVQOR_DATA_DIR", [&](const std::string& v) { out.data_dir = path_value(v); });
  e.optional("LEVQOR_ADMIN_TOKEN_FILE", out.admin_token_file, path_value);
  e.optional("LEVQOR_PRODUCER_TOKEN_FILE", out.producer_token_file, path_value);
  e.with("LEVQOR_FLAGS_FILE", [&](const std::string& v) { out.flags_file = path_value(v); });
  e.optional("REDIS_URL", out.redis_url, redis_url_value);
  e.optional("DATABASE_URL", out.database_url, database_url_value);
  for (Flag flag : kAllFlags) {
    e.with(std::string(flag_name(flag)),
           [&](const std::string& v) { out.flags.set(flag, flag_value(v)); });
  }
}

}  // namespace

ConfigPart config_part(CoreSettings& out) {
  return config_part(core_keys(), out, read_core_environment, [](CoreSettings& core) {
    if (core.flags_file.empty()) core.flags_file = core.data_dir + "/flags";
  });
}

void load_parts(const std::optional<std::string>& config_file, const EnvLookup& env,
                const std::vector<ConfigPart>& parts) {
  if (config_file) {
    const SettingsReader reader(*config_file);
    const json root = reader.read_file();
    std::vector<std::string> known;
    for (const auto& part : parts) known.insert(known.end(), part.keys.begin(), part.keys.end());
    reader.check_keys(root, "", known);
    for (const auto& part : parts) part.read_file(reader, root);
  }
  const EnvReader reader(env);
  for (const auto& part : parts) {
    if (part.read_environment) part.read_environment(reader);
  }
  for (const auto& part : parts) {
    if (part.finish) part.finish();
  }
}

}  // namespace levqor::controld
