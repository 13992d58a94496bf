// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/api/settings.h"

#include <algorithm>
#include <cctype>

namespace levqor::controld::api {
namespace {

using nlohmann::json;

// A host name or address for http.allowed_hosts: no port, no scheme, no
// wildcard.
std::string host_value(const std::string& text) {
    const bool ipv6 = text.find(':') != std::string::npos;
    const auto bare =
        ipv6 && text.size() > 2 && text.front() == '[' && text.back() == ']' ? text.substr(1, text.size() - 2) : text;
    const char* allowed = ipv6 ? "0123456789abcdefABCDEF:." : nullptr;
    const bool ok =
        !bare.empty() && bare.size() <= 253 &&
        (allowed ? bare.find_first_not_of(allowed) == std::string::npos
                 : std::all_of(bare.begin(), bare.end(), [](char c) {
                       return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_';
                   }));
    if (!ok) invalid("expected a host name or an IP address, without port or wildcard");
    return text;
}

const Keys<HttpSettings>& section_keys() {
    using S = HttpSettings;
    static const Keys<S> keys = {
        integer_key("max_body_bytes", 1024, 64 * 1024 * 1024, &S::max_body_bytes),
        integer_key("max_request_line_bytes", 256, 65536, &S::max_request_line_bytes),
        integer_key("max_header_bytes", 1024, 262144, &S::max_header_bytes),
        integer_key("max_headers", 8, 1000, &S::max_headers),
        integer_key("header_timeout_ms", 100, 600000, &S::header_timeout),
        integer_key("body_timeout_ms", 100, 3600000, &S::body_timeout),
        integer_key("read_timeout_ms", 100, 600000, &S::read_timeout),
        integer_key("write_timeout_ms", 100, 600000, &S::write_timeout),
        integer_key("max_connections", 16, 65536, &S::max_connections),
        integer_key("max_unauthenticated_connections", 1, 65536, &S::max_unauthenticated_connections),
        integer_key("worker_threads", 1, 64, &S::worker_threads),
        integer_key("admin_threads", 1, 16, &S::admin_threads),
        {"allowed_hosts", [](const SettingsReader& r, const std::string& key, const json& value,
                             S& out) { out.allowed_hosts = r.string_list(key, value, host_value); }},
    };
    return keys;
}

void check_http(const SettingsReader& reader, const std::string& p, HttpSettings& out) {
    if (out.max_unauthenticated_connections > out.max_connections) {
        reader.bad(p + "max_unauthenticated_connections", json(out.max_unauthenticated_connections),
                   "must not exceed http.max_connections (" + std::to_string(out.max_connections) + ")");
    }
}

const Keys<HttpSettings>& top_keys() {
    static const Keys<HttpSettings> keys = {section_key("http", section_keys(), check_http)};
    return keys;
}

}  // namespace

ConfigPart config_part(HttpSettings& out) { return controld::config_part(top_keys(), out); }

nlohmann::ordered_json settings_json(const HttpSettings& s) {
    return {{"http",
             {{"max_body_bytes", s.max_body_bytes},
              {"max_request_line_bytes", s.max_request_line_bytes},
              {"max_header_bytes", s.max_header_bytes},
              {"max_headers", s.max_headers},
              {"header_timeout_ms", s.header_timeout.count()},
              {"body_timeout_ms", s.body_timeout.count()},
              {"read_timeout_ms", s.read_timeout.count()},
              {"write_timeout_ms", s.write_timeout.count()},
              {"max_connections", s.max_connections},
              {"max_unauthenticated_connections", s.max_unauthenticated_connections},
              {"worker_threads", s.worker_threads},
              {"admin_threads", s.admin_threads},
              {"allowed_hosts", s.allowed_hosts}}}};
}

}  // namespace levqor::controld::api
