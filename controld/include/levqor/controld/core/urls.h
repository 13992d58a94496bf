// SPDX-License-Identifier: Apache-2.0
// Parsers for the URLs controld is configured with, each throwing a message
// that shows a valid example, and the helpers that find or redact the
// credentials in them (for the log and the error scrubber). Pure functions,
// thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "levqor/redis_url.h"

namespace levqor::controld {

// The URLs controld is configured with. Each parser throws
// std::invalid_argument whose what() says what is wrong and shows a valid
// example; the caller adds where the value came from.

// http(s)://host[:port][/path][?query]: nginx status endpoints, http job
// prefixes. No credentials, no fragment.
struct HttpUrl {
    std::string scheme;      // "http" or "https"
    std::string host;        // as written; an IPv6 literal keeps its brackets
    std::uint16_t port = 0;  // explicit, or 80/443 from the scheme
    bool explicit_port = false;
    std::string path;  // "/..." (at least "/"), query included

    // host[:port] as written in the URL: the default instance name.
    std::string authority() const;
};
HttpUrl parse_http_url(std::string_view url);

// A Sentry DSN: <scheme>://<public key>[:<secret>]@<host>[:port][/path]/<project id>.
// Events go to <scheme>://<host>[:port][/path]/api/<project id>/envelope/.
struct SentryDsn {
    std::string scheme;       // https, or http (self-hosted relays, tests)
    std::string public_key;   // sent in X-Sentry-Auth; a credential, never logged
    std::string host_port;    // host[:port] as written
    std::string path_prefix;  // "" or "/sub/path"
    std::string project_id;   // digits

    std::string envelope_url() const;
    // The DSN with the key replaced by "***", for messages.
    std::string redacted() const;
};
SentryDsn parse_sentry_dsn(std::string_view dsn);

// REDIS_URL / redis_url, in the Redis URL grammar nginx reads too
// (levqor/redis_url.h): the one server controld connects to. Its unix:,
// redis-sentinel:// and redis-cluster:// forms parse but are refused with a
// message saying controld does not support them yet. The result has kind
// server and one host; its password is a credential, never logged.
RedisUrl redis_server_url(std::string_view url);

// postgres:// or postgresql:// URL, or a libpq key=value string; only the
// shape is checked (libpq parses it when the check connects).
void check_database_url(std::string_view url);

// The password(s) a DATABASE_URL carries, for the error scrubber: from a
// URL, the user:password@ part and a ?password= parameter (as written and
// percent-decoded); from a libpq key=value string, the value of `password`
// (unquoted, or in single quotes with \' and \\ escapes; as written and
// unescaped). Empty when there is none. Never throws.
std::vector<std::string> database_url_passwords(std::string_view url);

// A REDIS_URL, DATABASE_URL (URL or libpq key=value string) or backup target
// URL as it may be shown (levqor-controld --check-config): the userinfo of
// "<scheme>://<userinfo>@" becomes "***" (levqor::mask_url) and every password
// database_url_passwords finds becomes "***". Never throws.
std::string masked_connection_url(std::string_view url);

}  // namespace levqor::controld
