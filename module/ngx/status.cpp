// SPDX-License-Identifier: Apache-2.0
// levqor_status: a content handler that answers with the module's metrics in
// the Prometheus text format (like stub_status, but machine-readable).
#include <cstring>
#include <string>

#include "levqor/build_info.h"
#include "levqor/metrics.h"
#include "module.h"
#include "ngx_util.h"

namespace levqor::ngx {
namespace {

// The nginx the module was compiled against is the one CMake read the version of.
static_assert(build::kNginx == std::string_view(NGINX_VERSION), "build_info.h and nginx.h disagree");

ngx_int_t send_status(ngx_http_request_t* r) {
    if (!(r->method & (NGX_HTTP_GET | NGX_HTTP_HEAD))) return NGX_HTTP_NOT_ALLOWED;
    if (ngx_http_discard_request_body(r) != NGX_OK) return NGX_HTTP_INTERNAL_SERVER_ERROR;

    std::string text;
    main_conf<MainConf>(r)->metrics.render(text);

    ngx_str_t body;
    if (!pool_str(r->pool, text, body)) return NGX_HTTP_INTERNAL_SERVER_ERROR;
    return send_body(r, NGX_HTTP_OK, ngx_string("text/plain; version=0.0.4; charset=utf-8"), body.data, body.len);
}

ngx_int_t status_handler(ngx_http_request_t* r) noexcept try { return send_status(r); } catch (...) {
    log_exception(r->connection->log, NGX_LOG_ERR, "levqor_status: could not render metrics");
    return NGX_HTTP_INTERNAL_SERVER_ERROR;
}

}  // namespace

char* set_status(ngx_conf_t* cf, ngx_command_t*, void*) noexcept {
    auto* clcf = static_cast<ngx_http_core_loc_conf_t*>(ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module));
    clcf->handler = status_handler;
    return NGX_CONF_OK;
}

void status_register_metrics(MetricsRegistry& metrics) {
    metrics.add_collector([](std::string& out) {
        metrics::write_family_header(out, build::kMetricName, build::kMetricHelp, "gauge");
        metrics::write_sample(
            out, build::kMetricName,
            {{"version", std::string(build::kVersion)}, {"nginx", NGINX_VERSION}, {"git", std::string(build::kGit)}},
            std::uint64_t{1});
    });
}

ngx_int_t log_build_info(ngx_cycle_t* cycle) noexcept {
    ngx_log_error(NGX_LOG_NOTICE, cycle->log, 0, "%*s loaded", build::kVersionLine.size(), build::kVersionLine.data());
    return NGX_OK;
}

}  // namespace levqor::ngx
