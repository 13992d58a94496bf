// SPDX-License-Identifier: Apache-2.0
// The admin and producer bearer tokens: read from token files, held only as
// SHA-256 digests and compared in constant time. Thread-safe: authenticate()
// may run while a reload (load()) swaps the whole set.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <shared_mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace levqor::controld::auth {

// Who a bearer token belongs to. admin may do everything; producer may only
// enqueue jobs (design.md, "controld HTTP API").
enum class Role { producer, admin };
std::string_view to_string(Role role);

// Where the tokens come from: one file per role; unset disables the role.
struct TokenFiles {
    std::optional<std::string> admin;
    std::optional<std::string> producer;
};

// A token file that exists but cannot be used (unreadable, no token, a token
// that is too short or has spaces). what() names the file and the problem,
// never the file's contents.
class TokenFileError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// What load() found for one role, for the log.
struct RoleStatus {
    Role role;
    std::string file;        // "" when not configured
    std::size_t tokens = 0;  // 0: the role is disabled
    std::string note;        // "not configured", "file does not exist", "loaded"
};

// The bearer tokens of both roles, held only as SHA-256 digests.
//
// A token file holds one token per line (blank lines and '#' comments are
// ignored), so a rotation can keep the old token valid next to the new one
// until every client has switched. Tokens are 16 to 4096 printable ASCII
// characters without spaces. A configured file that does not exist disables
// its role (logged); any other problem is a TokenFileError, among them a
// file readable or writable by group or others (chmod 600 it).
//
// authenticate() hashes the presented token and compares it with every
// stored digest using CRYPTO_memcmp over equal-length digests, without
// stopping at a match: neither the tokens' lengths nor which one matched
// show in the timing.
//
// Thread-safety: load() and authenticate()/enabled() may run concurrently;
// load() swaps the whole set under an exclusive lock, and a failed load()
// leaves the previous set in place.
class TokenStore {
public:
    using Digest = std::array<std::uint8_t, 32>;

    // Reads both files; all-or-nothing. Throws TokenFileError.
    std::vector<RoleStatus> load(const TokenFiles& files);

    // The role of a token, or nullopt if it matches none.
    std::optional<Role> authenticate(std::string_view token) const;
    bool enabled(Role role) const;

    static Digest digest(std::string_view token);
    // Parses a token file's contents; throws std::invalid_argument.
    static std::vector<std::string> parse_token_file(std::string_view text);

private:
    mutable std::shared_mutex mutex_;
    std::vector<Digest> admin_;
    std::vector<Digest> producer_;
};

}  // namespace levqor::controld::auth
