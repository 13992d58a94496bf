// SPDX-License-Identifier: Apache-2.0
// Keyed digests of the identifiers the abuse rules count: HMAC-SHA256 under a
// secret pepper (abuse.pepper_file), so a stored digest of a low-entropy value
// (an email, a device string) cannot be reversed by hashing guesses without
// the pepper. Each role is domain-separated (the HMAC input is "<role>\0" +
// the value), so one string as an account and as a device gives two digests.
// Immutable after construction: thread-safe.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>

#include <openssl/types.h>

namespace levqor::controld::abuse {

inline constexpr std::size_t kMinPepperBytes = 32;
inline constexpr std::size_t kMaxPepperBytes = 4096;

// The pepper file cannot be used. what() names the file and the reason,
// never the content.
class PepperError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

enum class DigestRole { account, device, email };
std::string_view to_string(DigestRole role);

class Digester {
public:
    // The pepper itself (at least kMinPepperBytes); throws PepperError.
    explicit Digester(std::string pepper);
    ~Digester();
    Digester(const Digester&) = delete;
    Digester& operator=(const Digester&) = delete;
    Digester(Digester&& other) noexcept;
    Digester& operator=(Digester&&) = delete;

    // Reads the pepper from `path`: the file must exist, be a regular file
    // not readable or writable by group or others (chmod 600), hold
    // kMinPepperBytes..kMaxPepperBytes bytes once trailing whitespace
    // (a final newline) is dropped. Throws PepperError.
    static Digester from_file(const std::string& path);

    // 64 lowercase hex characters: HMAC-SHA256(pepper, "<role>\0" + value).
    std::string digest(DigestRole role, std::string_view value) const;

private:
    std::string pepper_;
    EVP_MAC_CTX* keyed_ = nullptr;  // initialized with the pepper; copied per digest
};

}  // namespace levqor::controld::abuse
