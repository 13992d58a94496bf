// SPDX-License-Identifier: Apache-2.0
// Helpers shared by the webhook unit tests.
#pragma once

#include <string>
#include <string_view>

#include "levqor/webhook_scheme.h"

namespace levqor::webhook::test {

// A request's header values, built field by field.
struct Headers {
    HeaderValues v{};
    Headers& set(Field f, std::string_view value, std::uint8_t count = 1) {
        v.value[f] = value;
        v.count[f] = count;
        return *this;
    }
    Headers& sig(std::string_view value) { return set(kSignature, value); }
    Headers& ts(std::string_view value) { return set(kTimestamp, value); }
    Headers& id(std::string_view value) { return set(kId, value); }
};

inline std::string hex(std::string_view bytes) {
    static const char digits[] = "0123456789abcdef";
    std::string out;
    for (const char c : bytes) {
        out.push_back(digits[static_cast<unsigned char>(c) >> 4]);
        out.push_back(digits[static_cast<unsigned char>(c) & 15]);
    }
    return out;
}

}  // namespace levqor::webhook::test
