// SPDX-License-Identifier: Apache-2.0
// The Host allow-list that keeps DNS-rebinding pages away from controld: which
// Host header values a request may carry, and how host names are normalised
// before they are compared. Immutable after construction, so thread-safe.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace levqor::controld::api {

// The Host names controld answers to, against DNS rebinding: a web page
// from attacker.example whose name the attacker re-points at 127.0.0.1 can
// make the browser send requests to controld, but they carry
// "Host: attacker.example"; refusing names controld was not told about
// keeps such pages from reading /healthz or /metrics.
//
// Allowed: the names given (compared case-insensitively, without port,
// brackets or a trailing dot) and the address the connection arrived on (a
// client that connects to 10.0.0.5 may say "Host: 10.0.0.5"). A request
// without Host (HTTP/1.0; browsers always send one) is allowed.
//
// Thread-safety: immutable after construction.
class HostAllowList {
public:
    explicit HostAllowList(const std::vector<std::string>& names);

    bool allows(std::string_view host_header, std::string_view local_addr) const;

private:
    std::set<std::string> names_;
};

// The host part of a Host header or of an allow-list entry, normalised:
// lower case, IPv6 without brackets, no port, no trailing dot. nullopt when
// it is not a host name or address ("a b", "[::1", "x:y:z" without brackets).
std::optional<std::string> normalize_host(std::string_view text);

}  // namespace levqor::controld::api
