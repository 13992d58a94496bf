// SPDX-License-Identifier: Apache-2.0
#include "request_ctx.h"

#include <cstddef>

namespace levqor::ngx {
namespace {

// Marks our context among the pool's cleanups; does nothing itself.
void ctx_marker(void*) {}

}  // namespace

RequestCtx* request_ctx_recover(ngx_http_request_t* main) noexcept {
    for (ngx_pool_cleanup_t* c = main->pool->cleanup; c != nullptr; c = c->next) {
        if (c->handler == ctx_marker) {
            auto* ctx = static_cast<RequestCtx*>(c->data);
            ngx_http_set_ctx(main, ctx, ngx_http_levqor_module);
            return ctx;
        }
    }
    return nullptr;
}

RequestCtx* request_ctx_create(ngx_http_request_t* r, std::size_t extra) noexcept {
    // One allocation: the cleanup record that marks our context (it survives
    // an internal redirect, which clears r->ctx), the context, then `extra`.
    // The record is linked as ngx_pool_cleanup_add() would link it.
    struct Block {
        ngx_pool_cleanup_t cleanup;
        RequestCtx ctx;
    };
    static_assert(offsetof(Block, ctx) + sizeof(RequestCtx) == sizeof(Block), "extra follows ctx");
    ngx_http_request_t* main = r->main;
    auto* b = static_cast<Block*>(ngx_palloc(main->pool, sizeof(Block) + extra));
    if (b == nullptr) return nullptr;
    b->cleanup.handler = ctx_marker;
    b->cleanup.data = &b->ctx;
    b->cleanup.next = main->pool->cleanup;
    main->pool->cleanup = &b->cleanup;
    b->ctx = RequestCtx{};
    ngx_http_set_ctx(main, &b->ctx, ngx_http_levqor_module);
    return &b->ctx;
}

}  // namespace levqor::ngx
