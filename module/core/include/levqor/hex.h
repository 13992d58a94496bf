// SPDX-License-Identifier: Apache-2.0
// Lower-case hex encoding, and the hex SHA-1 of a text: Redis names a Lua
// script by it (SCRIPT LOAD, EVALSHA), so nginx's rate-limit script and
// controld's queue scripts are named by this one function. Pure; thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace levqor {

// Writes 2 * n characters to out; no allocation (the module's hot path).
inline void hex_into(char* out, const unsigned char* bytes, std::size_t n) noexcept {
    static constexpr char kDigits[] = "0123456789abcdef";
    for (std::size_t i = 0; i < n; ++i) {
        out[2 * i] = kDigits[bytes[i] >> 4];
        out[2 * i + 1] = kDigits[bytes[i] & 15];
    }
}

// 40 hex digits, as SCRIPT LOAD returns for this script text.
std::string sha1_hex(std::string_view text);

}  // namespace levqor
