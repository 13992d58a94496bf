// SPDX-License-Identifier: Apache-2.0
// The runtime flags' settings, declared and read here: the top-level
// "flags_file" (LEVQOR_FLAGS_FILE) and "flags" (and one environment variable
// per flag: RATELIMIT_ENABLED, ...), the flags controld starts with. Plain
// values; thread-safe to copy and read.
#pragma once

#include <string>

#include "levqor/controld/core/config.h"
#include "levqor/controld/core/flag_set.h"

namespace levqor::controld::flags {

struct FlagSettings {
    std::string file;    // absolute; empty: <data_dir>/flags (Config fills it in)
    FlagSet configured;  // the flags controld starts with (POST /ops/flags/reset applies them)
};

// The part's top-level keys with their effective values, as the config file
// writes them (levqor-controld --check-config).
nlohmann::ordered_json settings_json(const FlagSettings& settings);

// The flags' part of the configuration, filling `out`.
ConfigPart config_part(FlagSettings& out);

}  // namespace levqor::controld::flags
