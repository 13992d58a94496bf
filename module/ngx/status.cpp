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

    static ngx_str_t type = ngx_string("text/plain; version=0.0.4; charset=utf-8");
    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_type = type;
    r->headers_out.content_type_len = type.len;
    r->headers_out.content_length_n = static_cast<off_t>(text.size());
    ngx_int_t rc = ngx_http_send_header(r);
    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) return rc;

    ngx_buf_t* b = ngx_create_temp_buf(r->pool, text.size() > 0 ? text.size() : 1);
    if (b == nullptr) return NGX_HTTP_INTERNAL_SERVER_ERROR;
    b->last = ngx_cpymem(b->pos, text.data(), text.size());
    b->last_buf = r == r->main ? 1 : 0;
    b->last_in_chain = 1;
    ngx_chain_t out{b, nullptr};
    return ngx_http_output_filter(r, &out);
}

ngx_int_t status_handler(ngx_http_request_t* r) noexcept try {
    return send_status(r);
} catch (...) {
    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0, "levqor_status: could not render metrics");
    return NGX_HTTP_INTERNAL_SERVER_ERROR;
}

}  // namespace

char* set_status(ngx_conf_t* cf, ngx_command_t*, void*) noexcept {
    auto* clcf = static_cast<ngx_http_core_loc_conf_t*>(ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module));
    clcf->handler = status_handler;
    return NGX_CONF_OK;
}

}  // namespace levqor::ngx
