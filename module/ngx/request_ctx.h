// SPDX-License-Identifier: Apache-2.0
// The module's per-request context, one per main request. nginx wipes module
// contexts on internal redirects (error_page, try_files); ours is also
// registered as a pool cleanup so it is found again afterwards (the technique
// of ngx_http_realip_module), and a decision is never made twice.
// Trivially destructible; lives in the request pool.
#pragma once

#include <cstddef>
#include <type_traits>

#include "ngx_shim.h"

namespace levqor::ngx {

struct LimitCtx;
struct WebhookCtx;
struct RedisWait;

struct RequestCtx {
    LimitCtx* limit;
    WebhookCtx* webhook;
    RedisWait* redis_wait;  // a rate-limit decision waiting for Redis
};
static_assert(std::is_trivially_destructible_v<RequestCtx>);
// ngx_palloc guarantees NGX_ALIGNMENT (8 bytes), so nothing here may need more.
static_assert(alignof(RequestCtx) <= 8 && sizeof(RequestCtx) % 8 == 0);

// After an internal redirect (which clears r->ctx): the context found by
// its pool cleanup record, set again on the main request; null if none.
RequestCtx* request_ctx_recover(ngx_http_request_t* main) noexcept;

// The main request's context, or null. Inline: every limited request asks.
inline RequestCtx* request_ctx_find(ngx_http_request_t* r) noexcept {
    ngx_http_request_t* main = r->main;
    auto* ctx = static_cast<RequestCtx*>(ngx_http_get_module_ctx(main, ngx_http_levqor_module));
    if (ctx != nullptr || !main->internal) return ctx;
    return request_ctx_recover(main);
}

// Creates the main request's context (zeroed) with `extra` bytes of
// room right after it (8-byte aligned, like all pool memory), in one allocation.
RequestCtx* request_ctx_create(ngx_http_request_t* r, std::size_t extra = 0) noexcept;

// Finds or creates.
inline RequestCtx* request_ctx(ngx_http_request_t* r) noexcept {
    RequestCtx* ctx = request_ctx_find(r);
    return ctx != nullptr ? ctx : request_ctx_create(r);
}

}  // namespace levqor::ngx
