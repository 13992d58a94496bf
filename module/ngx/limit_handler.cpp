// SPDX-License-Identifier: Apache-2.0
// Rate limiting at request time: the preaccess handler (all-or-nothing over
// the key and IP buckets of every levqor_limit that applies), the JSON
// rejection, the RateLimit header fields and the $levqor_limit_* variables.
// Fails open: an internal problem is logged and the request passes.
#include <algorithm>
#include <cstring>
#include <iterator>
#include <ctime>
#include <optional>

#include "limit.h"
#include "module.h"
#include "ngx_util.h"
#include "request_ctx.h"

namespace levqor::ngx {

namespace lim = levqor::limit;

namespace {

std::uint64_t monotonic_ns() noexcept {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<std::uint64_t>(ts.tv_nsec);
}

constexpr std::string_view status_name(LimitStatus s) {
    switch (s) {
        case LimitStatus::Rejected:
            return "REJECTED";
        case LimitStatus::DryRunRejected:
            return "DRY_RUN_REJECTED";
        case LimitStatus::FallbackPassed:
            return "FALLBACK_PASSED";
        case LimitStatus::FallbackRejected:
            return "FALLBACK_REJECTED";
        case LimitStatus::FallbackAllowed:
            return "FALLBACK_ALLOWED";
        case LimitStatus::FallbackDenied:
            return "FALLBACK_DENIED";
        case LimitStatus::Passed:
            break;
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

const RuntimePlan& plan_for(ngx_http_request_t* r, const LimitRule& rule, std::size_t& index) {
    if (rule.plan_ptr != nullptr) {
        index = static_cast<std::size_t>(rule.static_plan);
        return *rule.plan_ptr;
    }
    const LimitMain& lm = main_conf<MainConf>(r)->limit;
    ngx_str_t name{0, nullptr};
    rule.plan.eval(r, name);
    const ngx_int_t found = lm.find_plan(name.data, name.len);
    if (found >= 0) {
        index = static_cast<std::size_t>(found);
        return lm.plans[index];
    }
    if (first_sighting(*rule.zone, name)) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "levqor_limit: unknown plan \"%V\" in zone \"%s\", using \"free\" (logged once per name)", &name,
                      rule.zone->name.c_str());
    }
    index = 0;  // "free" is always first
    return lm.plans[0];
}

// A JSON answer with Retry-After, sent by the module itself.
ngx_int_t send_json(ngx_http_request_t* r, ngx_uint_t status, std::uint64_t retry_after, std::string_view error) {
    if (ngx_http_discard_request_body(r) != NGX_OK) return NGX_HTTP_INTERNAL_SERVER_ERROR;
    auto* body = static_cast<u_char*>(ngx_pnalloc(r->pool, lim::kRejectionBodyMax + error.size()));
    auto* retry = static_cast<u_char*>(ngx_pnalloc(r->pool, lim::kMaxU64Digits));
    ngx_table_elt_t* h = static_cast<ngx_table_elt_t*>(ngx_list_push(&r->headers_out.headers));
    if (body == nullptr || retry == nullptr || h == nullptr) return NGX_HTTP_INTERNAL_SERVER_ERROR;
    h->hash = 1;
    ngx_str_set(&h->key, "Retry-After");
    h->value.data = retry;
    h->value.len = static_cast<std::size_t>(
        reinterpret_cast<u_char*>(lim::write_u64(reinterpret_cast<char*>(retry), retry_after)) - retry);
    h->lowcase_key = nullptr;
    const std::size_t len = lim::write_error_body(reinterpret_cast<char*>(body), error, retry_after);
    return send_body(r, status, ngx_string("application/json"), body, len);
}

// The buckets of one request, gathered from its levqor_limit rules. No
// default member initializers: nothing here is zeroed for nothing.
struct Collected {
    lim::BucketRequest reqs[lim::kMaxBuckets];
    struct Meta {
        const LimitRule* rule;
        const RuntimePlan* plan;
        std::size_t plan_index;
        BucketKind kind;
        ngx_str_t value;  // the key or address (Redis names buckets by its hash)
    } meta[lim::kMaxBuckets];
    u_char addresses[lim::kMaxBuckets][lim::kAddressBytes];  // IPv6 prefixes, normalized addresses
    std::size_t n;
};

constexpr std::string_view kind_name(BucketKind kind) {
    return kind == kKey ? "key" : kind == kIp ? "ip" : "anonymous";
}

// The name of a rule's IP bucket: the ip= value, or the connection's own
// address when that is empty (a missing X-Forwarded-For never means
// "unlimited"). Addresses, binary or text, are cut to the rule's IPv6 prefix
// (IPv4: whole); a value that is not an address names the bucket as is.
// IPv4 from the connection, the common case, is used in place.
ngx_str_t ip_bucket_name(ngx_http_request_t* r, const LimitRule& rule, u_char* room) {
    ngx_str_t v;
    if (rule.ip.kind() != ValueSource::Kind::RemoteAddr && rule.ip.eval(r, v) && v.len > 0) {
        const std::size_t n = lim::address_bucket_text(sv(v), rule.ip_prefix6, room);
        return n == 0 ? v : ngx_str_t{n, room};
    }
    ValueSource::connection_address(r, v);
    if (v.len != 16) return v;  // IPv4 (whole), or "unix:"
    return ngx_str_t{lim::address_bucket(v.data, v.len, rule.ip_prefix6, room), room};
}

// Inlined: called for each kind, and its call would cost a fifth of its body.
[[gnu::always_inline]] inline void add_bucket(Collected& c, const LimitRule& rule, const RuntimePlan& plan,
                                              std::size_t plan_index, BucketKind kind, const ngx_str_t& value) {
    const std::size_t i = c.n++;
    std::uint64_t tag = rule.zone->table.tag(kind, value.data, value.len) ^ plan.tag_salt;
    if (tag == 0) tag = 1;  // 0 marks an empty slot
    c.reqs[i] = lim::BucketRequest{&rule.zone->table, tag, plan.limits[kind], rule.cost, rule.dry_run};
    c.meta[i] = Collected::Meta{&rule, &plan, plan_index, kind, value};
}

// The decisions counter of each status, by LimitStatus (a lookup, not a switch).
constexpr std::size_t PlanCells::*kStatusCell[] = {
    &PlanCells::passed,          &PlanCells::rejected,          &PlanCells::dry_run_rejected,
    &PlanCells::fallback_passed, &PlanCells::fallback_rejected, &PlanCells::fallback_allowed,
    &PlanCells::fallback_denied,
};
static_assert(std::size(kStatusCell) == static_cast<std::size_t>(LimitStatus::FallbackDenied) + 1);

std::size_t cell_for(const PlanCells& cells, LimitStatus status) {
    return cells.*kStatusCell[static_cast<std::size_t>(status)];
}

void log_over_limit(ngx_http_request_t* r, const LimitLoc& loc, const Collected& c, const gcra::Decision* d, bool dry) {
    // The key itself is never logged: API keys are credentials.
    for (std::size_t i = 0; i < c.n; ++i) {
        if (d[i].allowed) continue;
        ngx_log_error(loc.log_level, r->connection->log, 0,
                      "levqor_limit: %s%s limit of plan \"%s\" exceeded in zone \"%s\", retry after %uLs",
                      dry ? "dry run, " : "", kind_name(c.meta[i].kind).data(), c.meta[i].plan->plan.name.c_str(),
                      c.meta[i].rule->zone->name.c_str(), gcra::ceil_seconds(d[i].retry_after_ns));
    }
}

// Stores the decision (the request's context, if it has none yet, this
// decision and its entries: one allocation) and counts it in the zones' metrics.
LimitCtx* make_ctx(ngx_http_request_t* r, RequestCtx* rctx, const LimitLoc& loc, const Collected& c,
                   const gcra::Decision* d, LimitStatus status) {
    const std::size_t size = sizeof(LimitCtx) + c.n * sizeof(LimitEntry);
    LimitCtx* ctx;
    if (rctx == nullptr) {
        rctx = request_ctx_create(r, size);
        ctx = rctx != nullptr ? reinterpret_cast<LimitCtx*>(rctx + 1) : nullptr;
    } else {
        ctx = static_cast<LimitCtx*>(ngx_palloc(r->pool, size));
    }
    if (ctx == nullptr) return nullptr;
    ctx->status = status;
    ctx->n = d != nullptr ? static_cast<std::uint8_t>(c.n) : 0;  // no decisions: no RateLimit fields
    ctx->header_mode = static_cast<lim::HeaderMode>(loc.header_mode);
    ctx->upstream_mode = static_cast<lim::UpstreamMode>(loc.upstream_mode);
    ctx->remaining = UINT64_MAX;
    ctx->retry_after = 0;
    ctx->entries = reinterpret_cast<LimitEntry*>(ctx + 1);
    for (std::size_t i = 0; i < c.n; ++i) {
        const Collected::Meta& m = c.meta[i];
        const PlanCells& cells = m.rule->zone->cells[m.plan_index];
        // One decision per rule (its key and ip buckets are adjacent).
        if (i == 0 || m.rule != c.meta[i - 1].rule) metric_add(cell_for(cells, status));
        if (d == nullptr) continue;
        // The anonymous bucket is charged at the key rate: its hits count as key hits.
        if (!d[i].allowed) metric_add(m.kind == kIp ? cells.hit_ip : cells.hit_key);
        const bool counts = d[i].allowed || c.reqs[i].observe_only;
        LimitEntry& e = ctx->entries[i];
        e = LimitEntry{m.plan, m.kind, counts ? d[i].remaining : 0, d[i].reset_after_ns};
        if (e.remaining < ctx->remaining) ctx->remaining = e.remaining;
        if (!counts) {
            const std::uint64_t wait = gcra::ceil_seconds(d[i].retry_after_ns);
            if (wait > ctx->retry_after) ctx->retry_after = wait;
        }
    }
    rctx->limit = ctx;
    return ctx;
}

LimitStatus local_status(lim::Outcome o, bool fallback) {
    if (!o.enforced_ok) return fallback ? LimitStatus::FallbackRejected : LimitStatus::Rejected;
    if (!o.observed_ok) return LimitStatus::DryRunRejected;
    return fallback ? LimitStatus::FallbackPassed : LimitStatus::Passed;
}

// Redis did not decide: on_backend_error says what happens. `local` decides
// on this node's shared-memory buckets with 1/nodes of each plan.
LimitStatus fallback(Collected& c, const lim::RedisOptions& rs, gcra::Decision* d, bool& have_decisions) {
    have_decisions = false;
    if (rs.on_error == lim::RedisOptions::OnError::Allow) return LimitStatus::FallbackAllowed;
    if (rs.on_error == lim::RedisOptions::OnError::Deny) return LimitStatus::FallbackDenied;
    for (std::size_t i = 0; i < c.n; ++i) {
        gcra::Limit& l = c.reqs[i].limit;
        l.interval_ns *= rs.nodes;
        l.burst = l.burst / rs.nodes > 0 ? l.burst / rs.nodes : 1;
    }
    have_decisions = true;
    return local_status(lim::BucketTable::decide(c.reqs, c.n, monotonic_ns(), d, static_cast<std::int32_t>(ngx_pid)),
                        true);
}

// Adds the decision to this iteration's Redis batch. NGX_AGAIN: the request
// waits (the batch's deadline runs); NGX_DECLINED: Redis cannot be asked now.
ngx_int_t ask_redis(ngx_http_request_t* r, RequestCtx*& rctx, const Collected& c, LimitZone& zone) {
    RedisConn* conn = zone.conn.get();
    if (conn == nullptr || !conn->ready() || !conn->breaker.allow(ngx_current_msec)) {
        if (conn != nullptr) metric_add(conn->cells.unavailable);
        return NGX_DECLINED;
    }
    if (rctx == nullptr) rctx = request_ctx_create(r);
    RedisWait* w = rctx != nullptr ? redis_wait_create(r) : nullptr;
    if (w == nullptr) {
        conn->breaker.failure(ngx_current_msec);  // (releases a probe allow() granted: it never reached Redis)
        return NGX_DECLINED;
    }
    redis::BucketName names[lim::kMaxBuckets];
    for (std::size_t i = 0; i < c.n; ++i) {
        const Collected::Meta& m = c.meta[i];
        names[i] = redis::BucketName{kind_name(m.kind).front(), m.plan->plan.name, sv(m.value)};
    }
    if (!conn->submit(w, names, c.reqs, c.n)) {
        metric_add(conn->cells.unavailable);
        conn->breaker.failure(ngx_current_msec);  // (releases a probe allow() granted: it never reached Redis)
        w->state = RedisWait::State::Failed;
        return NGX_DECLINED;
    }
    rctx->redis_wait = w;
    // Until the reply or the deadline: a client that goes away meanwhile is
    // noticed (499, as limit_req's delay does) and its slot cleared.
    r->read_event_handler = ngx_http_test_reading;
    r->write_event_handler = ngx_http_request_empty_handler;
    // Its FIN may have come with the request itself (one edge, already
    // consumed): look now, in this iteration's posted events.
    if (r->connection->read->pending_eof) {
        ngx_post_event(r->connection->read, &ngx_posted_events);
    }
    return NGX_AGAIN;
}

ngx_int_t decide(ngx_http_request_t* r, const LimitLoc& loc, bool shadow) {
    if (r != r->main) return NGX_DECLINED;  // limits apply to client requests, not subrequests
    RequestCtx* rctx = request_ctx_find(r);
    if (rctx != nullptr && rctx->limit != nullptr) return NGX_DECLINED;  // decided before an internal redirect
    RedisWait* wait = rctx != nullptr ? rctx->redis_wait : nullptr;
    if (wait != nullptr && wait->state == RedisWait::State::Waiting) return NGX_AGAIN;

    Collected c;
    c.n = 0;
    for (const LimitRule& rule : *loc.effective) {
        if (rule.zone->data == nullptr) continue;
        std::size_t plan_index;
        const RuntimePlan& plan = plan_for(r, rule, plan_index);
        ngx_str_t key;
        const bool have_key = rule.key.eval(r, key) && key.len > 0;
        if (have_key) add_bucket(c, rule, plan, plan_index, kKey, key);
        if (!rule.ip.empty()) {
            add_bucket(c, rule, plan, plan_index, kIp, ip_bucket_name(r, rule, c.addresses[c.n]));
        } else if (!have_key) {
            add_bucket(c, rule, plan, plan_index, kAnonymous, ngx_str_t{0, c.addresses[c.n]});
        }
    }
    if (c.n == 0) return NGX_DECLINED;
    if (shadow) {  // RATELIMIT_ENABLED=shadow: every limit is a dry run
        for (std::size_t i = 0; i < c.n; ++i) c.reqs[i].observe_only = true;
    }

    gcra::Decision d[lim::kMaxBuckets];
    bool have_decisions = true;
    LimitStatus status;
    LimitZone& zone = *c.meta[0].rule->zone;  // a location's limits share a redis zone (checked at merge)
    if (zone.redis == nullptr) {
        status = local_status(
            lim::BucketTable::decide(c.reqs, c.n, monotonic_ns(), d, static_cast<std::int32_t>(ngx_pid)), false);
    } else if (wait == nullptr) {
        if (ask_redis(r, rctx, c, zone) == NGX_AGAIN) return NGX_AGAIN;
        status = fallback(c, *zone.redis, d, have_decisions);
    } else if (wait->state == RedisWait::State::Answered && wait->result.n == c.n) {
        redis::finish(wait->result, c.reqs, d);
        status = local_status(lim::Outcome{wait->result.enforced_ok, wait->result.observed_ok}, false);
    } else {
        // (the batch counted one breaker failure for the timeout)
        if (wait->failure != nullptr && std::strcmp(wait->failure, "timeout") == 0 && zone.conn != nullptr) {
            metric_add(zone.conn->cells.timeout);
        }
        status = fallback(c, *zone.redis, d, have_decisions);
    }

    const LimitCtx* ctx = make_ctx(r, rctx, loc, c, have_decisions ? d : nullptr, status);
    if (ctx == nullptr || status == LimitStatus::Passed) return NGX_DECLINED;  // the common case first

    switch (status) {
        case LimitStatus::Passed:
        case LimitStatus::FallbackPassed:
        case LimitStatus::FallbackAllowed:
            return NGX_DECLINED;
        case LimitStatus::DryRunRejected:
            log_over_limit(r, loc, c, d, true);
            return NGX_DECLINED;
        case LimitStatus::FallbackDenied:
            ngx_http_finalize_request(r, send_json(r, NGX_HTTP_SERVICE_UNAVAILABLE, 1, "rate_limiter_unavailable"));
            return NGX_DONE;
        case LimitStatus::Rejected:
        case LimitStatus::FallbackRejected:
            break;
    }
    log_over_limit(r, loc, c, d, false);
    ngx_http_finalize_request(r, send_json(r, loc.status, ctx->retry_after, "rate_limited"));
    return NGX_DONE;
}

// ---- response header fields ------------------------------------------------------
//
// Format: draft-ietf-httpapi-ratelimit-headers-09 (structured-field form, see
// levqor/limit_headers.h). An upstream's own rate-limit fields (a second
// levqor tier, or an application) are merged, replaced or passed as
// levqor_limit_headers_upstream says (docs/directives.md).

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

// The rate-limit fields an upstream sent, as found in the response.
enum UpstreamField : std::uint8_t { kPolicyField, kStateField, kLimitField, kRemainingField, kResetField, kFieldKinds };
struct FoundLines {
    static constexpr std::size_t kMax = 8;  // lines kept per field; a field with more is dropped whole
    ngx_table_elt_t* lines[kMax];
    std::size_t n;
    std::size_t total;
};
struct UpstreamFields {
    FoundLines f[kFieldKinds];
    bool any;
};

// The upstream's RateLimit-Policy and RateLimit, parsed for a merge.
struct DraftUpstream {
    lim::PolicyList lists[2];  // by kPolicyField, kStateField
    bool valid[2];
};

void hide(FoundLines& found) {
    for (std::size_t i = 0; i < found.n; ++i) found.lines[i]->hash = 0;  // hash 0: deleted, nginx skips it
}

// One scan of the response's header list for the fields of the formats this
// tier sends. Lines past FoundLines::kMax are deleted at once.
void find_upstream_fields(ngx_http_request_t* r, bool draft, bool legacy, UpstreamFields& up) {
    static const ngx_str_t names[kFieldKinds] = {ngx_string("RateLimit-Policy"), ngx_string("RateLimit"),
                                                 ngx_string("X-RateLimit-Limit"), ngx_string("X-RateLimit-Remaining"),
                                                 ngx_string("X-RateLimit-Reset")};
    const std::size_t first = draft ? kPolicyField : kLimitField;
    const std::size_t last = legacy ? kFieldKinds : kLimitField;
    up.any = false;
    for (std::size_t k = 0; k < kFieldKinds; ++k) up.f[k].n = up.f[k].total = 0;
    for (ngx_list_part_t* part = &r->headers_out.headers.part; part != nullptr; part = part->next) {
        auto* elts = static_cast<ngx_table_elt_t*>(part->elts);
        for (ngx_uint_t i = 0; i < part->nelts; ++i) {
            ngx_table_elt_t& h = elts[i];
            // Names of 9, 16, 17 and 21 characters only.
            if (h.hash == 0 || (h.key.len != 9 && h.key.len != 16 && h.key.len != 17 && h.key.len != 21)) continue;
            for (std::size_t k = first; k < last; ++k) {
                if (h.key.len != names[k].len || ngx_strncasecmp(h.key.data, names[k].data, h.key.len) != 0) continue;
                FoundLines& found = up.f[k];
                if (found.n < FoundLines::kMax) {
                    found.lines[found.n++] = &h;
                } else {
                    h.hash = 0;
                }
                ++found.total;
                up.any = true;
                break;
            }
        }
    }
}

// A field of RFC 8941 Lists: valid when every line parses (and none was cut).
bool parse_field(const FoundLines& found, lim::PolicyList& list) {
    list.n = list.skipped = 0;
    if (found.total > found.n) return false;
    for (std::size_t i = 0; i < found.n; ++i) {
        if (!lim::parse_policy_list(sv(found.lines[i]->value), list)) return false;
    }
    return true;
}

// RateLimit-Policy and RateLimit: this tier's items, then (merge) the
// upstream's under names kept distinct by MergedNames.
void add_draft_fields(ngx_http_request_t* r, const LimitCtx& ctx, const DraftUpstream* theirs) {
    std::size_t policy_len = 0, state_len = 0;
    for (std::size_t i = 0; i < ctx.n; ++i) {
        const LimitEntry& e = ctx.entries[i];
        policy_len += e.plan->policy_items[e.kind].size() + 2;
        state_len += lim::state_item_max(e.plan->state_prefixes[e.kind]) + 2;
    }
    if (theirs != nullptr) {
        for (const UpstreamField k : {kPolicyField, kStateField}) {
            if (!theirs->valid[k]) continue;
            std::size_t& len = k == kPolicyField ? policy_len : state_len;
            const lim::PolicyList& list = theirs->lists[k];
            for (std::size_t i = 0; i < list.n; ++i) len += lim::merged_item_max(list.items[i]) + 2;
        }
    }
    auto* policy = static_cast<u_char*>(ngx_pnalloc(r->pool, policy_len + state_len));
    if (policy == nullptr) return;
    std::string_view ours[lim::kMaxBuckets];
    std::optional<lim::MergedNames> names;
    if (theirs != nullptr) {
        for (std::size_t i = 0; i < ctx.n; ++i) ours[i] = ctx.entries[i].plan->policy_names[ctx.entries[i].kind];
        names.emplace(ours, ctx.n);
    }
    auto append_theirs = [&](char* p, UpstreamField k) {
        if (theirs == nullptr || !theirs->valid[k]) return p;
        const lim::PolicyList& list = theirs->lists[k];
        for (std::size_t i = 0; i < list.n; ++i) {
            const int suffixes = names->claim(list.items[i].name,
                                              k == kPolicyField ? lim::MergedNames::kPolicy : lim::MergedNames::kState);
            if (suffixes < 0) continue;
            p = static_cast<char*>(std::memcpy(p, ", ", 2)) + 2;
            p = lim::write_merged_item(p, list.items[i], suffixes);
        }
        return p;
    };
    auto* p = reinterpret_cast<char*>(policy);
    for (std::size_t i = 0; i < ctx.n; ++i) {
        const LimitEntry& e = ctx.entries[i];
        if (i > 0) p = static_cast<char*>(std::memcpy(p, ", ", 2)) + 2;
        const std::string_view item = e.plan->policy_items[e.kind];
        p = static_cast<char*>(std::memcpy(p, item.data(), item.size())) + item.size();
    }
    p = append_theirs(p, kPolicyField);
    auto* state = reinterpret_cast<u_char*>(p);
    for (std::size_t i = 0; i < ctx.n; ++i) {
        const LimitEntry& e = ctx.entries[i];
        if (i > 0) p = static_cast<char*>(std::memcpy(p, ", ", 2)) + 2;
        p = lim::write_state_item(p, e.plan->state_prefixes[e.kind], e.remaining, gcra::ceil_seconds(e.reset_ns));
    }
    p = append_theirs(p, kStateField);
    push_header(r, ngx_string("RateLimit-Policy"), policy, static_cast<std::size_t>(state - policy));
    push_header(r, ngx_string("RateLimit"), state, static_cast<std::size_t>(reinterpret_cast<u_char*>(p) - state));
}

// The most restrictive bucket speaks for the request in X-RateLimit-*.
const LimitEntry& tightest(const LimitCtx& ctx) {
    const LimitEntry* t = &ctx.entries[0];
    for (std::size_t i = 1; i < ctx.n; ++i) {
        if (ctx.entries[i].remaining < t->remaining) t = &ctx.entries[i];
    }
    return *t;
}

void add_legacy_fields(ngx_http_request_t* r, const LimitCtx& ctx) {
    const LimitEntry& t = tightest(ctx);
    auto* buf = static_cast<u_char*>(ngx_pnalloc(r->pool, 3 * lim::kMaxU64Digits));
    if (buf == nullptr) return;
    auto* p = reinterpret_cast<char*>(buf);
    const std::uint64_t values[3] = {t.plan->limits[t.kind].burst, t.remaining, gcra::ceil_seconds(t.reset_ns)};
    static ngx_str_t names[3] = {ngx_string("X-RateLimit-Limit"), ngx_string("X-RateLimit-Remaining"),
                                 ngx_string("X-RateLimit-Reset")};
    for (int i = 0; i < 3; ++i) {
        char* start = p;
        p = lim::write_u64(p, values[i]);
        push_header(r, names[i], reinterpret_cast<u_char*>(start), static_cast<std::size_t>(p - start));
    }
}

std::size_t lines_of(const UpstreamFields& up, std::size_t first, std::size_t last) {
    std::size_t n = 0;
    for (std::size_t k = first; k < last; ++k) n += up.f[k].total;
    return n;
}

void draft_with_upstream(ngx_http_request_t* r, const LimitCtx& ctx, UpstreamFields& up, const LimitMain& lm) {
    hide(up.f[kPolicyField]);
    hide(up.f[kStateField]);
    if (ctx.upstream_mode == lim::UpstreamMode::Replace) {
        metric_add(lm.upstream_replaced, lines_of(up, kPolicyField, kLimitField));
        add_draft_fields(r, ctx, nullptr);
        return;
    }
    DraftUpstream theirs;
    for (const UpstreamField k : {kPolicyField, kStateField}) {
        theirs.valid[k] = parse_field(up.f[k], theirs.lists[k]);
        metric_add(theirs.valid[k] ? lm.upstream_merged : lm.upstream_malformed, up.f[k].total);
    }
    add_draft_fields(r, ctx, &theirs);
}

// Merge keeps whichever complete trio has fewer requests left (this tier's on
// a tie); an incomplete or unparsable upstream trio is dropped.
void legacy_with_upstream(ngx_http_request_t* r, const LimitCtx& ctx, UpstreamFields& up, const LimitMain& lm) {
    const std::size_t lines = lines_of(up, kLimitField, kFieldKinds);
    if (ctx.upstream_mode == lim::UpstreamMode::Merge) {
        bool complete = true;
        std::optional<std::uint64_t> values[kFieldKinds];
        for (std::size_t k = kLimitField; k < kFieldKinds; ++k) {
            if (up.f[k].total == 1) values[k] = lim::parse_legacy_number(sv(up.f[k].lines[0]->value));
            complete = complete && values[k].has_value();
        }
        metric_add(complete ? lm.upstream_merged : lm.upstream_malformed, lines);
        if (complete && *values[kRemainingField] < tightest(ctx).remaining) return;  // theirs stay, ours are not sent
    } else {
        metric_add(lm.upstream_replaced, lines);
    }
    for (std::size_t k = kLimitField; k < kFieldKinds; ++k) hide(up.f[k]);
    add_legacy_fields(r, ctx);
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
    set_variable(v, status_name(ctx->status));
    return NGX_OK;
}

ngx_int_t remaining_variable(ngx_http_request_t* r, ngx_http_variable_value_t* v, uintptr_t) noexcept {
    const LimitCtx* ctx = current_ctx(r);
    auto* p = ctx != nullptr ? static_cast<u_char*>(ngx_pnalloc(r->pool, lim::kMaxU64Digits)) : nullptr;
    if (p == nullptr) {
        v->not_found = 1;
        return NGX_OK;
    }
    set_variable(v, p,
                 static_cast<std::size_t>(
                     reinterpret_cast<u_char*>(lim::write_u64(reinterpret_cast<char*>(p), ctx->remaining)) - p));
    return NGX_OK;
}

// The header filter's part when some location sends RateLimit fields.
[[gnu::noinline]] void add_headers(ngx_http_request_t* r) noexcept {
    const LimitCtx* ctx = current_ctx(r);
    if (ctx == nullptr || ctx->n == 0) return;
    const lim::HeaderMode mode = ctx->header_mode;
    const bool draft = mode == lim::HeaderMode::Draft || mode == lim::HeaderMode::Both;
    const bool legacy = mode == lim::HeaderMode::Legacy || mode == lim::HeaderMode::Both;
    if (!draft && !legacy) return;
    // The common case (pass, or a response without rate-limit fields of the
    // formats sent here): at most one scan of the header list, no allocation.
    UpstreamFields up;
    up.any = false;
    const ngx_list_t& headers = r->headers_out.headers;
    if (ctx->upstream_mode != lim::UpstreamMode::Pass && (headers.part.nelts > 0 || headers.part.next != nullptr)) {
        find_upstream_fields(r, draft, legacy, up);
    }
    const LimitMain& lm = main_conf<MainConf>(r)->limit;
    if (draft) {
        if (up.any && lines_of(up, kPolicyField, kLimitField) > 0) {
            draft_with_upstream(r, *ctx, up, lm);
        } else {
            add_draft_fields(r, *ctx, nullptr);
        }
    }
    if (legacy) {
        if (up.any && lines_of(up, kLimitField, kFieldKinds) > 0) {
            legacy_with_upstream(r, *ctx, up, lm);
        } else {
            add_legacy_fields(r, *ctx);
        }
    }
}

}  // namespace

ngx_int_t limit_handler(ngx_http_request_t* r) noexcept try {
    const LimitLoc& loc = loc_conf<LocConf>(r)->limit;
    if (loc.effective == nullptr || loc.effective->empty()) return NGX_DECLINED;
    const flags::State state = flag(flags::Flag::ratelimit);
    if (state == flags::State::off) return NGX_DECLINED;
    return decide(r, loc, state == flags::State::shadow);
} catch (...) {
    log_exception(r->connection->log, NGX_LOG_ERR, "levqor_limit: internal error, request passed");
    return NGX_DECLINED;
}

void limit_add_headers(ngx_http_request_t* r) noexcept {
    if (r == r->main && main_conf<MainConf>(r)->limit.any_headers) add_headers(r);
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
