// SPDX-License-Identifier: Apache-2.0
// The module's configuration structs. Each concern (headers, status, and the
// features that follow) keeps its part in its own struct and its own file;
// module.cpp holds the directive table and the nginx lifecycle hooks.
#pragma once

#include "cost.h"
#include "flags.h"
#include "headers.h"
#include "limit.h"
#include "metrics_zone.h"
#include "ngx_shim.h"
#include "ngx_util.h"
#include "request_metrics.h"
#include "webhook.h"

namespace levqor::ngx {

// http{} level; one per configuration cycle.
struct MainConf {
    explicit MainConf(ngx_pool_t* pool) : conf_pool(pool), metrics(&conf_pool), limit(&conf_pool) {}
    MainConf(const MainConf&) = delete;
    MainConf& operator=(const MainConf&) = delete;

    // First: the members below keep their configuration data in this pool
    // (not as small heap blocks; docs/benchmarks.md, "The module's fixed cost").
    PoolResource conf_pool;
    MetricsRegistry metrics;
    HeadersMain headers;
    LimitMain limit;
    FlagsMain flags;
    RequestMetricsMain request_metrics;
    WebhookMain webhook;
    CostMain cost;
    // Set by the merge: some location decorates responses (levqor_headers),
    // limits requests (levqor_limit: the preaccess handler), or limits them
    // with RateLimit fields (levqor_limit_headers not off). The header filter
    // is installed only for the first or the last.
    bool any_headers = false;
    bool any_limit = false;
    bool any_limit_headers = false;
};

// http{}, server{} and location{} levels.
struct LocConf {
    explicit LocConf(ngx_pool_t* pool) : conf_pool(pool), limit(&conf_pool) {}
    LocConf(const LocConf&) = delete;
    LocConf& operator=(const LocConf&) = delete;

    PoolResource conf_pool;  // first, as in MainConf
    HeadersLoc headers;
    LimitLoc limit;
    WebhookLoc webhook;
    CostLoc cost;
    RequestMetricsLoc request_metrics;
};

// levqor_status (status.cpp).
char* set_status(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) noexcept;
// levqor_build_info{version,nginx,git} 1 in levqor_status (status.cpp).
void status_register_metrics(MetricsRegistry& metrics);
// "levqor <version> (git ..., nginx ...)" at NOTICE in the error log: the
// module's init_module, once per configuration load (start and reload).
ngx_int_t log_build_info(ngx_cycle_t* cycle) noexcept;

}  // namespace levqor::ngx
