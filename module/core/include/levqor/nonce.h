// SPDX-License-Identifier: Apache-2.0
// Per-request CSP nonces: 128 bits from a CSPRNG, base64 encoded (24 chars).
//
// Randomness is drawn from the generator in blocks and handed out 16 bytes at
// a time, so the per-request cost is a copy and an encode instead of a DRBG
// call. NOT thread-safe: one instance per
// nginx worker process. After fork() call reset() so that no two processes
// hand out bytes from the same block.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace levqor {

class NonceSource {
public:
    static constexpr std::size_t kRandomBytes = 16;
    static constexpr std::size_t kEncodedSize = 24;  // base64 with padding
    static constexpr std::size_t kBlockSize = 4096;

    // Fills buf with n cryptographically secure random bytes; false on failure.
    using Fill = bool (*)(std::uint8_t* buf, std::size_t n);

    explicit NonceSource(Fill fill) noexcept : fill_(fill) {}
    ~NonceSource();
    NonceSource(const NonceSource&) = delete;
    NonceSource& operator=(const NonceSource&) = delete;

    // Writes kEncodedSize characters to out. Returns false when the
    // generator fails (the caller must not use out then).
    bool next(char* out) noexcept;

    // Discards (and wipes) every buffered byte.
    void reset() noexcept;

private:
    Fill fill_;
    std::size_t pos_ = kBlockSize;
    std::array<std::uint8_t, kBlockSize> block_{};
};

// OpenSSL's RAND_bytes (fork-safe DRBG seeded from the OS).
bool openssl_random(std::uint8_t* buf, std::size_t n) noexcept;

}  // namespace levqor
