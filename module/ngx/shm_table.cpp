// SPDX-License-Identifier: Apache-2.0
#include "shm_table.h"

#include "ngx_util.h"

#include <sys/random.h>

#include <cerrno>

namespace levqor::ngx {

void* alloc_largest_table(ngx_shm_zone_t* shm_zone, std::size_t header_bytes,
                          std::size_t (*sets_for_bytes)(std::size_t), std::size_t (*bytes_for_sets)(std::size_t),
                          std::size_t& nsets, const char* directive, const char* zone_name) noexcept {
    auto* shpool = reinterpret_cast<ngx_slab_pool_t*>(shm_zone->shm.addr);
    // Start from the zone size less the allocator's page descriptors and
    // step down a page at a time (a few steps at most).
    const std::size_t pages = shm_zone->shm.size / ngx_pagesize;
    const std::size_t overhead = pages * sizeof(ngx_slab_page_t) + 2 * ngx_pagesize;
    void* mem = nullptr;
    nsets = 0;
    shpool->log_nomem = 0;  // failed attempts are expected here
    for (std::size_t bytes = shm_zone->shm.size > overhead ? shm_zone->shm.size - overhead : 0;
         mem == nullptr && bytes > header_bytes + ngx_pagesize; bytes -= ngx_pagesize) {
        nsets = sets_for_bytes(bytes - header_bytes);
        if (nsets == 0) break;
        mem = ngx_slab_alloc(shpool, header_bytes + bytes_for_sets(nsets));
    }
    shpool->log_nomem = 1;
    if (mem == nullptr) {
        ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0, "%s \"%s\" is too small", directive, zone_name);
        return nullptr;
    }
    shpool->data = mem;
    return mem;
}

Parsed<ZoneSpec> parse_zone_spec(const ngx_str_t& arg) {
    using P = Parsed<ZoneSpec>;
    const std::string_view spec = sv(arg);
    const auto colon = spec.rfind(':');
    if (colon == std::string_view::npos || colon == 0 || colon + 1 == spec.size()) {
        return P::failure("invalid zone \"" + std::string(spec) + "\", expected <name>:<size>");
    }
    ngx_str_t size_text{spec.size() - colon - 1, arg.data + colon + 1};
    const ssize_t size = ngx_parse_size(&size_text);
    if (size == NGX_ERROR) return P::failure("invalid zone size \"" + std::string(sv(size_text)) + "\"");
    if (static_cast<std::size_t>(size) < 8 * ngx_pagesize) {
        return P::failure("zone \"" + std::string(spec) + "\" is too small, use at least " +
                          std::to_string(8 * ngx_pagesize / 1024) + "k");
    }
    return ZoneSpec{std::string(spec.substr(0, colon)), static_cast<std::size_t>(size)};
}

ngx_shm_zone_t* add_table_zone(ngx_conf_t* cf, const char* kind, const std::string& name, std::size_t size,
                               ngx_shm_zone_init_pt init, void* data) {
    ngx_str_t shm_name;
    if (!pool_str(cf->pool, std::string(kind) + ":" + name, shm_name)) return nullptr;
    ngx_shm_zone_t* zone = ngx_shared_memory_add(cf, &shm_name, size, &ngx_http_levqor_module);
    if (zone == nullptr) return nullptr;
    zone->init = init;
    zone->data = data;
    return zone;
}

bool random_sip_key(SipKey& key, ngx_log_t* log) noexcept {
    // The kernel's CSPRNG (what OpenSSL's generator seeds from), not
    // RAND_bytes: its first call in a process sets up OpenSSL's providers and
    // generator, ~1,200 small heap blocks that stay for the process's life,
    // wedged among nginx's own and making its per-request allocations take a
    // longer path (docs/benchmarks.md, "The module's fixed cost").
    auto* p = reinterpret_cast<unsigned char*>(&key);
    std::size_t got = 0;
    while (got < sizeof key) {
        const ssize_t n = getrandom(p + got, sizeof key - got, 0);
        if (n > 0) {
            got += static_cast<std::size_t>(n);
        } else if (n < 0 && errno != EINTR) {
            ngx_log_error(NGX_LOG_EMERG, log, ngx_errno, "levqor: getrandom() failed, cannot create a zone secret");
            return false;
        }
    }
    return true;
}

}  // namespace levqor::ngx
