// SPDX-License-Identifier: Apache-2.0
// Shared-memory zones that hold one fixed-size table (rate-limit buckets,
// webhook replay entries): the `name:size` argument, the zone's
// configuration object (TableZone), its declaration, and its initialisation —
// the largest table the slab allocator can hand out in one piece, a fresh
// hashing secret, and reuse of the old table when nginx -s reload keeps the
// zone (same name and size). A reload that cannot reuse it is refused with
// what changed, as limit_req does. Configuration time only (nginx's single
// thread); the tables themselves are process-safe (see module/core).
#pragma once

#include <cstddef>
#include <cstring>
#include <memory>
#include <memory_resource>
#include <new>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "levqor/parsed.h"
#include "levqor/siphash.h"
#include "ngx_shim.h"
#include "ngx_util.h"

namespace levqor::ngx {

// The configuration object of a zone. Its shared memory starts with the
// glue's own Shm (nothing when Shm is empty), then the Table (a ShmSets:
// sets_for_bytes, bytes_for_sets, create, attach) on a cache-line boundary.
template <class Shm, class Table>
struct TableZone {
    std::string name;
    std::size_t size = 0;  // 0 until its directive defines it
    ngx_shm_zone_t* shm = nullptr;
    Shm* data = nullptr;  // set by init_table_zone
    Table table;

    static constexpr std::size_t payload_offset() { return std::is_empty_v<Shm> ? 0 : (sizeof(Shm) + 63) / 64 * 64; }
    static void* payload(Shm* data) { return reinterpret_cast<char*>(data) + payload_offset(); }
};

// A new zone object: on the heap, or (a std::pmr::vector of pointers) in the
// configuration pool, constructed with the vector's resource and destroyed
// with the pool.
template <class Zone>
Zone* add_zone(ngx_pool_t*, std::vector<std::unique_ptr<Zone>>& zones) {
    zones.push_back(std::make_unique<Zone>());
    return zones.back().get();
}
template <class Zone>
Zone* add_zone(ngx_pool_t* pool, std::pmr::vector<Zone*>& zones) {
    Zone* zone = pool_new<Zone>(pool, zones.get_allocator().resource());
    if (zone == nullptr) throw std::bad_alloc();
    zones.push_back(zone);
    return zone;
}

// The zone called name; added (not yet defined) when new: a directive may
// use a zone before the one that defines it (checked at postconfiguration).
template <class Zones>
auto* zone_named(ngx_pool_t* pool, Zones& zones, const std::string& name) {
    for (auto& z : zones) {
        if (z->name == name) return &*z;
    }
    auto* zone = add_zone(pool, zones);
    zone->name = name;
    return zone;
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

// The directive that defines a zone (levqor_limit_zone, levqor_webhook_replay_zone):
// defines it once, under its directive's name as kind.
template <class Zones>
auto define_table_zone(ngx_conf_t* cf, Zones& zones, const ZoneSpec& spec, const char* directive,
                       ngx_shm_zone_init_pt init) {
    auto* zone = zone_named(cf->pool, zones, spec.name);
    using Zone = std::remove_pointer_t<decltype(zone)>;
    if (zone->size != 0) return Parsed<Zone*>::failure("zone \"" + spec.name + "\" is already defined");
    zone->size = spec.size;
    zone->shm = add_table_zone(cf, directive, spec.name, spec.size, init, zone);
    if (zone->shm == nullptr)
        return Parsed<Zone*>::failure("cannot declare the shared memory of zone \"" + spec.name + "\"");
    return Parsed<Zone*>(zone);
}

void* alloc_largest_table(ngx_shm_zone_t* shm_zone, std::size_t header_bytes,
                          std::size_t (*sets_for_bytes)(std::size_t), std::size_t (*bytes_for_sets)(std::size_t),
                          std::size_t& nsets, const char* directive, const char* zone_name) noexcept;
bool random_sip_key(SipKey& key, ngx_log_t* log) noexcept;

// The zone's shm init. On reload nginx hands back the same memory with the
// old configuration object (old_data): the table is kept, or — when it was
// made with another layout (another module version) — the reload fails with
// what differs; allocating a second table from the full slab pool could only
// fail as "too small".
template <class Zone>
ngx_int_t init_table_zone(ngx_shm_zone_t* shm_zone, void* old_data, const char* directive) noexcept try {
    using Shm = std::remove_pointer_t<decltype(std::declval<Zone&>().data)>;
    using Table = decltype(std::declval<Zone&>().table);
    auto* zone = static_cast<Zone*>(shm_zone->data);
    if (old_data != nullptr) {
        Shm* data = static_cast<Zone*>(old_data)->data;
        const std::string changed =
            data != nullptr ? Table::attach(Zone::payload(data), zone->table) : "it was never initialised";
        if (changed.empty()) {
            zone->data = data;  // every entry kept
            return NGX_OK;
        }
        ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                      "%s \"%s\" cannot keep its entries across this reload: %s; restart nginx (or rename the zone)",
                      directive, zone->name.c_str(), changed.c_str());
        return NGX_ERROR;
    }
    std::size_t nsets = 0;
    auto* data = static_cast<Shm*>(alloc_largest_table(shm_zone, Zone::payload_offset(), Table::sets_for_bytes,
                                                       Table::bytes_for_sets, nsets, directive, zone->name.c_str()));
    SipKey secret;
    if (data == nullptr || !random_sip_key(secret, shm_zone->shm.log)) return NGX_ERROR;
    std::memset(static_cast<void*>(data), 0, Zone::payload_offset());
    zone->table = Table::create(Zone::payload(data), nsets, secret);
    zone->data = data;
    return NGX_OK;
} catch (...) {
    ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0, "%s: cannot initialise a zone", directive);
    return NGX_ERROR;
}

}  // namespace levqor::ngx
