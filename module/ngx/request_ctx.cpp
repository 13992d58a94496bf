#include "request_ctx.h"

namespace levqor::ngx {
namespace {

// Marks our context among the pool's cleanups; does nothing itself.
void ctx_marker(void*) {}

}  // namespace

RequestCtx* request_ctx(ngx_http_request_t* r, bool create) noexcept {
    ngx_http_request_t* main = r->main;
    auto* ctx = static_cast<RequestCtx*>(ngx_http_get_module_ctx(main, ngx_http_levqor_module));
    if (ctx != nullptr) return ctx;
    if (main->internal) {
        for (ngx_pool_cleanup_t* c = main->pool->cleanup; c != nullptr; c = c->next) {
            if (c->handler == ctx_marker) {
                ctx = static_cast<RequestCtx*>(c->data);
                ngx_http_set_ctx(main, ctx, ngx_http_levqor_module);
                return ctx;
            }
        }
    }
    if (!create) return nullptr;
    ngx_pool_cleanup_t* c = ngx_pool_cleanup_add(main->pool, sizeof(RequestCtx));
    if (c == nullptr) return nullptr;
    ctx = static_cast<RequestCtx*>(c->data);
    ctx->limit = nullptr;
    ctx->webhook = nullptr;
    c->handler = ctx_marker;
    ngx_http_set_ctx(main, ctx, ngx_http_levqor_module);
    return ctx;
}

}  // namespace levqor::ngx
