// SPDX-License-Identifier: Apache-2.0
// What levqorctl's commands share to build their results: an error line, a
// usage error, JSON printed as received, a cell's text. Internal to the ctl
// component (src/ctl), included by its command sources only.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "levqor/controld/ctl/client.h"

namespace levqor::controld::ctl::output {

inline CommandResult failure(const std::string& message) {
    return CommandResult{kExitFailure, "", "levqorctl: " + message + "\n"};
}

inline CommandResult usage_error(const std::string& message) {
    return CommandResult{kExitUsage, "", "levqorctl: " + message + "\n"};
}

inline std::string pretty(const nlohmann::json& value) { return value.dump(2) + "\n"; }

// A value as a table cell: strings bare, null as "-", the rest as JSON.
inline std::string text_of(const nlohmann::json& value) {
    if (value.is_string()) return value.get<std::string>();
    if (value.is_null()) return "-";
    return value.dump();
}

// A job id as controld makes them: 32 lowercase hex digits.
inline bool job_id_shape(const std::string& id) {
    return id.size() == 32 && id.find_first_not_of("0123456789abcdef") == std::string::npos;
}

}  // namespace levqor::controld::ctl::output
