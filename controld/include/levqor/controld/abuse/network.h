// SPDX-License-Identifier: Apache-2.0
// The network an IP belongs to, for the abuse rules: its autonomous system
// from a GeoLite2-ASN database (libmaxminddb), or without a database or an
// entry its /24 (IPv6: /48). IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are
// looked up and keyed as the IPv4 address. The database is opened once
// (memory-mapped) and only read afterwards: resolve() is thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "levqor/controld/abuse/types.h"

namespace levqor::controld::abuse {

// What /healthz says about network identity.
struct NetworkStatus {
    bool asn_db = false;        // a database is open
    std::string path;           // abuse.asn_mmdb, "" when not configured
    std::string database_type;  // the file's metadata ("GeoLite2-ASN"), "" without one
    std::uint64_t build_epoch = 0;
    std::string note;  // "ASN from <path>" or "no ASN database: networks are the /24 (IPv6 /48)"
};

class NetworkResolver {
public:
    // Without a path: prefixes only. With one: opens it (MMDB_MODE_MMAP);
    // throws std::runtime_error naming the path and libmaxminddb's reason
    // when it cannot be opened or is not an ASN database.
    explicit NetworkResolver(const std::optional<std::string>& asn_mmdb = std::nullopt);
    ~NetworkResolver();
    NetworkResolver(const NetworkResolver&) = delete;
    NetworkResolver& operator=(const NetworkResolver&) = delete;

    // Throws InvalidInput("ip", ...) for a text that is not an IPv4 or IPv6
    // address (no port, no brackets, no zone, at most 45 bytes).
    Network resolve(std::string_view ip) const;

    bool has_asn_db() const;
    NetworkStatus status() const;

    // The prefix key alone: "198.51.100.0/24", "2001:db8:1::/48". Throws
    // InvalidInput("ip", ...).
    static std::string prefix_key(std::string_view ip);

private:
    struct Db;
    std::unique_ptr<Db> db_;
    std::string path_;
};

}  // namespace levqor::controld::abuse
