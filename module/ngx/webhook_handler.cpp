// SPDX-License-Identifier: Apache-2.0
// Webhook verification at request time, in the access phase:
//
//   1. the scheme's headers are read and parsed, the timestamp checked: a
//      delivery that fails here is refused before its body is read;
//   2. the body is read with nginx's body reader (never blocking; chunked,
//      Expect: 100-continue and HTTP/2 as nginx handles them), the phase
//      handler returning NGX_DONE meanwhile, as ngx_http_mirror_module does;
//   3. the post handler hashes every buffer of r->request_body in place —
//      memory buffers directly, a temp file in chunks — so a body of
//      client_max_body_size verifies exactly like a small one and reaches
//      the upstream unchanged; then the phases resume and the handler answers
//      from the decision stored on the main request.
//
// Fails closed: an internal error refuses the delivery (500) unless the mode
// is log_only, which never refuses.
#include <cstring>
#include <type_traits>

#include "module.h"
#include "ngx_util.h"
#include "request_ctx.h"
#include "webhook.h"

namespace levqor::ngx {

namespace wh = levqor::webhook;

namespace {

static_assert(std::is_trivially_destructible_v<WebhookCtx>);

// Temp-file chunks are read into this buffer: one per worker process (the
// request path is single-threaded), so reading a spilled body allocates nothing.
constexpr std::size_t kFileChunk = 64 * 1024;
alignas(64) u_char file_chunk[kFileChunk];

// The longest id quoted in a log line.
constexpr std::size_t kMaxLoggedId = 64;

WebhookCtx* current_ctx(ngx_http_request_t* r) noexcept {
    RequestCtx* rctx = request_ctx_find(r);
    return rctx != nullptr ? rctx->webhook : nullptr;
}

// ---- headers --------------------------------------------------------------------

void collect(ngx_http_request_t* r, const HeaderKey* keys, wh::HeaderValues& out) {
    out = wh::HeaderValues{};
    for (ngx_list_part_t* part = &r->headers_in.headers.part; part != nullptr; part = part->next) {
        const auto* h = static_cast<const ngx_table_elt_t*>(part->elts);
        for (ngx_uint_t i = 0; i < part->nelts; ++i) {
            for (std::size_t f = 0; f < wh::kFields; ++f) {
                const HeaderKey& k = keys[f];
                if (k.lower.len == 0 || h[i].hash != k.hash || h[i].key.len != k.lower.len ||
                    std::memcmp(h[i].lowcase_key, k.lower.data, k.lower.len) != 0) {
                    continue;
                }
                if (out.count[f]++ == 0) out.value[f] = sv(h[i].value);
                if (out.count[f] > 2) out.count[f] = 2;
            }
        }
    }
}

// The scheme's headers; its alternate names when the signature header is
// absent under the primary ones (svix-* for Standard Webhooks).
bool collect_headers(ngx_http_request_t* r, const WebhookRule& rule, wh::HeaderValues& out) {
    collect(r, rule.keys[0], out);
    if (out.count[wh::kSignature] != 0 || rule.keys[1][wh::kSignature].lower.len == 0) return false;
    wh::HeaderValues alt;
    collect(r, rule.keys[1], alt);
    if (alt.count[wh::kSignature] == 0) return false;
    out = alt;
    return true;
}

// ---- the decision -------------------------------------------------------------

WebhookStatus failure_status(wh::Reason r) {
    switch (r) {
        case wh::Reason::MissingHeader:
            return WebhookStatus::Missing;
        case wh::Reason::StaleTimestamp:
        case wh::Reason::FutureTimestamp:
            return WebhookStatus::Stale;
        case wh::Reason::Replay:
            return WebhookStatus::Replay;
        default:
            return WebhookStatus::Invalid;
    }
}

void log_failure(ngx_http_request_t* r, const WebhookCtx& ctx) {
    const wh::Scheme& s = ctx.rule->scheme();
    const wh::Delivery& d = ctx.delivery;
    const char* provider = s.name.c_str();
    const char* header = (ctx.alternate ? s.alternate : s.headers)[ctx.field].c_str();
    const ngx_uint_t level = ctx.log_only ? NGX_LOG_WARN : NGX_LOG_ERR;
    const char* verb = ctx.log_only ? "would be refused (log_only)" : "refused";
    ngx_log_t* log = r->connection->log;
    const auto tolerance = static_cast<std::uint32_t>(ctx.rule->tolerance.value_or(0));
    switch (ctx.reason) {
        case wh::Reason::MissingHeader:
        case wh::Reason::DuplicateHeader:
            ngx_log_error(level, log, 0, "levqor_webhook: %s delivery %s: %s \"%s\"", provider, verb,
                          wh::reason_text(ctx.reason).data(), header);
            break;
        case wh::Reason::MalformedHeader:
            ngx_log_error(level, log, 0, "levqor_webhook: %s delivery %s: malformed header \"%s\" (%*s)", provider,
                          verb, header, ctx.detail.size(), ctx.detail.data());
            break;
        case wh::Reason::StaleTimestamp:
            ngx_log_error(level, log, 0,
                          "levqor_webhook: %s delivery %s: stale timestamp %L (%L s old, tolerance %uD s)", provider,
                          verb, d.time, static_cast<std::int64_t>(ngx_time()) - d.time, tolerance);
            break;
        case wh::Reason::FutureTimestamp:
            ngx_log_error(level, log, 0,
                          "levqor_webhook: %s delivery %s: timestamp %L is %L s in the future (tolerance %uD s)",
                          provider, verb, d.time, d.time - static_cast<std::int64_t>(ngx_time()), tolerance);
            break;
        case wh::Reason::Mismatch:
            // Neither the secret nor the expected signature is ever logged.
            ngx_log_error(level, log, 0,
                          "levqor_webhook: %s delivery %s: signature mismatch (%ui signature(s) checked against %ui "
                          "secret(s))",
                          provider, verb, static_cast<ngx_uint_t>(s.method == wh::Method::Token ? 1 : d.nsigs),
                          static_cast<ngx_uint_t>(ctx.rule->verifier->secrets()));
            break;
        case wh::Reason::Replay:
            if (ctx.detail == "id") {
                ngx_log_error(level, log, 0, "levqor_webhook: %s delivery %s: replay of delivery \"%*s\"", provider,
                              verb, std::min(d.id.size(), kMaxLoggedId), d.id.data());
            } else {
                ngx_log_error(level, log, 0,
                              "levqor_webhook: %s delivery %s: replay of an earlier delivery (same signature)",
                              provider, verb);
            }
            break;
        case wh::Reason::None:
            break;
    }
}

void decide(ngx_http_request_t* r, WebhookCtx& ctx, wh::Reason reason) {
    const ProviderCells& cells = main_conf<MainConf>(r)->webhook.providers[ctx.rule->provider];
    ctx.reason = reason;
    if (reason == wh::Reason::None) {
        ctx.status = WebhookStatus::Valid;
        metric_add(cells.valid);
        return;
    }
    ctx.status = ctx.log_only ? WebhookStatus::LogOnlyInvalid : failure_status(reason);
    metric_add(cells.reasons[static_cast<std::size_t>(reason)]);
    metric_add(ctx.log_only ? cells.log_only_invalid : cells.invalid);
    log_failure(r, ctx);
}

void internal_error(ngx_http_request_t* r, WebhookCtx& ctx, const char* what) {
    ctx.status = WebhookStatus::Error;
    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0, "levqor_webhook: %s delivery %s: %s",
                  ctx.rule->scheme().name.c_str(), ctx.log_only ? "passed (log_only)" : "refused", what);
}

// ---- the body ---------------------------------------------------------------------

// Calls sink(data, len) over every byte of the request body, in order, from
// memory buffers and the temp file alike; false if the file cannot be read.
template <class Sink>
bool each_body_chunk(ngx_http_request_t* r, Sink&& sink) {
    for (ngx_chain_t* cl = r->request_body->bufs; cl != nullptr; cl = cl->next) {
        ngx_buf_t* b = cl->buf;
        if (b->in_file) {
            for (off_t off = b->file_pos; off < b->file_last;) {
                const auto want = static_cast<std::size_t>(std::min<off_t>(b->file_last - off, kFileChunk));
                const ssize_t n = ngx_read_file(b->file, file_chunk, want, off);
                if (n <= 0) return false;
                sink(file_chunk, static_cast<std::size_t>(n));
                off += n;
            }
        } else if (b->pos != nullptr && b->last > b->pos) {
            sink(b->pos, static_cast<std::size_t>(b->last - b->pos));
        }
    }
    return true;
}

std::size_t body_size(ngx_http_request_t* r) {
    std::size_t n = 0;
    for (ngx_chain_t* cl = r->request_body->bufs; cl != nullptr; cl = cl->next) {
        const ngx_buf_t* b = cl->buf;
        n += b->in_file ? static_cast<std::size_t>(b->file_last - b->file_pos)
                        : static_cast<std::size_t>(b->last - b->pos);
    }
    return n;
}

// Ed25519 cannot be streamed with OpenSSL 3.0: the signed message is
// assembled in the request pool (bounded by client_max_body_size).
bool verify_whole(ngx_http_request_t* r, wh::Verifier& v, const wh::Delivery& d, wh::Match& m) {
    std::size_t prefix = 0;
    wh::signed_prefix(v.scheme(), d, [&](const char*, std::size_t n) { prefix += n; });
    const std::size_t total = prefix + body_size(r);
    auto* msg = static_cast<u_char*>(ngx_pnalloc(r->pool, total > 0 ? total : 1));
    if (msg == nullptr) return false;
    u_char* p = msg;
    wh::signed_prefix(v.scheme(), d, [&](const char* s, std::size_t n) { p = ngx_cpymem(p, s, n); });
    if (!each_body_chunk(r, [&](const u_char* s, std::size_t n) { p = ngx_cpymem(p, s, n); })) return false;
    m = v.verify_message(d, msg, total);
    return true;
}

// Whether an earlier check of this request (before an internal redirect)
// recorded tag in zone: the request's own entry, not a replay.
bool recorded_earlier(const WebhookCtx& ctx, const ReplayZone* zone, std::uint64_t tag) {
    for (const WebhookCtx* c = ctx.previous; c != nullptr; c = c->previous) {
        if (c->rule->replay != zone) continue;
        for (std::size_t i = 0; i < c->recorded; ++i) {
            if (c->replay_tags[i] == tag) return true;
        }
    }
    return false;
}

// Records a verified delivery in the replay zone; false if it was seen
// before and its entry is still live. A delivery is keyed by its id header
// where the provider sends one, and by the signature that matched where it
// does not, or where the id is not covered by the signature (else a captured
// delivery could be resent under a fresh id). Every key is looked up before
// any is recorded, so a replay never takes a slot. The entry lives as long as
// the delivery could pass the time check, or replay_window where it has no
// usable timestamp. ctx.detail says which key was seen.
bool first_sighting(WebhookCtx& ctx, const wh::Match& m) {
    ReplayZone* zone = ctx.rule->replay;
    if (zone == nullptr || zone->data == nullptr) return true;
    const WebhookRule& rule = *ctx.rule;
    const wh::Scheme& s = rule.scheme();
    const wh::Delivery& d = ctx.delivery;
    const auto domain = static_cast<std::uint8_t>(s.provider);
    std::uint64_t tags[2];
    const char* what[2];
    std::size_t n = 0;
    auto add = [&](std::uint64_t tag, const char* name) {
        if (recorded_earlier(ctx, zone, tag)) return;
        tags[n] = tag;
        what[n++] = name;
    };
    if (!d.id.empty()) add(zone->table.tag(domain, d.id.data(), d.id.size()), "id");
    if ((d.id.empty() || !s.id_signed()) && m.signature >= 0) {
        const wh::Signature& sig = d.sigs[m.signature];
        add(zone->table.tag(domain, sig.bytes, sig.len), "signature");
    }
    const std::int64_t now = ngx_time();
    const std::uint64_t expires = wh::replay_expiry(s, d, now, rule.tolerance, rule.replay_window);
    const std::size_t seen =
        zone->table.remember_all(tags, n, static_cast<std::uint64_t>(now), expires, static_cast<std::int32_t>(ngx_pid));
    if (seen != wh::ReplaySet::kAllNew) {
        ctx.detail = what[seen];
        return false;
    }
    for (std::size_t i = 0; i < n; ++i) ctx.replay_tags[i] = tags[i];
    ctx.recorded = static_cast<std::uint8_t>(n);
    return true;
}

void conclude(ngx_http_request_t* r, WebhookCtx& ctx, const wh::Match& m) {
    if (!m.valid) return decide(r, ctx, wh::Reason::Mismatch);
    decide(r, ctx, first_sighting(ctx, m) ? wh::Reason::None : wh::Reason::Replay);
}

void verify_body(ngx_http_request_t* r, WebhookCtx& ctx) {
    if (r->request_body == nullptr) return internal_error(r, ctx, "the request body was discarded before the check");
    wh::Verifier& v = *ctx.rule->verifier;
    const wh::Delivery& d = ctx.delivery;
    wh::Match m;
    if (v.streams()) {
        const bool read = v.begin(d) && each_body_chunk(r, [&v](const u_char* p, std::size_t n) { v.update(p, n); });
        if (!read) {
            v.finish(d);  // leaves the contexts ready for the next delivery
            return internal_error(r, ctx, "the request body could not be read or hashed");
        }
        m = v.finish(d);
        if (v.failed()) return internal_error(r, ctx, "OpenSSL failed");
    } else if (!verify_whole(r, v, d, m)) {
        return internal_error(r, ctx, "the request body could not be read");
    }
    conclude(r, ctx, m);
}

void body_handler(ngx_http_request_t* r) noexcept {
    WebhookCtx* ctx = current_ctx(r);
    if (ctx != nullptr && ctx->status == WebhookStatus::Pending) {
        try {
            verify_body(r, *ctx);
        } catch (...) {
            internal_error(r, *ctx, "internal error");
        }
    }
    r->write_event_handler = ngx_http_core_run_phases;
    ngx_http_core_run_phases(r);
}

// ---- responses ----------------------------------------------------------------------

ngx_int_t send_rejection(ngx_http_request_t* r, const WebhookRule& rule) {
    if (r->request_body == nullptr) {
        // Refused on its headers: never ask for the body (no 100 Continue).
        r->expect_tested = 1;
        if (ngx_http_discard_request_body(r) != NGX_OK) return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    return send_body(r, NGX_HTTP_UNAUTHORIZED, ngx_string("application/json"), rule.rejection.data, rule.rejection.len);
}

// What the access phase does with a decision.
ngx_int_t answer(ngx_http_request_t* r, WebhookCtx& ctx) {
    switch (ctx.status) {
        case WebhookStatus::Pending:
            return NGX_DONE;  // the body is still being read
        case WebhookStatus::Valid:
            return NGX_OK;  // authenticated, like auth_basic (counts for satisfy any)
        case WebhookStatus::LogOnlyInvalid:
            return NGX_DECLINED;
        case WebhookStatus::Error:
            return ctx.log_only ? NGX_DECLINED : NGX_HTTP_INTERNAL_SERVER_ERROR;
        default:
            break;
    }
    ngx_http_finalize_request(r, send_rejection(r, *ctx.rule));
    return NGX_DONE;
}

ngx_int_t start(ngx_http_request_t* r, WebhookCtx& ctx) {
    const WebhookRule& rule = *ctx.rule;
    wh::HeaderValues headers;
    ctx.alternate = collect_headers(r, rule, headers);
    const wh::ParseError e = wh::parse(rule.scheme(), headers, ctx.delivery);
    if (e.reason != wh::Reason::None) {
        ctx.field = e.field;
        ctx.detail = e.detail;
        decide(r, ctx, e.reason);
        return answer(r, ctx);
    }
    const wh::Reason late = wh::check_time(rule.scheme(), ctx.delivery, ngx_time(), rule.tolerance);
    if (late != wh::Reason::None) {
        decide(r, ctx, late);
        return answer(r, ctx);
    }
    if (!rule.verifier->needs_body()) {
        conclude(r, ctx, rule.verifier->verify_message(ctx.delivery, nullptr, 0));
        return answer(r, ctx);
    }
    ctx.status = WebhookStatus::Pending;
    const ngx_int_t rc = ngx_http_read_client_request_body(r, body_handler);
    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        // nginx answers (e.g. 413) and logs why; no decision is pending any
        // more, should an error_page redirect bring the request back here.
        ctx.status = WebhookStatus::Error;
        return rc;
    }
    ngx_http_finalize_request(r, NGX_DONE);
    return NGX_DONE;
}

}  // namespace

ngx_int_t webhook_access_handler(ngx_http_request_t* r) noexcept try {
    const WebhookLoc& loc = loc_conf<LocConf>(r)->webhook;
    if (loc.effective == nullptr || r != r->main) return NGX_DECLINED;
    // WEBHOOK_VERIFY_ALL: off skips verification, shadow makes it log_only.
    const flags::State flag_state = flag(flags::Flag::webhook_verify);
    if (flag_state == flags::State::off) return NGX_DECLINED;
    const bool log_only = flag_state == flags::State::shadow || loc.mode == static_cast<ngx_int_t>(wh::Mode::LogOnly);
    RequestCtx* rctx = request_ctx(r);
    if (rctx == nullptr) return log_only ? NGX_DECLINED : NGX_ERROR;
    WebhookCtx* earlier = rctx->webhook;
    // Resumed after the body was read, or internally redirected into a
    // location with the same rule and mode: the decision stands. Redirected
    // anywhere else: that location's rule is checked anew.
    if (earlier != nullptr &&
        (earlier->status == WebhookStatus::Pending || (earlier->rule == loc.effective && earlier->mode == loc.mode))) {
        return answer(r, *earlier);
    }
    auto* ctx = static_cast<WebhookCtx*>(ngx_palloc(r->pool, sizeof(WebhookCtx)));
    if (ctx == nullptr) return NGX_ERROR;
    ctx->rule = loc.effective;
    ctx->mode = loc.mode;
    ctx->previous = earlier;
    ctx->status = WebhookStatus::Pending;
    ctx->reason = wh::Reason::None;
    ctx->field = wh::kSignature;
    ctx->alternate = false;
    ctx->log_only = log_only;
    ctx->recorded = 0;
    ctx->detail = {};
    rctx->webhook = ctx;
    return start(r, *ctx);
} catch (...) {
    log_exception(r->connection->log, NGX_LOG_ERR, "levqor_webhook: internal error, delivery refused");
    return NGX_HTTP_INTERNAL_SERVER_ERROR;
}

ngx_int_t webhook_log_handler(ngx_http_request_t* r) noexcept {
    // A delivery the application did not accept is forgotten, so that the
    // provider's retry is not refused as a replay.
    const ngx_uint_t status = r->headers_out.status;
    if (status >= 200 && status <= 299) return NGX_OK;
    for (const WebhookCtx* ctx = current_ctx(r); ctx != nullptr; ctx = ctx->previous) {
        if (ctx->rule->replay == nullptr) continue;
        for (std::size_t i = 0; i < ctx->recorded; ++i) {
            ctx->rule->replay->table.forget(ctx->replay_tags[i], static_cast<std::int32_t>(ngx_pid));
        }
    }
    return NGX_OK;
}

ngx_int_t webhook_status_variable(ngx_http_request_t* r, ngx_http_variable_value_t* v, uintptr_t) noexcept {
    const WebhookCtx* ctx = current_ctx(r);
    std::string_view name;
    switch (ctx != nullptr ? ctx->status : WebhookStatus::Pending) {
        case WebhookStatus::Pending:
            v->not_found = 1;
            return NGX_OK;
        case WebhookStatus::Valid:
            name = "VALID";
            break;
        case WebhookStatus::Invalid:
            name = "INVALID";
            break;
        case WebhookStatus::Missing:
            name = "MISSING";
            break;
        case WebhookStatus::Stale:
            name = "STALE";
            break;
        case WebhookStatus::Replay:
            name = "REPLAY";
            break;
        case WebhookStatus::LogOnlyInvalid:
            name = "LOG_ONLY_INVALID";
            break;
        case WebhookStatus::Error:
            name = "ERROR";
            break;
    }
    set_variable(v, name);
    return NGX_OK;
}

}  // namespace levqor::ngx
