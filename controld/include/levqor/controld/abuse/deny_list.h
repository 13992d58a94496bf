// SPDX-License-Identifier: Apache-2.0
// Deny-lists: PCRE2 patterns from the config (abuse.email_deny_patterns,
// abuse.device_deny_patterns), compiled once with JIT when the settings are
// read, matched against the normalized email or the raw device string before
// either is hashed. Matching is bounded: the subject's length, PCRE2's match
// and depth limits. After construction a DenyList is only read: match() is
// thread-safe.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace levqor::controld::abuse {

inline constexpr std::size_t kMaxDenyPatterns = 256;
inline constexpr std::size_t kMaxDenyPatternLength = 1024;
inline constexpr std::size_t kMaxDenySubject = 1024;
// pcre2_set_match_limit / pcre2_set_depth_limit for every match.
inline constexpr unsigned kDenyMatchLimit = 100000;
inline constexpr unsigned kDenyDepthLimit = 1000;

// A match that PCRE2 stopped (a limit reached): what() names the config key
// and the pattern's index, never the subject. The caller decides the policy.
class DenyMatchError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

class DenyList {
public:
    // An empty list (matches nothing).
    DenyList();
    // config_key names the list in messages ("abuse.email_deny_patterns").
    // Throws ConfigError (core/settings_reader.h): `abuse.email_deny_patterns[2]
    // = "(" is invalid: missing closing parenthesis at offset 1`; too many or
    // too long patterns likewise. Patterns are compiled UTF-8 with
    // PCRE2_MATCH_INVALID_UTF (a device string need not be valid UTF-8);
    // case matters unless the pattern says (?i).
    DenyList(std::string config_key, const std::vector<std::string>& patterns);
    ~DenyList();
    DenyList(DenyList&&) noexcept;
    DenyList& operator=(DenyList&&) noexcept;

    // The index of the first pattern that matches `subject` (anywhere in it,
    // unless anchored by the pattern). Throws std::invalid_argument for a
    // subject longer than kMaxDenySubject, DenyMatchError when a limit stops
    // a match.
    std::optional<std::size_t> match(std::string_view subject) const;

    std::size_t size() const;
    bool jit() const;  // every pattern JIT-compiled

private:
    struct Compiled;
    std::string key_;
    std::vector<std::unique_ptr<Compiled>> patterns_;
};

}  // namespace levqor::controld::abuse
