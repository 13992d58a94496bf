// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/auth/token_store.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>

#include "levqor/controld/core/files.h"
#include "levqor/controld/core/text.h"

namespace levqor::controld::auth {
namespace {

constexpr std::size_t kMinTokenLength = 16;
constexpr std::size_t kMaxTokenLength = 4096;

// A token others can read is no secret, and one others can write is not
// the operator's: refused, not just warned about.
void check_private(Role role, const std::string& file) {
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0) {
        throw TokenFileError(std::string(to_string(role)) + " token file " + file +
                             ": cannot check its permissions: " + std::strerror(errno));
    }
    if (const auto problem = shared_mode_problem(st, file); !problem.empty()) {
        throw TokenFileError(std::string(to_string(role)) + " token file " + file + problem);
    }
}

// Reads one role's file; appends its digests. Returns the status line.
RoleStatus load_role(Role role, const std::optional<std::string>& file, std::vector<TokenStore::Digest>& out) {
    RoleStatus status{role, file.value_or(""), 0, ""};
    if (!file) {
        status.note = "not configured; the " + std::string(to_string(role)) + " role is disabled";
        return status;
    }
    std::optional<std::string> text;
    try {
        text = read_file_if_exists(*file);
    } catch (const FileError& e) {
        throw TokenFileError(std::string(to_string(role)) + " token file: " + e.what());
    }
    if (!text) {
        status.note = "file does not exist; the " + std::string(to_string(role)) + " role is disabled";
        return status;
    }
    check_private(role, *file);
    std::vector<std::string> tokens;
    try {
        tokens = TokenStore::parse_token_file(*text);
    } catch (const std::invalid_argument& e) {
        throw TokenFileError(std::string(to_string(role)) + " token file " + *file + ": " + e.what());
    }
    for (const auto& token : tokens) out.push_back(TokenStore::digest(token));
    status.tokens = tokens.size();
    status.note = "loaded";
    return status;
}

}  // namespace

std::string_view to_string(Role role) { return role == Role::admin ? "admin" : "producer"; }

std::vector<std::string> TokenStore::parse_token_file(std::string_view text) {
    std::vector<std::string> tokens;
    for_each_content_line(text, [&](std::size_t line_no, std::string_view line) {
        const auto where = "line " + std::to_string(line_no) + ": ";
        if (line.size() < kMinTokenLength) {
            throw std::invalid_argument(where + "the token is shorter than " + std::to_string(kMinTokenLength) +
                                        " characters (generate one with: openssl rand -hex 32)");
        }
        if (line.size() > kMaxTokenLength) {
            throw std::invalid_argument(where + "the token is longer than " + std::to_string(kMaxTokenLength) +
                                        " characters");
        }
        for (unsigned char c : line) {
            if (c <= 0x20 || c >= 0x7f) {
                throw std::invalid_argument(where +
                                            "a token may only contain printable ASCII "
                                            "characters without spaces");
            }
        }
        tokens.emplace_back(line);
    });
    if (tokens.empty()) {
        throw std::invalid_argument("no token in the file (one token per line; '#' starts a comment)");
    }
    return tokens;
}

TokenStore::Digest TokenStore::digest(std::string_view token) {
    Digest out{};
    ::SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), out.data());
    return out;
}

std::vector<RoleStatus> TokenStore::load(const TokenFiles& files) {
    std::vector<Digest> admin;
    std::vector<Digest> producer;
    std::vector<RoleStatus> statuses;
    statuses.push_back(load_role(Role::admin, files.admin, admin));
    statuses.push_back(load_role(Role::producer, files.producer, producer));
    std::unique_lock<std::shared_mutex> lock(mutex_);
    admin_ = std::move(admin);
    producer_ = std::move(producer);
    return statuses;
}

std::optional<Role> TokenStore::authenticate(std::string_view token) const {
    const Digest presented = digest(token);
    std::shared_lock<std::shared_mutex> lock(mutex_);
    // Every digest is compared; the results are combined without branching on
    // them, so the time taken does not depend on which token (if any) matched.
    int admin_match = 0;
    for (const auto& stored : admin_) {
        admin_match |= CRYPTO_memcmp(stored.data(), presented.data(), stored.size()) == 0;
    }
    int producer_match = 0;
    for (const auto& stored : producer_) {
        producer_match |= CRYPTO_memcmp(stored.data(), presented.data(), stored.size()) == 0;
    }
    if (admin_match) return Role::admin;
    if (producer_match) return Role::producer;
    return std::nullopt;
}

bool TokenStore::enabled(Role role) const {
    std::shared_lock<std::shared_mutex> lock(mutex_);
    return role == Role::admin ? !admin_.empty() : !producer_.empty();
}

}  // namespace levqor::controld::auth
