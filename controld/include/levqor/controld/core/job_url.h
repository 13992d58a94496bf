// SPDX-License-Identifier: Apache-2.0
// The normalised form of the URLs http jobs call and of the http_job_allow
// prefixes, and the check that a URL lies under an allowed prefix: the one
// place that decides which URLs controld can be made to call. Pure functions,
// thread-safe; fuzzed.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace levqor::controld {

// The URLs http jobs may call, and the allow-list prefixes they are checked
// against (http_job_allow), in one normalised form, parsed with libcurl's
// URL API (the parser that later sends the request):
//
//   scheme://host:port/path?query
//
// scheme and host in lower case (an IPv4 address in dotted decimal, an IPv6
// one in brackets), the port always written. Refused, because a server
// behind the allowed prefix may read them differently from a plain prefix
// comparison: whitespace, control and non-ASCII characters, backslashes,
// user:password@ (and any userinfo), fragments, IPv6 zone ids, percent-encoded
// host names (libcurl would not put "1%2e4" in dotted decimal), port 0, and in
// the path ';' (Tomcat's "/api/..;/admin"), encoded slashes and backslashes
// (%2f, %5c) and encoded dots (%2e), in any case, and dot segments ("." and
// ".." as whole segments).
//
// Pure functions: no I/O, thread-safe. Fuzzed (normalize_job_url).
struct JobUrl {
    std::string scheme;  // "http" or "https"
    std::string host;    // lower case; "[::1]" for IPv6
    std::uint16_t port = 0;
    std::string path;   // "/..." as written (percent-encoding kept)
    std::string query;  // without '?'; "" when none

    std::string to_string() const;
};

// Throws std::invalid_argument whose what() says what is refused and why.
JobUrl normalize_job_url(std::string_view url);

// An http_job_allow prefix: a JobUrl without a query. Throws
// std::invalid_argument.
JobUrl normalize_job_url_prefix(std::string_view prefix);

// Same scheme, host and port, and the prefix's path is a prefix of the
// URL's on a segment boundary: "https://h/api" allows https://h/api and
// https://h/api/x, not https://h/api-admin; "https://h/api/" allows
// https://h/api/ and below, not https://h/api itself; "https://h" (path "/")
// the whole origin. The query is not compared.
bool job_url_allowed(const JobUrl& url, const JobUrl& prefix);

// normalize_job_url(url) allowed by one of the prefixes (each normalised
// with normalize_job_url_prefix; an invalid one allows nothing).
bool url_allowed(std::string_view url, const std::vector<std::string>& prefixes);

}  // namespace levqor::controld
