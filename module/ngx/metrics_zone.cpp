// SPDX-License-Identifier: Apache-2.0
#include "metrics_zone.h"

#include <cstring>

namespace levqor::ngx {

namespace detail {
std::atomic<std::uint64_t>* metrics_row = nullptr;
}

namespace {

// Worker rows: ngx_worker % kSlots. More workers than slots share rows,
// which stays correct because adds are atomic.
constexpr std::size_t kSlots = 16;
constexpr std::size_t kCellsPerLine = 64 / sizeof(std::uint64_t);
constexpr std::uint64_t kMagic = 0x6c6576716f726d31ULL;  // "levqorm1"

// Zone data: this header, then kSlots rows of `stride` cells.
struct alignas(64) ZoneData {
    std::uint64_t magic;
    std::uint64_t signature;
    std::size_t stride;  // cells per row, a whole number of cache lines

    std::atomic<std::uint64_t>* cells() {
        return reinterpret_cast<std::atomic<std::uint64_t>*>(reinterpret_cast<char*>(this) + sizeof(ZoneData));
    }
};
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);
static_assert(sizeof(std::atomic<std::uint64_t>) == sizeof(std::uint64_t));

std::size_t row_stride(std::size_t cells) {
    return (cells + kCellsPerLine - 1) / kCellsPerLine * kCellsPerLine + kCellsPerLine;
}

std::size_t data_size(std::size_t stride) { return sizeof(ZoneData) + kSlots * stride * sizeof(std::uint64_t); }

}  // namespace

ngx_int_t MetricsRegistry::declare_zone(ngx_conf_t* cf) noexcept {
    static ngx_str_t name = ngx_string("levqor_metrics");
    const std::size_t stride = row_stride(layout.cells());
    // Room for the slab allocator's own bookkeeping on top of the data.
    std::size_t size = data_size(stride) + 16 * ngx_pagesize;
    size = (size + ngx_pagesize - 1) / ngx_pagesize * ngx_pagesize;
    zone_ = ngx_shared_memory_add(cf, &name, size, &ngx_http_levqor_module);
    if (zone_ == nullptr) return NGX_ERROR;
    zone_->init = init_zone;
    zone_->data = this;
    return NGX_OK;
}

ngx_int_t MetricsRegistry::init_zone(ngx_shm_zone_t* zone, void* old_data) noexcept {
    auto* self = static_cast<MetricsRegistry*>(zone->data);
    const std::uint64_t signature = self->layout.signature();
    const std::size_t stride = row_stride(self->layout.cells());
    auto* shpool = reinterpret_cast<ngx_slab_pool_t*>(zone->shm.addr);

    ZoneData* data = nullptr;
    if (old_data != nullptr) {
        data = static_cast<ZoneData*>(old_data);
        if (data->magic != kMagic || data->stride != stride || data->signature != signature) {
            // Same size, different layout: start the counters from zero.
            std::memset(static_cast<void*>(data->cells()), 0, kSlots * stride * sizeof(std::uint64_t));
            data->signature = signature;
            data->stride = stride;
            data->magic = kMagic;
        }
    } else {
        data = static_cast<ZoneData*>(ngx_slab_alloc(shpool, data_size(stride)));
        if (data == nullptr) return NGX_ERROR;
        std::memset(static_cast<void*>(data), 0, data_size(stride));
        data->magic = kMagic;
        data->signature = signature;
        data->stride = stride;
        shpool->data = data;
    }
    zone->data = data;
    // Keep a pointer to the registry for attach_worker()/render().
    self->zone_ = zone;
    return NGX_OK;
}

void MetricsRegistry::attach_worker() noexcept {
    if (zone_ == nullptr || zone_->data == nullptr) return;
    auto* data = static_cast<ZoneData*>(zone_->data);
    const std::size_t slot = static_cast<std::size_t>(ngx_worker) % kSlots;
    detail::metrics_row = data->cells() + slot * data->stride;
}

void MetricsRegistry::render(std::string& out) const {
    ZoneData* data = zone_ != nullptr ? static_cast<ZoneData*>(zone_->data) : nullptr;
    layout.render(out, [data](std::size_t cell) -> std::uint64_t {
        if (data == nullptr) return 0;
        std::uint64_t sum = 0;
        for (std::size_t s = 0; s < kSlots; ++s) {
            sum += data->cells()[s * data->stride + cell].load(std::memory_order_relaxed);
        }
        return sum;
    });
    for (const auto& c : collectors_) c(out);
}

}  // namespace levqor::ngx
