// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/core/flag_set.h"

#include <stdexcept>

namespace levqor::controld {

FlagSet parse_flags_file(std::string_view text) {
    auto parsed = levqor::flags::parse_file(text);
    if (!parsed) throw std::invalid_argument(parsed.error());
    return parsed.value();
}

nlohmann::ordered_json to_json(const FlagSet& flags) {
    nlohmann::ordered_json out = nlohmann::ordered_json::object();
    for (Flag flag : kAllFlags) out[std::string(flag_name(flag))] = to_string(flags.get(flag));
    return out;
}

}  // namespace levqor::controld
