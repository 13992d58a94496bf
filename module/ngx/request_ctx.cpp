#include "request_ctx.h"

namespace levqor::ngx {
namespace {

// Marks our context among the pool's cleanups; does nothing itself.
void ctx_marker(void*) {}

}  // namespace

RequestCtx* request_ctx_find(ngx_http_request_t* r) noexcept {
    ngx_http_request_t* main = r->main;
    auto* ctx = static_cast<RequestCtx*>(ngx_http_get_module_ctx(main, ngx_http_levqor_module));
    if (ctx != nullptr || !main->internal) return ctx;
    for (ngx_pool_cleanup_t* c = main->pool->cleanup; c != nullptr; c = c->next) {
        if (c->handler == ctx_marker) {
            ctx = static_cast<RequestCtx*>(c->data);
            ngx_http_set_ctx(main, ctx, ngx_http_levqor_module);
            return ctx;
        }
    }
    return nullptr;
}

RequestCtx* request_ctx_create(ngx_http_request_t* r, std::size_t extra) noexcept {
    ngx_http_request_t* main = r->main;
    ngx_pool_cleanup_t* c = ngx_pool_cleanup_add(main->pool, 0);
    if (c == nullptr) return nullptr;
    auto* ctx = static_cast<RequestCtx*>(ngx_palloc(main->pool, sizeof(RequestCtx) + extra));
    if (ctx == nullptr) return nullptr;
    ngx_memzero(ctx, sizeof *ctx);
    c->handler = ctx_marker;
    c->data = ctx;
    ngx_http_set_ctx(main, ctx, ngx_http_levqor_module);
    return ctx;
}

}  // namespace levqor::ngx
