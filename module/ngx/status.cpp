// levqor_status: a content handler that answers with the module's metrics in
// the Prometheus text format (like stub_status, but machine-readable).
#include <cstring>
#include <string>

#include "module.h"
#include "ngx_util.h"

namespace levqor::ngx {
namespace {

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

}  // namespace levqor::ngx
