// Rate limiting at request time: the preaccess handler (all-or-nothing over
// the key and IP buckets of every levqor_limit that applies), the JSON
// rejection, the RateLimit header fields and the $levqor_limit_* variables.
// Fails open: an internal problem is logged and the request passes.
#include <cstring>
#include <ctime>

#include "limit.h"
#include "module.h"
#include "ngx_util.h"
#include "request_ctx.h"

namespace levqor::ngx {

namespace rl = levqor::ratelimit;

namespace {

std::uint64_t monotonic_ns() noexcept {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<std::uint64_t>(ts.tv_nsec);
}

constexpr std::string_view status_name(LimitStatus s) {
    switch (s) {
    case LimitStatus::Rejected: return "REJECTED";
    case LimitStatus::DryRunRejected: return "DRY_RUN_REJECTED";
    case LimitStatus::Passed: break;
    }
    return "PASSED";
}

// True the first time any worker sees this unknown plan name in this zone.
bool first_sighting(LimitZone& zone, const ngx_str_t& name) noexcept {
    if (zone.data == nullptr) return false;
    std::uint64_t h = zone.table.tag(0xff, name.data, name.len);
    for (auto& slot : zone.data->unknown_plans) {
        std::uint64_t cur = slot.load(std::memory_order_relaxed);
        if (cur == h) return false;
        if (cur == 0 && slot.compare_exchange_strong(cur, h, std::memory_order_relaxed)) return true;
        if (cur == h) return false;
    }
    return false;  // table full: stop logging new names
}

const RuntimePlan& plan_for(ngx_http_request_t* r, const LimitRule& rule, const LimitMain& lm, std::size_t& index) {
    if (rule.static_plan >= 0) {
        index = static_cast<std::size_t>(rule.static_plan);
        return lm.plans[index];
    }
    ngx_str_t name{0, nullptr};
    rule.plan.eval(r, name);
    const ngx_int_t found = lm.find_plan(name.data, name.len);
    if (found >= 0) {
        index = static_cast<std::size_t>(found);
        return lm.plans[index];
    }
    if (first_sighting(*rule.zone, name)) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "levqor_limit: unknown plan \"%V\" in zone \"%s\", using \"free\" (logged once per name)",
                      &name, rule.zone->name.c_str());
    }
    index = 0;  // "free" is always first
    return lm.plans[0];
}

ngx_int_t send_rejection(ngx_http_request_t* r, const LimitLoc& loc, const LimitCtx& ctx) {
    if (ngx_http_discard_request_body(r) != NGX_OK) return NGX_HTTP_INTERNAL_SERVER_ERROR;
    auto* body = static_cast<u_char*>(ngx_pnalloc(r->pool, rl::kRejectionBodyMax));
    auto* retry = static_cast<u_char*>(ngx_pnalloc(r->pool, rl::kMaxU64Digits));
    ngx_table_elt_t* h = static_cast<ngx_table_elt_t*>(ngx_list_push(&r->headers_out.headers));
    if (body == nullptr || retry == nullptr || h == nullptr) return NGX_HTTP_INTERNAL_SERVER_ERROR;
    h->hash = 1;
    ngx_str_set(&h->key, "Retry-After");
    h->value.data = retry;
    h->value.len = static_cast<std::size_t>(
        reinterpret_cast<u_char*>(rl::write_u64(reinterpret_cast<char*>(retry), ctx.retry_after)) - retry);
    h->lowcase_key = nullptr;
    const std::size_t len = rl::write_rejection_body(reinterpret_cast<char*>(body), ctx.retry_after);

    r->headers_out.status = loc.status;
    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = nullptr;
    r->headers_out.content_length_n = static_cast<off_t>(len);
    ngx_int_t rc = ngx_http_send_header(r);
    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) return rc;
    ngx_buf_t* b = static_cast<ngx_buf_t*>(ngx_calloc_buf(r->pool));
    if (b == nullptr) return NGX_ERROR;
    b->pos = body;
    b->last = body + len;
    b->memory = 1;
    b->last_buf = 1;
    b->last_in_chain = 1;
    ngx_chain_t out{b, nullptr};
    return ngx_http_output_filter(r, &out);
}

// The buckets of one request, gathered from its levqor_limit rules. No
// default member initializers: nothing here is zeroed for nothing.
struct Collected {
    rl::BucketRequest reqs[rl::kMaxBuckets];
    struct Meta {
        const LimitRule* rule;
        const RuntimePlan* plan;
        std::size_t plan_index;
        BucketKind kind;
    } meta[rl::kMaxBuckets];
    std::size_t n;
};

void add_bucket(Collected& c, const LimitRule& rule, const RuntimePlan& plan, std::size_t plan_index,
                BucketKind kind, const ngx_str_t& value) {
    const std::size_t i = c.n++;
    std::uint64_t tag = rule.zone->table.tag(kind, value.data, value.len) ^ plan.tag_salt;
    if (tag == 0) tag = 1;  // 0 marks an empty slot
    c.reqs[i] = rl::BucketRequest{&rule.zone->table, tag, plan.limits[kind], rule.cost, rule.dry_run};
    c.meta[i] = Collected::Meta{&rule, &plan, plan_index, kind};
}

void count(const Collected& c, LimitStatus status, const gcra::Decision* d) {
    // One decision per rule (its key and ip buckets are adjacent).
    for (std::size_t i = 0; i < c.n; ++i) {
        const PlanCells& cells = c.meta[i].rule->zone->cells[c.meta[i].plan_index];
        if (i == 0 || c.meta[i].rule != c.meta[i - 1].rule) {
            metric_add(status == LimitStatus::Passed     ? cells.passed
                       : status == LimitStatus::Rejected ? cells.rejected
                                                         : cells.dry_run_rejected);
        }
        if (!d[i].allowed) metric_add(c.meta[i].kind == kKey ? cells.hit_key : cells.hit_ip);
    }
}

void log_over_limit(ngx_http_request_t* r, const LimitLoc& loc, const Collected& c, const gcra::Decision* d,
                    bool dry) {
    // The key itself is never logged: API keys are credentials.
    for (std::size_t i = 0; i < c.n; ++i) {
        if (d[i].allowed) continue;
        ngx_log_error(loc.log_level, r->connection->log, 0,
                      "levqor_limit: %s%s limit of plan \"%s\" exceeded in zone \"%s\", retry after %uLs",
                      dry ? "dry run, " : "", c.meta[i].kind == kKey ? "key" : "ip",
                      c.meta[i].plan->plan.name.c_str(), c.meta[i].rule->zone->name.c_str(),
                      gcra::ceil_seconds(d[i].retry_after_ns));
    }
}

LimitCtx* make_ctx(ngx_http_request_t* r, RequestCtx* rctx, const LimitLoc& loc, const Collected& c,
                   const gcra::Decision* d, rl::Outcome outcome) {
    // Usually the first thing the module stores for the request: one
    // allocation for the request context, this decision and its entries.
    const std::size_t size = sizeof(LimitCtx) + c.n * sizeof(LimitEntry);
    LimitCtx* ctx;
    if (rctx == nullptr) {
        rctx = request_ctx_create(r, size);
        ctx = rctx != nullptr ? reinterpret_cast<LimitCtx*>(rctx + 1) : nullptr;
    } else {
        ctx = static_cast<LimitCtx*>(ngx_palloc(r->pool, size));
    }
    if (ctx == nullptr) return nullptr;
    ctx->status = !outcome.enforced_ok  ? LimitStatus::Rejected
                  : !outcome.observed_ok ? LimitStatus::DryRunRejected
                                         : LimitStatus::Passed;
    ctx->n = static_cast<std::uint8_t>(c.n);
    ctx->header_mode = static_cast<rl::HeaderMode>(loc.header_mode);
    ctx->remaining = UINT64_MAX;
    ctx->retry_after = 0;
    ctx->entries = reinterpret_cast<LimitEntry*>(ctx + 1);
    for (std::size_t i = 0; i < c.n; ++i) {
        const bool counts = d[i].allowed || c.reqs[i].observe_only;
        LimitEntry& e = ctx->entries[i];
        e = LimitEntry{c.meta[i].plan, c.meta[i].kind, counts ? d[i].remaining : 0,
                       gcra::ceil_seconds(d[i].reset_after_ns)};
        if (e.remaining < ctx->remaining) ctx->remaining = e.remaining;
        if (!counts) {
            const std::uint64_t wait = gcra::ceil_seconds(d[i].retry_after_ns);
            if (wait > ctx->retry_after) ctx->retry_after = wait;
        }
    }
    rctx->limit = ctx;
    return ctx;
}

ngx_int_t decide(ngx_http_request_t* r, const LimitLoc& loc, bool shadow) {
    if (r != r->main) return NGX_DECLINED;  // limits apply to client requests, not subrequests
    RequestCtx* rctx = request_ctx_find(r);
    if (rctx != nullptr && rctx->limit != nullptr) return NGX_DECLINED;  // decided before an internal redirect

    const LimitMain& lm = main_conf<MainConf>(r)->limit;
    Collected c;
    c.n = 0;
    for (const LimitRule& rule : *loc.effective) {
        if (rule.zone->data == nullptr) continue;
        std::size_t plan_index;
        const RuntimePlan& plan = plan_for(r, rule, lm, plan_index);
        ngx_str_t value;
        if (rule.key.eval(r, value) && value.len > 0) add_bucket(c, rule, plan, plan_index, kKey, value);
        if (rule.ip.eval(r, value) && value.len > 0) add_bucket(c, rule, plan, plan_index, kIp, value);
    }
    if (c.n == 0) return NGX_DECLINED;
    if (shadow) {  // RATELIMIT_ENABLED=shadow: every limit is a dry run
        for (std::size_t i = 0; i < c.n; ++i) c.reqs[i].observe_only = true;
    }

    gcra::Decision d[rl::kMaxBuckets];
    const rl::Outcome outcome =
        rl::BucketTable::decide(c.reqs, c.n, monotonic_ns(), d, static_cast<std::int32_t>(ngx_pid));
    const LimitCtx* ctx = make_ctx(r, rctx, loc, c, d, outcome);
    if (ctx == nullptr) return NGX_DECLINED;
    count(c, ctx->status, d);

    if (ctx->status == LimitStatus::Passed) return NGX_DECLINED;
    log_over_limit(r, loc, c, d, ctx->status == LimitStatus::DryRunRejected);
    if (ctx->status == LimitStatus::DryRunRejected) return NGX_DECLINED;
    ngx_http_finalize_request(r, send_rejection(r, loc, *ctx));
    return NGX_DONE;
}

// ---- response header fields ------------------------------------------------------

bool push_header(ngx_http_request_t* r, ngx_str_t key, u_char* value, std::size_t len) {
    ngx_table_elt_t* h = static_cast<ngx_table_elt_t*>(ngx_list_push(&r->headers_out.headers));
    if (h == nullptr) return false;
    h->hash = 1;
    h->key = key;
    h->value.data = value;
    h->value.len = len;
    h->lowcase_key = nullptr;
    return true;
}

void add_draft_fields(ngx_http_request_t* r, const LimitCtx& ctx) {
    std::size_t policy_len = 0, state_len = 0;
    for (std::size_t i = 0; i < ctx.n; ++i) {
        const LimitEntry& e = ctx.entries[i];
        policy_len += e.plan->policy_items[e.kind].size() + 2;
        state_len += rl::state_item_max(e.plan->state_prefixes[e.kind]) + 2;
    }
    auto* policy = static_cast<u_char*>(ngx_pnalloc(r->pool, policy_len + state_len));
    if (policy == nullptr) return;
    auto* p = reinterpret_cast<char*>(policy);
    for (std::size_t i = 0; i < ctx.n; ++i) {
        const LimitEntry& e = ctx.entries[i];
        if (i > 0) p = static_cast<char*>(std::memcpy(p, ", ", 2)) + 2;
        const std::string& item = e.plan->policy_items[e.kind];
        p = static_cast<char*>(std::memcpy(p, item.data(), item.size())) + item.size();
    }
    auto* state = reinterpret_cast<u_char*>(p);
    for (std::size_t i = 0; i < ctx.n; ++i) {
        const LimitEntry& e = ctx.entries[i];
        if (i > 0) p = static_cast<char*>(std::memcpy(p, ", ", 2)) + 2;
        p = rl::write_state_item(p, e.plan->state_prefixes[e.kind], e.remaining, e.reset_s);
    }
    push_header(r, ngx_string("RateLimit-Policy"), policy, static_cast<std::size_t>(state - policy));
    push_header(r, ngx_string("RateLimit"), state, static_cast<std::size_t>(reinterpret_cast<u_char*>(p) - state));
}

void add_legacy_fields(ngx_http_request_t* r, const LimitCtx& ctx) {
    // The most restrictive bucket speaks for the request.
    const LimitEntry* tightest = &ctx.entries[0];
    for (std::size_t i = 1; i < ctx.n; ++i) {
        if (ctx.entries[i].remaining < tightest->remaining) tightest = &ctx.entries[i];
    }
    auto* buf = static_cast<u_char*>(ngx_pnalloc(r->pool, 3 * rl::kMaxU64Digits));
    if (buf == nullptr) return;
    auto* p = reinterpret_cast<char*>(buf);
    const std::uint64_t values[3] = {tightest->plan->limits[tightest->kind].burst, tightest->remaining,
                                     tightest->reset_s};
    static ngx_str_t names[3] = {ngx_string("X-RateLimit-Limit"), ngx_string("X-RateLimit-Remaining"),
                                 ngx_string("X-RateLimit-Reset")};
    for (int i = 0; i < 3; ++i) {
        char* start = p;
        p = rl::write_u64(p, values[i]);
        push_header(r, names[i], reinterpret_cast<u_char*>(start), static_cast<std::size_t>(p - start));
    }
}

// ---- variables --------------------------------------------------------------------

const LimitCtx* current_ctx(ngx_http_request_t* r) {
    const RequestCtx* rctx = request_ctx_find(r);
    return rctx != nullptr ? rctx->limit : nullptr;
}

ngx_int_t status_variable(ngx_http_request_t* r, ngx_http_variable_value_t* v, uintptr_t) noexcept {
    const LimitCtx* ctx = current_ctx(r);
    if (ctx == nullptr) {
        v->not_found = 1;
        return NGX_OK;
    }
    const std::string_view name = status_name(ctx->status);
    v->data = reinterpret_cast<u_char*>(const_cast<char*>(name.data()));
    v->len = name.size();
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    return NGX_OK;
}

ngx_int_t remaining_variable(ngx_http_request_t* r, ngx_http_variable_value_t* v, uintptr_t) noexcept {
    const LimitCtx* ctx = current_ctx(r);
    auto* p = ctx != nullptr ? static_cast<u_char*>(ngx_pnalloc(r->pool, rl::kMaxU64Digits)) : nullptr;
    if (p == nullptr) {
        v->not_found = 1;
        return NGX_OK;
    }
    v->data = p;
    v->len = static_cast<unsigned>(reinterpret_cast<u_char*>(rl::write_u64(reinterpret_cast<char*>(p), ctx->remaining)) - p);
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    return NGX_OK;
}

}  // namespace

ngx_int_t limit_handler(ngx_http_request_t* r) noexcept try {
    const LimitLoc& loc = loc_conf<LocConf>(r)->limit;
    if (loc.effective == nullptr || loc.effective->empty()) return NGX_DECLINED;
    const flags::State state = flag(flags::Flag::RateLimit);
    if (state == flags::State::Off) return NGX_DECLINED;
    return decide(r, loc, state == flags::State::Shadow);
} catch (...) {
    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0, "levqor_limit: internal error, request passed");
    return NGX_DECLINED;
}

void limit_add_headers(ngx_http_request_t* r) noexcept {
    if (r != r->main) return;
    const LimitCtx* ctx = current_ctx(r);
    if (ctx == nullptr || ctx->n == 0) return;
    const rl::HeaderMode mode = ctx->header_mode;
    if (mode == rl::HeaderMode::Draft || mode == rl::HeaderMode::Both) add_draft_fields(r, *ctx);
    if (mode == rl::HeaderMode::Legacy || mode == rl::HeaderMode::Both) add_legacy_fields(r, *ctx);
}

ngx_int_t limit_preconfiguration(ngx_conf_t* cf) noexcept {
    static ngx_str_t status = ngx_string("levqor_limit_status");
    static ngx_str_t remaining = ngx_string("levqor_limit_remaining");
    ngx_http_variable_t* v = ngx_http_add_variable(cf, &status, NGX_HTTP_VAR_NOCACHEABLE);
    if (v == nullptr) return NGX_ERROR;
    v->get_handler = status_variable;
    v = ngx_http_add_variable(cf, &remaining, NGX_HTTP_VAR_NOCACHEABLE);
    if (v == nullptr) return NGX_ERROR;
    v->get_handler = remaining_variable;
    return NGX_OK;
}

}  // namespace levqor::ngx
