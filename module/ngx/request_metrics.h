// SPDX-License-Identifier: Apache-2.0
// Request durations and connector errors, recorded in the log phase into the
// shared metrics zone: levqor_request_duration_seconds{status_class} and
// levqor_connector_5xx_total (responses whose upstream answered 5xx).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "ngx_shim.h"

namespace levqor::ngx {

class MetricsRegistry;

struct RequestMetricsMain {
    std::vector<std::uint64_t> bounds_us;
    std::size_t duration_first[5] = {};  // first cell per status class 1xx..5xx
    std::size_t connector_5xx = 0;
};

void request_metrics_register(RequestMetricsMain& m, MetricsRegistry& metrics);
ngx_int_t request_metrics_postconfiguration(ngx_conf_t* cf) noexcept;

}  // namespace levqor::ngx
