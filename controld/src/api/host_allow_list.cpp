// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/api/host_allow_list.h"

#include <algorithm>
#include <cctype>

#include "levqor/controld/core/text.h"

namespace levqor::controld::api {
namespace {

bool name_chars(std::string_view text) {
    return !text.empty() && std::all_of(text.begin(), text.end(), [](char ch) {
        const auto c = static_cast<unsigned char>(ch);
        return std::isalnum(c) || c == '.' || c == '-' || c == '_';
    });
}

bool ipv6_chars(std::string_view text) {
    return !text.empty() && std::all_of(text.begin(), text.end(), [](char ch) {
        const auto c = static_cast<unsigned char>(ch);
        return std::isxdigit(c) || c == ':' || c == '.';
    });
}

bool port_chars(std::string_view text) {
    return !text.empty() && text.size() <= 5 &&
           std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// "::ffff:127.0.0.1" (an IPv4 client on a dual-stack socket) is 127.0.0.1.
std::string unmap_ipv4(std::string address) {
    constexpr std::string_view kMapped = "::ffff:";
    if (address.rfind(kMapped, 0) == 0 && address.find('.') != std::string::npos) {
        return address.substr(kMapped.size());
    }
    return address;
}

}  // namespace

std::optional<std::string> normalize_host(std::string_view text) {
    text = trim(text);
    std::string host;
    if (!text.empty() && text.front() == '[') {
        const auto close = text.find(']');
        if (close == std::string_view::npos) return std::nullopt;
        const auto rest = text.substr(close + 1);
        if (!rest.empty() && (rest.front() != ':' || !port_chars(rest.substr(1)))) return std::nullopt;
        host = std::string(text.substr(1, close - 1));
        if (!ipv6_chars(host)) return std::nullopt;
    } else if (std::count(text.begin(), text.end(), ':') > 1) {
        host = std::string(text);  // a bare IPv6 address (allow-list entries)
        if (!ipv6_chars(host)) return std::nullopt;
    } else {
        const auto colon = text.find(':');
        if (colon != std::string_view::npos && !port_chars(text.substr(colon + 1))) return std::nullopt;
        host = std::string(text.substr(0, colon));
        if (!host.empty() && host.back() == '.') host.pop_back();
        if (!name_chars(host)) return std::nullopt;
    }
    if (host.size() > 253) return std::nullopt;
    return unmap_ipv4(to_lower(host));
}

HostAllowList::HostAllowList(const std::vector<std::string>& names) {
    for (const auto& name : names) {
        if (auto host = normalize_host(name)) names_.insert(*host);
    }
}

bool HostAllowList::allows(std::string_view host_header, std::string_view local_addr) const {
    const auto host = normalize_host(host_header);
    if (!host) return false;
    return names_.count(*host) != 0 || *host == unmap_ipv4(to_lower(local_addr));
}

}  // namespace levqor::controld::api
