// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/ctl/base_url.h"

#include <algorithm>
#include <cctype>
#include <stdexcept>

#include "levqor/controld/core/listen_address.h"

namespace levqor::controld::ctl {
namespace {

[[noreturn]] void fail(std::string_view url, const std::string& why) {
    throw std::invalid_argument("invalid URL \"" + std::string(url) + "\": " + why +
                                " (expected http://host:port, e.g. http://127.0.0.1:8089)");
}

}  // namespace

std::string BaseUrl::origin() const { return scheme + "://" + ListenAddress{host, port}.to_string(); }

std::string BaseUrl::url_for(std::string_view path) const { return origin() + path_prefix + std::string(path); }

BaseUrl parse_base_url(std::string_view url) {
    BaseUrl out;
    const auto sep = url.find("://");
    if (sep == std::string_view::npos) fail(url, "missing scheme");
    out.scheme = std::string(url.substr(0, sep));
    std::transform(out.scheme.begin(), out.scheme.end(), out.scheme.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (out.scheme != "http" && out.scheme != "https") {
        fail(url, "scheme must be http or https");
    }

    auto rest = url.substr(sep + 3);
    const auto slash = rest.find('/');
    auto authority = rest.substr(0, slash);
    if (slash != std::string_view::npos) {
        auto path = rest.substr(slash);
        if (path.find_first_of("?#") != std::string_view::npos) {
            fail(url, "query strings and fragments are not allowed");
        }
        while (!path.empty() && path.back() == '/') path.remove_suffix(1);
        out.path_prefix = std::string(path);
    }
    if (authority.find('@') != std::string_view::npos) {
        fail(url, "credentials in the URL are not supported");
    }
    if (authority.empty()) fail(url, "missing host");

    // The host:port grammar is the listen address's; only the default port
    // differs.
    const bool has_port = authority.back() != ']' && authority.find(':') != std::string_view::npos &&
                          (authority.front() == '[' || authority.find(':') == authority.rfind(':'));
    const std::string with_port =
        has_port ? std::string(authority) : std::string(authority) + (out.scheme == "https" ? ":443" : ":80");
    try {
        auto address = parse_listen_address(with_port);
        out.host = std::move(address.host);
        out.port = address.port;
    } catch (const std::invalid_argument& e) {
        throw std::invalid_argument("invalid URL \"" + std::string(url) + "\": " + e.what());
    }
    if (out.port == 0) fail(url, "port 0 is not a port a server listens on");
    return out;
}

}  // namespace levqor::controld::ctl
