// SPDX-License-Identifier: Apache-2.0
// Request durations and connector errors, recorded in the log phase into the
// shared metrics zone: levqor_request_duration_seconds{status_class} and
// levqor_connector_5xx_total (responses whose upstream answered 5xx).
// `levqor_request_metrics on | off` turns them off per http/server/location;
// the log-phase handler is installed only when some location has them on.
#pragma once

#include <cstddef>
#include <cstdint>

#include "ngx_shim.h"

namespace levqor::ngx {

class MetricsRegistry;

struct RequestMetricsMain {
    std::size_t duration_first[5] = {};  // first cell per status class 1xx..5xx
    std::size_t connector_5xx = 0;
    bool any_enabled = false;  // some location records them (set by the merge)
};

struct RequestMetricsLoc {
    ngx_flag_t enabled = NGX_CONF_UNSET;  // levqor_request_metrics; default on
};

// levqor_request_metrics on | off (conf = LocConf*).
char* set_request_metrics(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) noexcept;
void request_metrics_register(RequestMetricsMain& m, MetricsRegistry& metrics);
void request_metrics_merge(RequestMetricsMain& m, const RequestMetricsLoc& parent, RequestMetricsLoc& child) noexcept;
ngx_int_t request_metrics_postconfiguration(ngx_conf_t* cf) noexcept;

}  // namespace levqor::ngx
