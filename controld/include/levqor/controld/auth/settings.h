// SPDX-License-Identifier: Apache-2.0
// The bearer tokens' settings, declared and read here: the top-level
// "admin_token_file" and "producer_token_file" (LEVQOR_ADMIN_TOKEN_FILE,
// LEVQOR_PRODUCER_TOKEN_FILE in the environment) into auth::TokenFiles.
// Plain values; thread-safe to copy and read.
#pragma once

#include "levqor/controld/auth/token_store.h"
#include "levqor/controld/core/config.h"

namespace levqor::controld::auth {

// The part's top-level keys with their effective values, as the config file
// writes them (levqor-controld --check-config) (the
// paths; a file's tokens are never shown).
nlohmann::ordered_json settings_json(const TokenFiles& files);

// The token files' part of the configuration, filling `out`.
ConfigPart config_part(TokenFiles& out);

}  // namespace levqor::controld::auth
