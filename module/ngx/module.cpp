// SPDX-License-Identifier: Apache-2.0
// ngx_http_levqor_module: directive table, module context and lifecycle.
// The features live in their own files (headers.cpp, status.cpp, ...).
#include "module.h"

#include "ngx_util.h"

namespace levqor::ngx {
namespace {

ngx_http_output_header_filter_pt next_header_filter;

// One header filter for every feature; it never fails the response.
ngx_int_t header_filter(ngx_http_request_t* r) noexcept {
    headers_decorate(r);
    limit_add_headers(r);
    return next_header_filter(r);
}

void* create_main_conf(ngx_conf_t* cf) noexcept try {
    auto* mcf = pool_new<MainConf>(cf->pool, cf->pool);
    if (mcf == nullptr) return nullptr;
    headers_register_metrics(mcf->headers, mcf->metrics);
    request_metrics_register(mcf->request_metrics, mcf->metrics);
    flags_register_metrics(mcf->metrics);
    status_register_metrics(mcf->metrics);
    return mcf;
} catch (...) {
    log_conf_exception(cf);
    return nullptr;
}

void* create_loc_conf(ngx_conf_t* cf) noexcept try { return pool_new<LocConf>(cf->pool, cf->pool); } catch (...) {
    log_conf_exception(cf);
    return nullptr;
}

char* merge_loc_conf(ngx_conf_t* cf, void* parent, void* child) noexcept {
    auto* prev = static_cast<LocConf*>(parent);
    auto* conf = static_cast<LocConf*>(child);
    if (headers_merge(cf, prev->headers, conf->headers) != NGX_CONF_OK) return static_cast<char*>(NGX_CONF_ERROR);
    if (webhook_merge(cf, prev->webhook, conf->webhook) != NGX_CONF_OK) return static_cast<char*>(NGX_CONF_ERROR);
    if (cost_merge(cf, prev->cost, conf->cost) != NGX_CONF_OK) return static_cast<char*>(NGX_CONF_ERROR);
    if (limit_merge(cf, prev->limit, conf->limit) != NGX_CONF_OK) return static_cast<char*>(NGX_CONF_ERROR);
    // Every server and location is merged before postconfiguration, which
    // installs a handler only where some location uses its feature.
    auto* mcf = main_conf<MainConf>(cf);
    request_metrics_merge(mcf->request_metrics, prev->request_metrics, conf->request_metrics);
    if (conf->headers.plan != nullptr) mcf->any_headers = true;
    if (conf->limit.effective != nullptr && !conf->limit.effective->empty()) {
        mcf->any_limit = true;
        // The RateLimit fields follow the mode of the location that decided.
        if (conf->limit.header_mode != static_cast<ngx_int_t>(limit::HeaderMode::Off)) mcf->any_limit_headers = true;
    }
    return NGX_CONF_OK;
}

ngx_int_t preconfiguration(ngx_conf_t* cf) noexcept {
    if (headers_preconfiguration(cf) != NGX_OK) return NGX_ERROR;
    if (webhook_preconfiguration(cf) != NGX_OK) return NGX_ERROR;
    return limit_preconfiguration(cf);
}

ngx_int_t postconfiguration(ngx_conf_t* cf) noexcept {
    if (headers_postconfiguration(cf) != NGX_OK) return NGX_ERROR;
    if (limit_postconfiguration(cf) != NGX_OK) return NGX_ERROR;
    if (request_metrics_postconfiguration(cf) != NGX_OK) return NGX_ERROR;
    if (webhook_postconfiguration(cf) != NGX_OK) return NGX_ERROR;
    if (cost_postconfiguration(cf) != NGX_OK) return NGX_ERROR;
    auto* mcf = main_conf<MainConf>(cf);
    if (mcf->any_headers || mcf->any_limit_headers) {
        next_header_filter = ngx_http_top_header_filter;
        ngx_http_top_header_filter = header_filter;
    }
    // Last: every feature has registered its series by now.
    return mcf->metrics.declare_zone(cf);
}

ngx_int_t init_process(ngx_cycle_t* cycle) noexcept {
    headers_init_process();
    auto* mcf = static_cast<MainConf*>(ngx_http_cycle_get_module_main_conf(cycle, ngx_http_levqor_module));
    if (mcf != nullptr) {
        mcf->metrics.attach_worker();
        flags_init_process(cycle, mcf->flags);
        limit_init_process(cycle);
    }
    return NGX_OK;
}

void exit_process(ngx_cycle_t* cycle) noexcept { limit_exit_process(cycle); }

constexpr ngx_uint_t kAnyLevel = NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF;

ngx_command_t commands[] = {
    {ngx_string("levqor_headers"), kAnyLevel | NGX_CONF_TAKE1, set_headers, NGX_HTTP_LOC_CONF_OFFSET, 0, nullptr},
    {ngx_string("levqor_headers_profile"), kAnyLevel | NGX_CONF_TAKE1, set_headers_profile, NGX_HTTP_LOC_CONF_OFFSET, 0,
     nullptr},
    {ngx_string("levqor_csp"), kAnyLevel | NGX_CONF_TAKE12, set_csp, NGX_HTTP_LOC_CONF_OFFSET, 0, nullptr},
    {ngx_string("levqor_hsts"), kAnyLevel | NGX_CONF_TAKE123, set_hsts, NGX_HTTP_LOC_CONF_OFFSET, 0, nullptr},
    {ngx_string("levqor_frame_options"), kAnyLevel | NGX_CONF_TAKE1, set_frame_options, NGX_HTTP_LOC_CONF_OFFSET, 0,
     nullptr},
    {ngx_string("levqor_referrer_policy"), kAnyLevel | NGX_CONF_TAKE1, set_referrer_policy, NGX_HTTP_LOC_CONF_OFFSET, 0,
     nullptr},
    {ngx_string("levqor_permissions_policy"), kAnyLevel | NGX_CONF_TAKE1, set_permissions_policy,
     NGX_HTTP_LOC_CONF_OFFSET, 0, nullptr},
    {ngx_string("levqor_headers_upstream"), kAnyLevel | NGX_CONF_TAKE1, set_headers_upstream, NGX_HTTP_LOC_CONF_OFFSET,
     0, nullptr},
    {ngx_string("levqor_limit_zone"), NGX_HTTP_MAIN_CONF | NGX_CONF_1MORE, set_limit_zone, NGX_HTTP_MAIN_CONF_OFFSET, 0,
     nullptr},
    {ngx_string("levqor_plan"), NGX_HTTP_MAIN_CONF | NGX_CONF_2MORE, set_plan, NGX_HTTP_MAIN_CONF_OFFSET, 0, nullptr},
    {ngx_string("levqor_limit"), kAnyLevel | NGX_CONF_1MORE, set_limit, NGX_HTTP_LOC_CONF_OFFSET, 0, nullptr},
    {ngx_string("levqor_limit_status"), kAnyLevel | NGX_CONF_TAKE1, set_limit_status, NGX_HTTP_LOC_CONF_OFFSET, 0,
     nullptr},
    {ngx_string("levqor_limit_headers"), kAnyLevel | NGX_CONF_TAKE1, set_limit_headers, NGX_HTTP_LOC_CONF_OFFSET, 0,
     nullptr},
    {ngx_string("levqor_limit_headers_upstream"), kAnyLevel | NGX_CONF_TAKE1, set_limit_headers_upstream,
     NGX_HTTP_LOC_CONF_OFFSET, 0, nullptr},
    {ngx_string("levqor_limit_log_level"), kAnyLevel | NGX_CONF_TAKE1, set_limit_log_level, NGX_HTTP_LOC_CONF_OFFSET, 0,
     nullptr},
    {ngx_string("levqor_flags_file"), NGX_HTTP_MAIN_CONF | NGX_CONF_TAKE1, set_flags_file, NGX_HTTP_MAIN_CONF_OFFSET, 0,
     nullptr},
    {ngx_string("levqor_webhook"), kAnyLevel | NGX_CONF_1MORE, set_webhook, NGX_HTTP_LOC_CONF_OFFSET, 0, nullptr},
    {ngx_string("levqor_webhook_generic"), kAnyLevel | NGX_CONF_2MORE, set_webhook_generic, NGX_HTTP_LOC_CONF_OFFSET, 0,
     nullptr},
    {ngx_string("levqor_webhook_replay_zone"), NGX_HTTP_MAIN_CONF | NGX_CONF_TAKE1, set_webhook_replay_zone,
     NGX_HTTP_MAIN_CONF_OFFSET, 0, nullptr},
    {ngx_string("levqor_webhook_mode"), kAnyLevel | NGX_CONF_TAKE1, set_webhook_mode, NGX_HTTP_LOC_CONF_OFFSET, 0,
     nullptr},
    {ngx_string("levqor_cost"), kAnyLevel | NGX_CONF_TAKE12, set_cost, NGX_HTTP_LOC_CONF_OFFSET, 0, nullptr},
    {ngx_string("levqor_request_metrics"), kAnyLevel | NGX_CONF_TAKE1, set_request_metrics, NGX_HTTP_LOC_CONF_OFFSET, 0,
     nullptr},
    {ngx_string("levqor_status"), NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF | NGX_CONF_NOARGS, set_status,
     NGX_HTTP_LOC_CONF_OFFSET, 0, nullptr},
    ngx_null_command,
};

ngx_http_module_t module_ctx = {
    preconfiguration, postconfiguration, create_main_conf, nullptr, nullptr, nullptr, create_loc_conf, merge_loc_conf,
};

}  // namespace
}  // namespace levqor::ngx

extern "C" {
ngx_module_t ngx_http_levqor_module = {
    NGX_MODULE_V1,
    &levqor::ngx::module_ctx,
    levqor::ngx::commands,
    NGX_HTTP_MODULE,
    nullptr,                      // init master
    levqor::ngx::log_build_info,  // init module
    levqor::ngx::init_process,    // init process
    nullptr,                      // init thread
    nullptr,                      // exit thread
    levqor::ngx::exit_process,    // exit process
    nullptr,                      // exit master
    NGX_MODULE_V1_PADDING,
};
}
