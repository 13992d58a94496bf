// SPDX-License-Identifier: Apache-2.0
#include "request_metrics.h"

#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include "module.h"
#include "ngx_util.h"

namespace levqor::ngx {
namespace {

// Bucket bounds (microseconds), known at compile time so that the bucket
// search is a fixed sequence of compares.
constexpr std::uint64_t kBoundsUs[] = {1000,   5000,   10000,   25000,   50000,   100000,
                                       250000, 500000, 1000000, 2500000, 5000000, 10000000};
constexpr std::size_t kBounds = std::size(kBoundsUs);

ngx_int_t log_handler(ngx_http_request_t* r) noexcept {
    if (loc_conf<LocConf>(r)->request_metrics.enabled == 0) return NGX_OK;
    const RequestMetricsMain& m = main_conf<MainConf>(r)->request_metrics;
    // The status $status reports.
    const ngx_uint_t status = r->err_status != 0 ? r->err_status : r->headers_out.status;
    const ngx_uint_t cls = status / 100;
    if (cls >= 1 && cls <= 5) {
        // nginx's cached time, the same clock $request_time uses (milliseconds).
        const ngx_time_t* tp = ngx_timeofday();
        const ngx_msec_int_t ms = (tp->sec - r->start_sec) * 1000 + (tp->msec - r->start_msec);
        const std::uint64_t us = ms > 0 ? static_cast<std::uint64_t>(ms) * 1000 : 0;
        const std::size_t first = m.duration_first[cls - 1];
        metric_add(first + metrics::bucket_index(kBoundsUs, kBounds, us));
        metric_add(first + kBounds + 1, us);
    }
    if (r->upstream_states != nullptr && r->upstream_states->nelts > 0) {
        const auto* states = static_cast<const ngx_http_upstream_state_t*>(r->upstream_states->elts);
        if (states[r->upstream_states->nelts - 1].status >= 500) metric_add(m.connector_5xx);
    }
    return NGX_OK;
}

}  // namespace

void request_metrics_register(RequestMetricsMain& m, MetricsRegistry& metrics) {
    const std::vector<std::uint64_t> bounds(std::begin(kBoundsUs), std::end(kBoundsUs));
    for (int cls = 1; cls <= 5; ++cls) {
        m.duration_first[cls - 1] = metrics.layout.histogram(
            "levqor_request_duration_seconds", "Time from the first request byte to the log phase, by status class.",
            {{"status_class", std::to_string(cls) + "xx"}}, bounds);
    }
    m.connector_5xx = metrics.layout.counter("levqor_connector_5xx_total",
                                             "Responses whose upstream (connector) answered with a 5xx status.");
}

char* set_request_metrics(ngx_conf_t* cf, ngx_command_t*, void* conf) noexcept try {
    ngx_flag_t& slot = static_cast<LocConf*>(conf)->request_metrics.enabled;
    if (slot != NGX_CONF_UNSET) return const_cast<char*>("is duplicate");
    const std::string_view v = sv(conf_args(cf)[1]);
    if (v == "on") {
        slot = 1;
    } else if (v == "off") {
        slot = 0;
    } else {
        return conf_error(cf, "invalid value \"" + std::string(v) + "\", expected on or off");
    }
    return NGX_CONF_OK;
} catch (...) {
    return conf_exception(cf);
}

void request_metrics_merge(RequestMetricsMain& m, const RequestMetricsLoc& parent, RequestMetricsLoc& child) noexcept {
    ngx_conf_merge_value(child.enabled, parent.enabled, 1);
    if (child.enabled != 0) m.any_enabled = true;
}

ngx_int_t request_metrics_postconfiguration(ngx_conf_t* cf) noexcept {
    // No location records them: no handler, nothing on any request's path.
    if (!main_conf<MainConf>(cf)->request_metrics.any_enabled) return NGX_OK;
    return add_phase_handler(cf, NGX_HTTP_LOG_PHASE, log_handler) ? NGX_OK : NGX_ERROR;
}

}  // namespace levqor::ngx
