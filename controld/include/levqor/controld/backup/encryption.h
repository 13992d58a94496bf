// SPDX-License-Identifier: Apache-2.0
// Encryption at rest for backup files (design.md "Backups",
// encryption_key_file): AES-256-GCM over files of any size, streamed through
// OpenSSL EVP in chunks so memory stays constant.
//
// Format (version 1), all integers big-endian:
//   header  "LVQBKENC" (8) | version (1) = 1 | reserved (3) = 0 |
//           chunk size (4) | nonce base (12, random per file)      = 28 bytes
//   chunks  ciphertext | tag (16), each of `chunk size` plaintext bytes except
//           the last, which has fewer (0 when the plaintext is a multiple of
//           the chunk size), so every file ends with exactly one short chunk.
// Chunk i's nonce is the base with its last 8 bytes XORed with i; its AAD is
// the header, i (8) and a final flag (1). A changed byte, reordered chunks,
// a changed header and a dropped tail (the last chunk no longer marked final,
// or missing) all fail authentication.
// Free functions and a value type; thread-safe for different files.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace levqor::controld::backup {

class EncryptionError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// A 32-byte key, wiped from memory when destroyed. Never printed.
class EncryptionKey {
public:
    static constexpr std::size_t kBytes = 32;
    explicit EncryptionKey(const std::array<unsigned char, kBytes>& bytes) : bytes_(bytes) {}
    ~EncryptionKey();
    EncryptionKey(const EncryptionKey&) = default;
    EncryptionKey& operator=(const EncryptionKey&) = default;
    const unsigned char* data() const { return bytes_.data(); }

private:
    std::array<unsigned char, kBytes> bytes_;
};

// Reads the key file: 32 raw bytes, or 64 hex digits with optional trailing
// whitespace (`openssl rand -hex 32 > key`). Refuses a file readable or
// writable by group or others (like the token files: "run: chmod 600 <file>"),
// a missing file and any other length. Messages name the file, never its content.
EncryptionKey read_key_file(const std::string& path);

inline constexpr std::size_t kDefaultChunkBytes = 1 << 20;  // 1 MiB
inline constexpr std::size_t kMaxChunkBytes = 16 << 20;     // refused above when decrypting

// `in` encrypted into `out` (created 0600, replaced atomically: a temporary
// file renamed over it after fsync). chunk_bytes in [1, kMaxChunkBytes].
// Returns the bytes written. Throws EncryptionError naming the path.
std::uint64_t encrypt_file(const std::string& in, const std::string& out, const EncryptionKey& key,
                           std::size_t chunk_bytes = kDefaultChunkBytes);

// `in` decrypted into `out` (0600). Plaintext is written to a temporary file
// that becomes `out` only once every chunk, the final one included, has been
// authenticated; on any error no `out` is left. Returns the plaintext bytes.
// Throws EncryptionError ("... chunk 3 failed authentication (wrong key or
// damaged file)", "... truncated: no final chunk").
std::uint64_t decrypt_file(const std::string& in, const std::string& out, const EncryptionKey& key);

// True when the file starts with the format's magic (a cheap check, no authentication).
bool looks_encrypted(const std::string& path);

}  // namespace levqor::controld::backup
