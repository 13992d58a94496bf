// Shared-memory zones that hold one fixed-size table (rate-limit buckets,
// webhook replay entries): the `name:size` argument, the zone's declaration,
// and its initialisation — the largest table the slab allocator can hand out
// in one piece, a fresh hashing secret, and reuse of the old table when
// nginx -s reload keeps the zone (same name and size).
//
// A zone's shared memory starts with a header type Shm:
//   static constexpr std::uint64_t kMagic;  std::uint64_t magic, nsets;
//   static constexpr std::size_t payload_offset();  void* payload();
// and its configuration object Zone has `std::string name`, `Shm* data` and
// a Table member (BucketTable, ReplaySet: sets_for_bytes, bytes_for_sets,
// create, attach).
#pragma once

#include <cstddef>
#include <cstring>
#include <string>
#include <type_traits>
#include <utility>

#include "levqor/parsed.h"
#include "levqor/siphash.h"
#include "ngx_shim.h"

namespace levqor::ngx {

// Payload offset for a header type: its size, rounded up to a cache line.
template <class Shm>
constexpr std::size_t payload_offset_of() {
    return (sizeof(Shm) + 63) / 64 * 64;
}

struct ZoneSpec {
    std::string name;
    std::size_t size;
};
// "<name>:<size>", at least 8 pages; messages name the argument.
Parsed<ZoneSpec> parse_zone_spec(const ngx_str_t& arg);

// Declares the zone's shared memory under "<kind>:<name>" (so user zone names
// never clash with other kinds); init receives `data` as shm_zone->data.
ngx_shm_zone_t* add_table_zone(ngx_conf_t* cf, const char* kind, const std::string& name, std::size_t size,
                               ngx_shm_zone_init_pt init, void* data);

void* alloc_largest_table(ngx_shm_zone_t* shm_zone, std::size_t header_bytes,
                          std::size_t (*sets_for_bytes)(std::size_t), std::size_t (*bytes_for_sets)(std::size_t),
                          std::size_t& nsets, const char* directive, const char* zone_name) noexcept;
bool random_sip_key(SipKey& key, ngx_log_t* log) noexcept;

template <class Zone, class Table>
ngx_int_t init_table_zone(ngx_shm_zone_t* shm_zone, void* old_data, Table Zone::*table,
                          const char* directive) noexcept {
    using Shm = std::remove_pointer_t<decltype(std::declval<Zone&>().data)>;
    auto* zone = static_cast<Zone*>(shm_zone->data);
    if (old_data != nullptr) {
        auto* old = static_cast<Zone*>(old_data);
        if (old->data != nullptr && Table::attach(old->data->payload(), old->data->nsets, zone->*table)) {
            zone->data = old->data;  // every entry kept
            return NGX_OK;
        }
    }
    std::size_t nsets = 0;
    auto* data = static_cast<Shm*>(alloc_largest_table(shm_zone, Shm::payload_offset(), Table::sets_for_bytes,
                                                       Table::bytes_for_sets, nsets, directive, zone->name.c_str()));
    SipKey secret;
    if (data == nullptr || !random_sip_key(secret, shm_zone->shm.log)) return NGX_ERROR;
    std::memset(static_cast<void*>(data), 0, Shm::payload_offset());
    data->magic = Shm::kMagic;
    data->nsets = nsets;
    zone->*table = Table::create(data->payload(), nsets, secret);
    zone->data = data;
    return NGX_OK;
}

}  // namespace levqor::ngx
