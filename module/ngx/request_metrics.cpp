// SPDX-License-Identifier: Apache-2.0
#include "request_metrics.h"

#include <string>

#include "module.h"
#include "ngx_util.h"

namespace levqor::ngx {
namespace {

ngx_int_t log_handler(ngx_http_request_t* r) noexcept {
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
        const std::size_t n = m.bounds_us.size();
        metric_add(first + metrics::bucket_index(m.bounds_us.data(), n, us));
        metric_add(first + n + 1, us);
    }
    if (r->upstream_states != nullptr && r->upstream_states->nelts > 0) {
        const auto* states = static_cast<const ngx_http_upstream_state_t*>(r->upstream_states->elts);
        if (states[r->upstream_states->nelts - 1].status >= 500) metric_add(m.connector_5xx);
    }
    return NGX_OK;
}

}  // namespace

void request_metrics_register(RequestMetricsMain& m, MetricsRegistry& metrics) {
    m.bounds_us = {1000, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000};
    for (int cls = 1; cls <= 5; ++cls) {
        m.duration_first[cls - 1] = metrics.layout.histogram(
            "levqor_request_duration_seconds", "Time from the first request byte to the log phase, by status class.",
            {{"status_class", std::to_string(cls) + "xx"}}, m.bounds_us);
    }
    m.connector_5xx = metrics.layout.counter("levqor_connector_5xx_total",
                                             "Responses whose upstream (connector) answered with a 5xx status.");
}

ngx_int_t request_metrics_postconfiguration(ngx_conf_t* cf) noexcept {
    return add_phase_handler(cf, NGX_HTTP_LOG_PHASE, log_handler) ? NGX_OK : NGX_ERROR;
}

}  // namespace levqor::ngx
