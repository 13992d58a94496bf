// SPDX-License-Identifier: Apache-2.0
// Rate limiting: levqor_limit_zone, levqor_plan, levqor_limit and friends.
// Configuration objects (limit_conf.cpp) and the preaccess handler, the 429
// response, the RateLimit header fields and the variables (limit_handler.cpp).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <memory_resource>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "levqor/address_prefix.h"
#include "levqor/bucket_table.h"
#include "levqor/limit_args.h"
#include "levqor/rate_plan.h"
#include "levqor/limit_redis.h"
#include "levqor/limit_headers.h"
#include "levqor/limit_upstream.h"
#include "ngx_shim.h"
#include "shm_table.h"
#include "redis_conn.h"
#include "value_source.h"

namespace levqor::ngx {

class MetricsRegistry;

// A plan with everything the request path needs precomputed.
struct RuntimePlan {
    limit::Plan plan;
    bool user_defined = false;
    // Mixed into bucket tags: a key has one bucket per plan, so a plan change
    // (upgrade, downgrade) starts from a full bucket of the new plan.
    std::uint64_t tag_salt = 0;
    gcra::Limit limits[3];  // by BucketKind
    // Text in the configuration pool (LimitMain's resource).
    std::string_view policy_names[3];    // "free-key"
    std::string_view policy_items[3];    // "\"free-key\";q=60;w=60"
    std::string_view state_prefixes[3];  // "\"free-key\";r="
};
// kAnonymous: with ip=off, the one bucket that requests without a key share
// (charged at the plan's key rate), so they are never unlimited.
enum BucketKind : std::uint8_t { kKey = 0, kIp = 1, kAnonymous = 2 };
inline constexpr BucketKind kAllKinds[] = {kKey, kIp, kAnonymous};

// Per zone and plan: metrics cells.
struct PlanCells {
    std::size_t passed, rejected, dry_run_rejected, hit_key, hit_ip;
    std::size_t fallback_passed, fallback_rejected, fallback_allowed, fallback_denied;
};

// Shared memory of a zone, before its bucket table.
struct LimitZoneShm {
    static constexpr std::size_t kUnknownPlans = 64;
    // Hashes of unknown plan names already logged (once per name, across workers).
    std::atomic<std::uint64_t> unknown_plans[kUnknownPlans];
};

// levqor_limit_zone: name, size, shared memory and bucket table (TableZone),
// then what the rate limiter adds.
struct LimitZone : TableZone<LimitZoneShm, limit::BucketTable> {
    explicit LimitZone(std::pmr::memory_resource* mr) : cells(mr) {}

    std::pmr::vector<PlanCells> cells;           // by plan index
    std::unique_ptr<limit::RedisOptions> redis;  // null: a local zone
    RedisConn::Cells redis_cells{};
    std::unique_ptr<RedisConn> conn;  // per worker (created in init_process)
};

struct LimitRule {
    LimitZone* zone = nullptr;
    ValueSource key;
    ValueSource plan;
    ValueSource ip;                         // empty: ip=off
    std::string plan_literal;               // when plan= has no variables
    ngx_int_t static_plan = -1;             // its index, resolved at merge
    const RuntimePlan* plan_ptr = nullptr;  // and the plan itself (LimitMain::plans is complete by then)
    std::uint64_t cost = 1;
    unsigned ip_prefix6 = limit::kDefaultIpPrefix6;  // IPv6 addresses share a bucket per prefix
    bool dry_run = false;
};

struct LimitLoc {
    explicit LimitLoc(std::pmr::memory_resource* mr) : rules(mr) {}

    std::pmr::vector<LimitRule> rules;  // set at this level
    bool rules_here = false;
    const std::pmr::vector<LimitRule>* effective = nullptr;  // after merge
    ngx_uint_t status = NGX_CONF_UNSET_UINT;
    ngx_uint_t log_level = NGX_CONF_UNSET_UINT;
    ngx_int_t header_mode = NGX_CONF_UNSET;
    ngx_int_t upstream_mode = NGX_CONF_UNSET;  // levqor_limit_headers_upstream
};

struct LimitMain {
    std::pmr::vector<RuntimePlan> plans;  // "free" first, then "pro", then user plans
    std::pmr::vector<LimitZone*> zones;   // in the configuration pool
    ngx_int_t status_index = NGX_ERROR;
    ngx_int_t remaining_index = NGX_ERROR;
    // levqor_ratelimit_upstream_fields_total cells, by action.
    std::size_t upstream_merged = 0, upstream_replaced = 0, upstream_malformed = 0;
    // Some location with levqor_limit sends RateLimit fields (levqor_limit_headers
    // is not off there): false spares every response the header filter's lookup.
    bool any_headers = false;

    explicit LimitMain(std::pmr::memory_resource* mr);
    ngx_int_t find_plan(const u_char* name, std::size_t len) const noexcept;
};

char* set_limit_zone(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) noexcept;
char* set_plan(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) noexcept;
char* set_limit(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) noexcept;
char* set_limit_status(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) noexcept;
char* set_limit_headers(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) noexcept;
char* set_limit_headers_upstream(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) noexcept;
char* set_limit_log_level(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) noexcept;

ngx_int_t limit_preconfiguration(ngx_conf_t* cf) noexcept;
char* limit_merge(ngx_conf_t* cf, LimitLoc& parent, LimitLoc& child) noexcept;
// Checks zones, registers metrics, installs the preaccess handler (only when
// some location has levqor_limit).
ngx_int_t limit_postconfiguration(ngx_conf_t* cf) noexcept;
// Connects the worker's Redis-backed zones (off the request path).
void limit_init_process(ngx_cycle_t* cycle) noexcept;
void limit_exit_process(ngx_cycle_t* cycle) noexcept;
// The preaccess phase handler.
ngx_int_t limit_handler(ngx_http_request_t* r) noexcept;
// Header filter part: RateLimit fields on the response of a limited request.
void limit_add_headers(ngx_http_request_t* r) noexcept;

// The decision of a request, kept on the main request (survives internal
// redirects; see limit_handler.cpp). Trivially destructible.
enum class LimitStatus : std::uint8_t {
    Passed,
    Rejected,
    DryRunRejected,
    FallbackPassed,    // Redis failed; the local fallback bucket admitted it
    FallbackRejected,  // Redis failed; the local fallback bucket rejected it
    FallbackAllowed,   // Redis failed; on_backend_error=allow let it through
    FallbackDenied,    // Redis failed; on_backend_error=deny refused it (503)
};

struct LimitEntry {
    const RuntimePlan* plan;
    BucketKind kind;
    std::uint64_t remaining;
    std::uint64_t reset_ns;  // until the bucket is full again (rounded up to seconds where sent)
};

struct LimitCtx {
    LimitStatus status;
    std::uint8_t n;
    limit::HeaderMode header_mode;
    limit::UpstreamMode upstream_mode;
    std::uint64_t remaining;    // the smallest over the buckets
    std::uint64_t retry_after;  // rejected: seconds
    LimitEntry* entries;        // n entries, allocated right after this struct
};
static_assert(std::is_trivially_destructible_v<LimitEntry> && std::is_trivially_destructible_v<LimitCtx>);

}  // namespace levqor::ngx
