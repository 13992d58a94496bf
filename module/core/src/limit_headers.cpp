// SPDX-License-Identifier: Apache-2.0
#include "levqor/limit_headers.h"

#include <cstring>

namespace levqor::limit {

namespace {

// "00".."99": two digits per division.
constexpr char kPairs[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

}  // namespace

char* write_u64(char* p, std::uint64_t v) noexcept {
    if (v < 10) {
        *p = static_cast<char>('0' + v);
        return p + 1;
    }
    char tmp[kMaxU64Digits];
    char* t = tmp + kMaxU64Digits;
    while (v >= 100) {
        const std::uint64_t pair = v % 100;
        v /= 100;
        t -= 2;
        std::memcpy(t, kPairs + 2 * pair, 2);
    }
    if (v >= 10) {
        t -= 2;
        std::memcpy(t, kPairs + 2 * v, 2);
    } else {
        *--t = static_cast<char>('0' + v);
    }
    const std::size_t n = static_cast<std::size_t>(tmp + kMaxU64Digits - t);
    std::memcpy(p, t, n);
    return p + n;
}

std::string policy_item(std::string_view name, const gcra::Limit& limit) {
    return "\"" + std::string(name) + "\";q=" + std::to_string(limit.burst) +
           ";w=" + std::to_string(window_seconds(limit));
}

std::string state_item_prefix(std::string_view name) { return "\"" + std::string(name) + "\";r="; }

char* write_state_item(char* p, std::string_view prefix, std::uint64_t remaining, std::uint64_t reset_s) noexcept {
    std::memcpy(p, prefix.data(), prefix.size());
    p = write_u64(p + prefix.size(), remaining);
    std::memcpy(p, ";t=", 3);
    return write_u64(p + 3, reset_s);
}

std::size_t write_error_body(char* out, std::string_view error, std::uint64_t retry_after_s) noexcept {
    char* p = out;
    auto put = [&p](std::string_view s) { p = static_cast<char*>(std::memcpy(p, s.data(), s.size())) + s.size(); };
    put("{\"error\":\"");
    put(error);
    put("\",\"retry_after\":");
    p = write_u64(p, retry_after_s);
    *p++ = '}';
    return static_cast<std::size_t>(p - out);
}

std::size_t write_rejection_body(char* out, std::uint64_t retry_after_s) noexcept {
    return write_error_body(out, "rate_limited", retry_after_s);
}

}  // namespace levqor::limit
