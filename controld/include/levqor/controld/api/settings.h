// SPDX-License-Identifier: Apache-2.0
// The HTTP API's settings, declared and read here: the "http" section of
// the config file (request limits, timeouts, connection caps, threads,
// allowed Host names; docs/controld.md, "http"). Plain values; thread-safe to
// copy and read.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "levqor/controld/core/config.h"

namespace levqor::controld::api {

// Limits of the HTTP API (fixed at start; a SIGHUP does not change them).
// docs/controld.md, "http", says what each one protects against.
struct HttpSettings {
    std::size_t max_body_bytes = 1024 * 1024;         // larger bodies: 413
    std::size_t max_request_line_bytes = 8192;        // longer: 414
    std::size_t max_header_bytes = 16384;             // all header lines: 431
    std::size_t max_headers = 100;                    // more header fields: 431
    std::chrono::milliseconds header_timeout{10000};  // request line + headers, else 408
    std::chrono::milliseconds body_timeout{60000};    // the whole body, else 408
    std::chrono::milliseconds read_timeout{5000};     // longest pause within a body
    std::chrono::milliseconds write_timeout{5000};    // the whole response
    std::size_t max_connections = 512;
    std::size_t max_unauthenticated_connections = 256;  // not yet sent a valid token
    unsigned worker_threads = 8;
    unsigned admin_threads = 2;              // reserved for requests with the admin token
    std::vector<std::string> allowed_hosts;  // Host names besides localhost & co.

    friend bool operator==(const HttpSettings& a, const HttpSettings& b) {
        return a.max_body_bytes == b.max_body_bytes && a.max_request_line_bytes == b.max_request_line_bytes &&
               a.max_header_bytes == b.max_header_bytes && a.max_headers == b.max_headers &&
               a.header_timeout == b.header_timeout && a.body_timeout == b.body_timeout &&
               a.read_timeout == b.read_timeout && a.write_timeout == b.write_timeout &&
               a.max_connections == b.max_connections &&
               a.max_unauthenticated_connections == b.max_unauthenticated_connections &&
               a.worker_threads == b.worker_threads && a.admin_threads == b.admin_threads &&
               a.allowed_hosts == b.allowed_hosts;
    }
};

// The part's top-level keys with their effective values, as the config file
// writes them (levqor-controld --check-config).
nlohmann::ordered_json settings_json(const HttpSettings& settings);

// The API's part of the configuration, filling `out`.
ConfigPart config_part(HttpSettings& out);

}  // namespace levqor::controld::api
