// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/core/listen_address.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace levqor::controld {
namespace {

constexpr std::string_view kExample = "expected host:port, e.g. 127.0.0.1:8089 or [::1]:8089";

[[noreturn]] void fail(const std::string& why) {
    throw std::invalid_argument(why + " (" + std::string(kExample) + ")");
}

bool is_ipv4_literal(const std::string& host) {
    in_addr addr{};
    return ::inet_pton(AF_INET, host.c_str(), &addr) == 1;
}

bool is_ipv6_literal(const std::string& host) {
    in6_addr addr{};
    return ::inet_pton(AF_INET6, host.c_str(), &addr) == 1;
}

bool looks_numeric(std::string_view host) {
    return std::all_of(host.begin(), host.end(), [](unsigned char c) { return std::isdigit(c) || c == '.'; });
}

// RFC 1123 host name: dot-separated labels of letters, digits and '-',
// each 1..63 characters, not starting or ending with '-'.
bool is_host_name(std::string_view host) {
    if (host.empty() || host.size() > 253) return false;
    std::size_t start = 0;
    while (start <= host.size()) {
        auto dot = host.find('.', start);
        if (dot == std::string_view::npos) dot = host.size();
        auto label = host.substr(start, dot - start);
        if (label.empty() || label.size() > 63) return false;
        if (label.front() == '-' || label.back() == '-') return false;
        for (unsigned char c : label) {
            if (!std::isalnum(c) && c != '-') return false;
        }
        start = dot + 1;
    }
    return true;
}

std::uint16_t parse_port(std::string_view text) {
    if (text.empty()) fail("missing port after ':'");
    if (text.size() > 5 || !std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c); })) {
        fail("port \"" + std::string(text) + "\" is not a number from 0 to 65535");
    }
    auto value = std::stoul(std::string(text));
    if (value > 65535) fail("port " + std::string(text) + " is greater than 65535");
    return static_cast<std::uint16_t>(value);
}

}  // namespace

std::string ListenAddress::to_string() const {
    if (host.find(':') != std::string::npos) {
        return "[" + host + "]:" + std::to_string(port);
    }
    return host + ":" + std::to_string(port);
}

ListenAddress parse_listen_address(std::string_view text) {
    if (text.empty()) fail("empty address");

    std::string host;
    std::string_view port_text;
    if (text.front() == '[') {
        auto close = text.find(']');
        if (close == std::string_view::npos) fail("missing ']' after IPv6 address");
        host = std::string(text.substr(1, close - 1));
        auto rest = text.substr(close + 1);
        if (rest.empty() || rest.front() != ':') fail("missing ':port' after ']'");
        port_text = rest.substr(1);
        if (!is_ipv6_literal(host)) fail("\"" + host + "\" is not an IPv6 address");
    } else {
        auto colon = text.rfind(':');
        if (colon == std::string_view::npos) fail("missing port");
        host = std::string(text.substr(0, colon));
        port_text = text.substr(colon + 1);
        if (host.empty()) {
            fail("missing host (use 0.0.0.0 to listen on every IPv4 interface)");
        }
        if (host.find(':') != std::string::npos) {
            fail("an IPv6 address must be written in brackets");
        }
        if (looks_numeric(host) ? !is_ipv4_literal(host) : !is_host_name(host)) {
            fail("\"" + host + "\" is neither an IPv4 address nor a host name");
        }
    }
    return ListenAddress{std::move(host), parse_port(port_text)};
}

}  // namespace levqor::controld
