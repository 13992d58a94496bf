// SPDX-License-Identifier: Apache-2.0
#include "levqor/base64.h"

#include <array>

namespace levqor {
namespace {

constexpr char kStandard[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char kUrlSafe[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

constexpr std::array<std::int8_t, 256> decode_table(const char* alphabet) {
    std::array<std::int8_t, 256> t{};
    for (auto& v : t) v = -1;
    for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(alphabet[i])] = static_cast<std::int8_t>(i);
    return t;
}

constexpr auto kDecodeStandard = decode_table(kStandard);
constexpr auto kDecodeUrlSafe = decode_table(kUrlSafe);

}  // namespace

std::size_t base64_encode(const std::uint8_t* in, std::size_t n, char* out, Base64Alphabet alphabet) {
    const char* a = alphabet == Base64Alphabet::Standard ? kStandard : kUrlSafe;
    char* p = out;
    std::size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        const std::uint32_t v = (std::uint32_t{in[i]} << 16) | (std::uint32_t{in[i + 1]} << 8) | in[i + 2];
        *p++ = a[(v >> 18) & 63];
        *p++ = a[(v >> 12) & 63];
        *p++ = a[(v >> 6) & 63];
        *p++ = a[v & 63];
    }
    if (i < n) {
        std::uint32_t v = std::uint32_t{in[i]} << 16;
        if (i + 1 < n) v |= std::uint32_t{in[i + 1]} << 8;
        *p++ = a[(v >> 18) & 63];
        *p++ = a[(v >> 12) & 63];
        *p++ = i + 1 < n ? a[(v >> 6) & 63] : '=';
        *p++ = '=';
    }
    return static_cast<std::size_t>(p - out);
}

std::string base64_encode(std::string_view in, Base64Alphabet alphabet) {
    std::string out(base64_encoded_size(in.size()), '\0');
    base64_encode(reinterpret_cast<const std::uint8_t*>(in.data()), in.size(), out.data(), alphabet);
    return out;
}

bool base64_decode(std::string_view in, std::uint8_t* out, std::size_t cap, std::size_t& n,
                   Base64Alphabet alphabet) noexcept {
    const auto& t = alphabet == Base64Alphabet::Standard ? kDecodeStandard : kDecodeUrlSafe;
    std::size_t len = in.size();
    std::size_t pad = 0;
    while (len > 0 && in[len - 1] == '=' && pad < 2) {
        --len;
        ++pad;
    }
    if (pad > 0 && in.size() % 4 != 0) return false;
    if (len % 4 == 1) return false;
    if (len / 4 * 3 + (len % 4 == 0 ? 0 : len % 4 - 1) > cap) return false;
    n = 0;
    std::uint32_t acc = 0;
    int bits = 0;
    for (std::size_t i = 0; i < len; ++i) {
        const std::int8_t v = t[static_cast<unsigned char>(in[i])];
        if (v < 0) return false;
        acc = (acc << 6) | static_cast<std::uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = static_cast<std::uint8_t>((acc >> bits) & 0xff);
        }
    }
    // Non-canonical encodings (stray low bits) are rejected.
    if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) return false;
    return true;
}

bool base64_decode(std::string_view in, std::string& out, Base64Alphabet alphabet) {
    out.assign(in.size() / 4 * 3 + 2, '\0');
    std::size_t n = 0;
    if (!base64_decode(in, reinterpret_cast<std::uint8_t*>(out.data()), out.size(), n, alphabet)) return false;
    out.resize(n);
    return true;
}

}  // namespace levqor
