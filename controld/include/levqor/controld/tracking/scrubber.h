// SPDX-License-Identifier: Apache-2.0
// Scrubber: takes secrets (sensitive fields, known secret strings, bearer
// tokens, URL credentials) out of error events before they leave the process
// or reach the disk. Immutable after construction, so thread-safe.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace levqor::controld::tracking {

// Removes secrets from an error event before it leaves the process (Sentry)
// or reaches the disk (errors.jsonl):
// - the value of every field whose name suggests a secret (token,
//   authorization, password, secret, dsn, cookie, api_key, credential);
// - known secret strings (the Sentry key, database passwords), wherever
//   they occur in a string;
// - any configured bearer token, recognised by asking the token store (which
//   holds only digests), so plaintext tokens are never kept for this: every
//   stretch of a run of printable characters that starts and ends at the
//   run's ends or at quotes and delimiters (=:,;()[]{}<>) is a candidate, so
//   a token that contains quotes, or is quoted, is found too;
// - "Bearer <anything up to a space>", the value of "password=..." (libpq
//   key=value, quoted or not; URL query parameters) and the user:password@
//   part of URLs.
// Each becomes "[Filtered]" (URL credentials "***").
//
// Thread-safety: immutable after construction; scrub() may run concurrently.
class Scrubber {
public:
    using TokenCheck = std::function<bool(std::string_view word)>;

    Scrubber() = default;
    Scrubber(std::vector<std::string> secrets, TokenCheck is_token);

    void scrub(nlohmann::json& value) const;
    std::string scrub(std::string_view text) const;

private:
    static bool sensitive_key(std::string_view key);

    std::vector<std::string> secrets_;
    TokenCheck is_token_;
};

}  // namespace levqor::controld::tracking
