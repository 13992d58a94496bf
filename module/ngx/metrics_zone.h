// SPDX-License-Identifier: Apache-2.0
// Module metrics in shared memory. Features register their series in the
// Layout at configuration time; postconfiguration sizes one shared zone
// ("levqor_metrics") with a row of cells per worker slot. A worker adds to
// its own row with relaxed atomics (no lock, no false sharing between
// workers); the status handler sums the rows. The zone is reused across
// reloads while its layout is unchanged, so counters survive `nginx -s reload`.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory_resource>
#include <string>
#include <vector>

#include "levqor/metrics.h"
#include "ngx_shim.h"

namespace levqor::ngx {

class MetricsRegistry {
public:
    // `mr`: the configuration's pool (MainConf::conf_pool), which holds the layout.
    explicit MetricsRegistry(std::pmr::memory_resource* mr) : layout(mr), collectors_(mr) {}
    MetricsRegistry(const MetricsRegistry&) = delete;
    MetricsRegistry& operator=(const MetricsRegistry&) = delete;

    metrics::Layout layout;

    // Collectors append families whose values are computed at render time
    // (zone fill, keys tracked). Run in the worker that serves levqor_status.
    using Collector = std::function<void(std::string& out)>;
    void add_collector(Collector c) { collectors_.push_back(std::move(c)); }

    // postconfiguration: declares the shared zone sized for the layout.
    ngx_int_t declare_zone(ngx_conf_t* cf) noexcept;
    // init_process: points this process at its row.
    void attach_worker() noexcept;
    void render(std::string& out) const;

private:
    static ngx_int_t init_zone(ngx_shm_zone_t* zone, void* data) noexcept;
    ngx_shm_zone_t* zone_ = nullptr;
    std::pmr::vector<Collector> collectors_;
};

namespace detail {
extern std::atomic<std::uint64_t>* metrics_row;
}

// Hot path: one relaxed atomic add into this worker's row.
inline void metric_add(std::size_t cell, std::uint64_t n = 1) noexcept {
    if (detail::metrics_row != nullptr) detail::metrics_row[cell].fetch_add(n, std::memory_order_relaxed);
}

}  // namespace levqor::ngx
