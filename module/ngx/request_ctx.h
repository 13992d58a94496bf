// The module's per-request context, one per main request. nginx wipes module
// contexts on internal redirects (error_page, try_files); ours is also
// registered as a pool cleanup so it is found again afterwards (the technique
// of ngx_http_realip_module), and a decision is never made twice.
// Trivially destructible; lives in the request pool.
#pragma once

#include <type_traits>

#include "ngx_shim.h"

namespace levqor::ngx {

struct LimitCtx;
struct WebhookCtx;

struct RequestCtx {
    LimitCtx* limit;
    WebhookCtx* webhook;
};
static_assert(std::is_trivially_destructible_v<RequestCtx>);

// The main request's context; created (zeroed) when `create` is set.
RequestCtx* request_ctx(ngx_http_request_t* r, bool create) noexcept;

}  // namespace levqor::ngx
