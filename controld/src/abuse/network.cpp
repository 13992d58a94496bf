// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/abuse/network.h"

#include <arpa/inet.h>
#include <maxminddb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace levqor::controld::abuse {
namespace {

// "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255" is the longest address text.
constexpr std::size_t kMaxIpText = 45;

// An address parsed once: its family and bytes (a mapped IPv6 address is
// turned into its IPv4 address).
struct ParsedIp {
    int family = AF_INET;
    unsigned char bytes[16] = {};
};

ParsedIp parse_ip(std::string_view ip) {
    if (ip.empty()) throw InvalidInput("ip", "ip is empty");
    if (ip.size() > kMaxIpText) throw InvalidInput("ip", "ip is not an IPv4 or IPv6 address (too long)");
    // inet_pton reads a C string: an embedded NUL would hide what follows.
    if (ip.find('\0') != std::string_view::npos) throw InvalidInput("ip", "ip is not an IPv4 or IPv6 address");
    const std::string text(ip);
    ParsedIp out;
    if (::inet_pton(AF_INET, text.c_str(), out.bytes) == 1) return out;
    if (::inet_pton(AF_INET6, text.c_str(), out.bytes) == 1) {
        static const unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (std::memcmp(out.bytes, kMapped, sizeof kMapped) == 0) {
            std::memmove(out.bytes, out.bytes + 12, 4);
            std::memset(out.bytes + 4, 0, 12);
            return out;
        }
        out.family = AF_INET6;
        return out;
    }
    throw InvalidInput("ip", "ip is not an IPv4 or IPv6 address");
}

std::string prefix_of(const ParsedIp& ip) {
    unsigned char masked[16] = {};
    char text[INET6_ADDRSTRLEN] = {};
    if (ip.family == AF_INET) {
        std::memcpy(masked, ip.bytes, 3);
        ::inet_ntop(AF_INET, masked, text, sizeof text);
        return std::string(text) + "/24";
    }
    std::memcpy(masked, ip.bytes, 6);
    ::inet_ntop(AF_INET6, masked, text, sizeof text);
    return std::string(text) + "/48";
}

}  // namespace

struct NetworkResolver::Db {
    MMDB_s mmdb{};
    bool open = false;  // MMDB_open frees what it allocated when it fails
    ~Db() {
        if (open) MMDB_close(&mmdb);
    }
};

NetworkResolver::NetworkResolver(const std::optional<std::string>& asn_mmdb) {
    if (!asn_mmdb) return;
    path_ = *asn_mmdb;
    auto db = std::make_unique<Db>();
    const int status = MMDB_open(path_.c_str(), MMDB_MODE_MMAP, &db->mmdb);
    if (status != MMDB_SUCCESS) {
        std::string why = MMDB_strerror(status);
        if (status == MMDB_IO_ERROR) why += std::string(": ") + std::strerror(errno);
        throw std::runtime_error("abuse.asn_mmdb " + path_ + ": cannot open: " + why);
    }
    db->open = true;
    const std::string type = db->mmdb.metadata.database_type ? db->mmdb.metadata.database_type : "";
    if (type.find("ASN") == std::string::npos) {
        throw std::runtime_error("abuse.asn_mmdb " + path_ + ": database type \"" + type +
                                 "\" is not an ASN database (expected GeoLite2-ASN or GeoIP2-ISP-like *ASN*)");
    }
    db_ = std::move(db);
}

NetworkResolver::~NetworkResolver() = default;

bool NetworkResolver::has_asn_db() const { return db_ != nullptr; }

NetworkStatus NetworkResolver::status() const {
    NetworkStatus s;
    s.asn_db = has_asn_db();
    s.path = path_;
    if (db_) {
        s.database_type = db_->mmdb.metadata.database_type ? db_->mmdb.metadata.database_type : "";
        s.build_epoch = db_->mmdb.metadata.build_epoch;
        s.note = "ASN from " + path_;
    } else {
        s.note = "no ASN database: networks are the /24 (IPv6 /48)";
    }
    return s;
}

std::string NetworkResolver::prefix_key(std::string_view ip) { return prefix_of(parse_ip(ip)); }

Network NetworkResolver::resolve(std::string_view ip) const {
    const ParsedIp parsed = parse_ip(ip);
    if (db_) {
        sockaddr_storage storage{};
        if (parsed.family == AF_INET) {
            auto* sin = reinterpret_cast<sockaddr_in*>(&storage);
            sin->sin_family = AF_INET;
            std::memcpy(&sin->sin_addr, parsed.bytes, 4);
        } else {
            auto* sin6 = reinterpret_cast<sockaddr_in6*>(&storage);
            sin6->sin6_family = AF_INET6;
            std::memcpy(&sin6->sin6_addr, parsed.bytes, 16);
        }
        int mmdb_error = MMDB_SUCCESS;
        MMDB_lookup_result_s result =
            MMDB_lookup_sockaddr(&db_->mmdb, reinterpret_cast<const sockaddr*>(&storage), &mmdb_error);
        if (mmdb_error == MMDB_SUCCESS && result.found_entry) {
            MMDB_entry_data_s data{};
            const int status = MMDB_get_value(&result.entry, &data, "autonomous_system_number", nullptr);
            if (status == MMDB_SUCCESS && data.has_data && data.type == MMDB_DATA_TYPE_UINT32 && data.uint32 != 0) {
                return Network{"AS" + std::to_string(data.uint32), "asn"};
            }
        }
        // An address outside the database (or a lookup error: an IPv6
        // address in an IPv4-only file) falls back to its prefix.
    }
    return Network{prefix_of(parsed), "prefix"};
}

}  // namespace levqor::controld::abuse
