#include "levqor/ratelimit_fields.h"

#include <cstring>

namespace levqor::ratelimit {

char* write_u64(char* p, std::uint64_t v) noexcept {
    char tmp[kMaxU64Digits];
    std::size_t n = 0;
    do {
        tmp[n++] = static_cast<char>('0' + v % 10);
        v /= 10;
    } while (v != 0);
    while (n > 0) *p++ = tmp[--n];
    return p;
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

}  // namespace levqor::ratelimit
