// SPDX-License-Identifier: Apache-2.0
// Where levqorctl finds levqor-controld (--url, LEVQOR_URL): a base URL that
// may carry a path prefix (controld behind a reverse proxy), and its parser.
// A plain value; the parser is a pure function.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace levqor::controld::ctl {

// Where levqorctl finds levqor-controld: scheme://host[:port][/prefix].
// A prefix lets controld sit behind a reverse proxy under a sub-path
// (https://ops.example.com/controld); API paths are appended to it.
struct BaseUrl {
    std::string scheme;       // "http" or "https"
    std::string host;         // an IPv6 literal without its brackets
    std::uint16_t port = 0;   // explicit, or 80/443 from the scheme
    std::string path_prefix;  // "" or "/a/b", never ending in '/'

    // "scheme://host:port" with brackets around an IPv6 host.
    std::string origin() const;
    // origin() + path_prefix + path, for messages.
    std::string url_for(std::string_view path) const;
};

// Throws std::invalid_argument saying what is wrong with `url`.
BaseUrl parse_base_url(std::string_view url);

}  // namespace levqor::controld::ctl
