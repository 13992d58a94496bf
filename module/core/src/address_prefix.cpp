// SPDX-License-Identifier: Apache-2.0
#include "levqor/address_prefix.h"

#include <arpa/inet.h>

#include <cstring>

namespace levqor::limit {
namespace {

constexpr unsigned char kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
constexpr std::size_t kMaxAddressText = 45;  // INET6_ADDRSTRLEN without the NUL

}  // namespace

std::size_t address_bucket(const unsigned char* addr, std::size_t len, unsigned prefix6, unsigned char* out) noexcept {
    if (len == 4) {
        std::memcpy(out, addr, 4);
        return 4;
    }
    if (len != 16) return 0;
    if (std::memcmp(addr, kMappedPrefix, sizeof kMappedPrefix) == 0) {
        std::memcpy(out, addr + sizeof kMappedPrefix, 4);
        return 4;
    }
    if (prefix6 > kMaxIpPrefix6) prefix6 = kMaxIpPrefix6;
    const std::size_t whole = prefix6 / 8;
    std::memcpy(out, addr, whole);
    if (whole < 16) {
        const unsigned bits = prefix6 % 8;
        out[whole] = static_cast<unsigned char>(addr[whole] & (0xff00u >> bits));
        std::memset(out + whole + 1, 0, 16 - whole - 1);
    }
    return 16;
}

std::size_t address_bucket_text(std::string_view text, unsigned prefix6, unsigned char* out) noexcept {
    // The shortest address is "::" (2), the longest an IPv4-mapped IPv6 (45).
    if (text.size() < 2 || text.size() > kMaxAddressText) return 0;
    char z[kMaxAddressText + 1];
    std::memcpy(z, text.data(), text.size());
    z[text.size()] = '\0';
    unsigned char bin[16];
    if (text.find(':') == std::string_view::npos) {
        return inet_pton(AF_INET, z, bin) == 1 ? address_bucket(bin, 4, prefix6, out) : 0;
    }
    return inet_pton(AF_INET6, z, bin) == 1 ? address_bucket(bin, 16, prefix6, out) : 0;
}

}  // namespace levqor::limit
