// SPDX-License-Identifier: Apache-2.0
// Security headers: directives, per-location header plan, the header filter
// and the $levqor_csp_nonce variable.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "levqor/security_headers.h"
#include "ngx_shim.h"

namespace levqor::ngx {

class MetricsRegistry;

// One header as it is pushed into r->headers_out.headers. Lives in the
// configuration pool; trivially destructible.
struct PlannedHeader {
    ngx_table_elt_t proto;  // key, lowcase_key, hash; value when there is no nonce
    ngx_str_t* pieces;      // value around nonce slots (npieces == 0: static value)
    ngx_uint_t npieces;
    std::size_t literal_len;
    bool https_only;
};
static_assert(std::is_trivially_destructible_v<PlannedHeader>);

// The headers of one scheme (http or https) as contiguous prototypes, so the
// common case is one copy into the response's header list.
struct HeaderRun {
    ngx_table_elt_t* protos;
    ngx_uint_t n;
    ngx_int_t nonce_at;  // index of the header whose value carries the nonce, or -1
};

struct HeaderPlan {
    PlannedHeader* headers;  // every header, for the per-header path
    ngx_uint_t n;
    HeaderRun http;
    HeaderRun https;
    const PlannedHeader* nonce_header;  // at most one header (the CSP) has nonce slots
    headers::UpstreamMode upstream;
    std::size_t decorated_cell;  // metrics cell: responses decorated
    std::uint64_t name_lengths;  // bit L set when some planned header's name has length L
    const HeaderPlan* shadow;    // the report-only form (SECURITY_HEADERS_ENABLED=shadow)
};

struct HeadersLoc {
    headers::Settings settings;        // what this level says (after merge: inherited too)
    const HeaderPlan* plan = nullptr;  // null: levqor_headers off here
};

struct HeadersMain {
    ngx_int_t nonce_index = NGX_ERROR;
    std::size_t nonces_cell = 0;
    std::size_t kept_cell = 0;
    std::size_t replaced_cell = 0;
};

// Directive setters (conf = LocConf*).
char* set_headers(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) noexcept;
char* set_headers_profile(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) noexcept;
char* set_csp(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) noexcept;
char* set_hsts(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) noexcept;
char* set_frame_options(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) noexcept;
char* set_referrer_policy(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) noexcept;
char* set_permissions_policy(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) noexcept;
char* set_headers_upstream(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) noexcept;

ngx_int_t headers_preconfiguration(ngx_conf_t* cf) noexcept;
// Registers the header counters; called before any merge.
void headers_register_metrics(HeadersMain& main, MetricsRegistry& metrics);
char* headers_merge(ngx_conf_t* cf, HeadersLoc& parent, HeadersLoc& child) noexcept;
ngx_int_t headers_postconfiguration(ngx_conf_t* cf) noexcept;
void headers_init_process() noexcept;
// Header filter part: adds the location's security headers (main requests only).
void headers_decorate(ngx_http_request_t* r) noexcept;

}  // namespace levqor::ngx
