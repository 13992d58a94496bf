// SPDX-License-Identifier: Apache-2.0
// Base64 (RFC 4648) encoding and decoding, standard and URL-safe alphabets.
// Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace levqor {

enum class Base64Alphabet { Standard, UrlSafe };

constexpr std::size_t base64_encoded_size(std::size_t n) { return (n + 2) / 3 * 4; }

// Writes base64_encoded_size(n) characters (with '=' padding) to out and
// returns that count. out must have room; nothing is allocated.
std::size_t base64_encode(const std::uint8_t* in, std::size_t n, char* out,
                          Base64Alphabet alphabet = Base64Alphabet::Standard);

std::string base64_encode(std::string_view in, Base64Alphabet alphabet = Base64Alphabet::Standard);

// Strict decode: the alphabet's characters, optional correct padding, no
// whitespace. Returns false (and leaves out unspecified) on any other input.
bool base64_decode(std::string_view in, std::string& out, Base64Alphabet alphabet = Base64Alphabet::Standard);

// The same decode into caller memory, for the request path: writes at most
// `cap` bytes to out and sets n; false on malformed input or when the result
// would not fit. Nothing is allocated.
bool base64_decode(std::string_view in, std::uint8_t* out, std::size_t cap, std::size_t& n,
                   Base64Alphabet alphabet = Base64Alphabet::Standard) noexcept;

}  // namespace levqor
