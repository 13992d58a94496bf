// SPDX-License-Identifier: Apache-2.0
// Where a server listens (host and port) and its parser, for LEVQOR_LISTEN and
// the config's listen key. A plain value; the parser is a pure function.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace levqor::controld {

// Where a server listens: a host (IPv4 literal, IPv6 literal without
// brackets, or DNS name) and a TCP port. Port 0 asks the kernel for a free
// port; the server reports the one it got.
struct ListenAddress {
    std::string host;
    std::uint16_t port = 0;

    // "host:port", with the host in brackets when it is an IPv6 literal.
    std::string to_string() const;

    friend bool operator==(const ListenAddress& a, const ListenAddress& b) {
        return a.host == b.host && a.port == b.port;
    }
};

// Parses "host:port" or "[ipv6]:port". Throws std::invalid_argument whose
// what() says what is wrong and shows a valid example; the caller adds
// where the value came from.
ListenAddress parse_listen_address(std::string_view text);

}  // namespace levqor::controld
