// SPDX-License-Identifier: Apache-2.0
// Security headers: directive setters, the per-location plan built at merge
// time, the header filter (fails open: a problem is logged, the response goes
// out without the header) and $levqor_csp_nonce.
#include "headers.h"

#include <cstring>
#include <string>
#include <vector>

#include "levqor/nonce.h"
#include "module.h"
#include "ngx_util.h"

namespace levqor::ngx {
namespace {

namespace h = levqor::headers;

// Per worker process; reset after fork in headers_init_process().
NonceSource& nonce_source() {
    static NonceSource source(openssl_random);
    return source;
}

h::Settings& settings(void* conf) { return static_cast<LocConf*>(conf)->headers.settings; }

// ---- the plan: built once per location at merge time ----------------------

bool plan_header(ngx_conf_t* cf, const h::HeaderSpec& spec, PlannedHeader& out) {
    ngx_memzero(&out, sizeof out);
    if (!pool_str(cf->pool, spec.name, out.proto.key)) return false;
    out.proto.lowcase_key = static_cast<u_char*>(ngx_pnalloc(cf->pool, spec.name.size()));
    if (out.proto.lowcase_key == nullptr) return false;
    out.proto.hash = ngx_hash_strlow(out.proto.lowcase_key, out.proto.key.data, out.proto.key.len);
    out.https_only = spec.https_only;
    if (spec.value.nonce_slots() == 0) {
        return pool_str(cf->pool, spec.value.pieces.front(), out.proto.value);
    }
    out.npieces = spec.value.pieces.size();
    out.pieces = static_cast<ngx_str_t*>(ngx_pcalloc(cf->pool, sizeof(ngx_str_t) * out.npieces));
    if (out.pieces == nullptr) return false;
    for (ngx_uint_t i = 0; i < out.npieces; ++i) {
        if (!pool_str(cf->pool, spec.value.pieces[i], out.pieces[i])) return false;
    }
    out.literal_len = spec.value.literal_size();
    return true;
}

const HeaderPlan* build_plan(ngx_conf_t* cf, const h::Settings& s, const std::vector<h::HeaderSpec>& specs) {
    auto* plan = static_cast<HeaderPlan*>(ngx_pcalloc(cf->pool, sizeof(HeaderPlan)));
    if (plan == nullptr) return nullptr;
    plan->headers = static_cast<PlannedHeader*>(ngx_pcalloc(cf->pool, sizeof(PlannedHeader) * specs.size()));
    if (plan->headers == nullptr && !specs.empty()) return nullptr;
    for (const auto& spec : specs) {
        if (!plan_header(cf, spec, plan->headers[plan->n])) return nullptr;
        plan->name_lengths |= std::uint64_t{1} << (spec.name.size() & 63);
        ++plan->n;
    }
    for (const bool https : {false, true}) {
        HeaderRun& run = https ? plan->https : plan->http;
        run.protos = static_cast<ngx_table_elt_t*>(ngx_pcalloc(cf->pool, sizeof(ngx_table_elt_t) * (plan->n + 1)));
        if (run.protos == nullptr) return nullptr;
        run.nonce_at = -1;
        for (ngx_uint_t k = 0; k < plan->n; ++k) {
            const PlannedHeader& ph = plan->headers[k];
            if (ph.https_only && !https) continue;
            if (ph.npieces != 0) {
                run.nonce_at = static_cast<ngx_int_t>(run.n);
                plan->nonce_header = &ph;
            }
            run.protos[run.n++] = ph.proto;
        }
    }
    plan->upstream = s.upstream.value_or(h::UpstreamMode::Replace);
    auto* mcf = main_conf<MainConf>(cf);
    plan->decorated_cell = mcf->metrics.layout.counter(
        "levqor_headers_responses_total", "Responses decorated with security headers, by profile.",
        {{"profile", std::string(h::profile_name(s.profile.value_or(h::Profile::Strict)))}});
    return plan;
}

const HeaderPlan* build_plans(ngx_conf_t* cf, const h::Settings& s) {
    const std::vector<h::HeaderSpec> specs = h::resolve(s);
    auto* plan = const_cast<HeaderPlan*>(build_plan(cf, s, specs));
    if (plan == nullptr) return nullptr;
    plan->shadow = build_plan(cf, s, h::report_only(specs));
    return plan->shadow != nullptr ? plan : nullptr;
}

// ---- request time -----------------------------------------------------------

bool same_name(const ngx_table_elt_t& a, const ngx_table_elt_t& b) {
    return a.key.len == b.key.len && ngx_strncasecmp(a.key.data, b.key.data, a.key.len) == 0;
}

// Looks for headers the upstream (or an earlier filter) already set with a
// name we manage. Replace: theirs are dropped (hash 0 = deleted in nginx);
// keep: ours are skipped. Returns the bitmask of planned headers to skip.
std::uint32_t resolve_conflicts(ngx_http_request_t* r, const HeaderPlan& plan, const HeadersMain& m) {
    std::uint32_t skip = 0;
    for (ngx_list_part_t* part = &r->headers_out.headers.part; part != nullptr; part = part->next) {
        auto* elts = static_cast<ngx_table_elt_t*>(part->elts);
        for (ngx_uint_t i = 0; i < part->nelts; ++i) {
            ngx_table_elt_t& existing = elts[i];
            if (existing.hash == 0 || existing.key.len > 63 ||
                (plan.name_lengths & (std::uint64_t{1} << existing.key.len)) == 0) {
                continue;
            }
            for (ngx_uint_t k = 0; k < plan.n; ++k) {
                if (!same_name(existing, plan.headers[k].proto)) continue;
                if (plan.upstream == h::UpstreamMode::Keep) {
                    skip |= 1u << k;
                    metric_add(m.kept_cell);
                } else {
                    existing.hash = 0;
                    metric_add(m.replaced_cell);
                }
                break;
            }
        }
    }
    return skip;
}

bool render_nonce_value(ngx_http_request_t* r, const PlannedHeader& ph, const HeadersMain& m, ngx_str_t& value) {
    ngx_http_variable_value_t* nonce = ngx_http_get_indexed_variable(r, m.nonce_index);
    if (nonce == nullptr || nonce->not_found) return false;
    const std::size_t len = ph.literal_len + (ph.npieces - 1) * nonce->len;
    auto* p = static_cast<u_char*>(ngx_pnalloc(r->pool, len));
    if (p == nullptr) return false;
    value.data = p;
    value.len = len;
    for (ngx_uint_t i = 0; i < ph.npieces; ++i) {
        if (i > 0) p = ngx_cpymem(p, nonce->data, nonce->len);
        p = ngx_cpymem(p, ph.pieces[i].data, ph.pieces[i].len);
    }
    return true;
}

void complete_nonce_header(ngx_http_request_t* r, const PlannedHeader& ph, const HeadersMain& m, ngx_table_elt_t& out) {
    if (render_nonce_value(r, ph, m, out.value)) return;
    out.hash = 0;  // never send a CSP we could not complete
    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0, "levqor: could not create a CSP nonce, \"%V\" not sent",
                  &ph.proto.key);
}

// Common case: nothing to skip and room in the list's last part — copy the
// whole run at once.
bool append_run(ngx_http_request_t* r, const HeaderPlan& plan, const HeaderRun& run, const HeadersMain& m) {
    ngx_list_t& list = r->headers_out.headers;
    ngx_list_part_t* last = list.last;
    if (last->nelts + run.n > list.nalloc) return false;
    auto* dst = static_cast<ngx_table_elt_t*>(last->elts) + last->nelts;
    ngx_memcpy(dst, run.protos, run.n * sizeof(ngx_table_elt_t));
    last->nelts += run.n;
    if (run.nonce_at >= 0) complete_nonce_header(r, *plan.nonce_header, m, dst[run.nonce_at]);
    return true;
}

void decorate(ngx_http_request_t* r, const HeaderPlan& plan, const HeadersMain& m) {
#if (NGX_HTTP_SSL)
    const bool https = r->connection->ssl != nullptr;
#else
    const bool https = false;
#endif
    const bool have_headers = r->headers_out.headers.part.nelts > 0 || r->headers_out.headers.part.next != nullptr;
    const std::uint32_t skip = have_headers ? resolve_conflicts(r, plan, m) : 0;
    if (skip == 0 && append_run(r, plan, https ? plan.https : plan.http, m)) {
        metric_add(plan.decorated_cell);
        return;
    }
    for (ngx_uint_t k = 0; k < plan.n; ++k) {
        const PlannedHeader& ph = plan.headers[k];
        if ((ph.https_only && !https) || (skip & (1u << k)) != 0) continue;
        ngx_table_elt_t* out = static_cast<ngx_table_elt_t*>(ngx_list_push(&r->headers_out.headers));
        if (out == nullptr) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0, "levqor: no memory for security headers");
            return;
        }
        *out = ph.proto;
        if (ph.npieces != 0) complete_nonce_header(r, ph, m, *out);
    }
    metric_add(plan.decorated_cell);
}

ngx_int_t nonce_variable(ngx_http_request_t* r, ngx_http_variable_value_t* v, uintptr_t) noexcept {
    const HeadersMain& m = main_conf<MainConf>(r)->headers;
    if (r != r->main) {  // subrequests share the main request's nonce
        ngx_http_variable_value_t* main = ngx_http_get_indexed_variable(r->main, m.nonce_index);
        if (main == nullptr) return NGX_ERROR;
        *v = *main;
        return NGX_OK;
    }
    auto* p = static_cast<u_char*>(ngx_pnalloc(r->pool, NonceSource::kEncodedSize));
    if (p == nullptr || !nonce_source().next(reinterpret_cast<char*>(p))) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0, "levqor: CSPRNG failed, no CSP nonce");
        v->not_found = 1;
        return NGX_OK;
    }
    set_variable(v, p, NonceSource::kEncodedSize);  // cacheable: one nonce per request, wherever it is used
    metric_add(m.nonces_cell);
    return NGX_OK;
}

}  // namespace

void headers_decorate(ngx_http_request_t* r) noexcept {
    const HeaderPlan* plan = loc_conf<LocConf>(r)->headers.plan;
    if (plan == nullptr || r != r->main) return;
    switch (flag(flags::Flag::security_headers)) {
        case flags::State::off:
            return;
        case flags::State::shadow:
            plan = plan->shadow;
            break;
        case flags::State::on:
            break;
    }
    decorate(r, *plan, main_conf<MainConf>(r)->headers);
}

// ---- directives -------------------------------------------------------------

char* set_headers(ngx_conf_t* cf, ngx_command_t*, void* conf) noexcept try {
    const std::string_view v = sv(conf_args(cf)[1]);
    auto& slot = settings(conf).enabled;
    if (v == "on") return store(cf, slot, Parsed<bool>(true));
    if (v == "off") return store(cf, slot, Parsed<bool>(false));
    return conf_error(cf, "invalid value \"" + std::string(v) + "\", expected on or off");
} catch (...) {
    return conf_exception(cf);
}

char* set_headers_profile(ngx_conf_t* cf, ngx_command_t*, void* conf) noexcept try {
    return store(cf, settings(conf).profile, h::parse_profile(sv(conf_args(cf)[1])));
} catch (...) {
    return conf_exception(cf);
}

char* set_csp(ngx_conf_t* cf, ngx_command_t*, void* conf) noexcept try {
    const ngx_str_t* args = conf_args(cf);
    auto& slot = settings(conf).csp;
    if (cf->args->nelts == 2 && sv(args[1]) == "off") return store(cf, slot, Parsed<h::Csp>(h::Csp{false, {}, false}));
    bool report_only = false;
    if (cf->args->nelts == 3) {
        if (sv(args[2]) != "report_only") {
            return conf_error(cf, "invalid parameter \"" + std::string(sv(args[2])) + "\", expected report_only");
        }
        report_only = true;
    }
    auto policy = h::parse_csp_policy(sv(args[1]));
    if (!policy) return conf_error(cf, policy.error());
    return store(cf, slot, Parsed<h::Csp>(h::Csp{true, std::move(policy).value(), report_only}));
} catch (...) {
    return conf_exception(cf);
}

char* set_hsts(ngx_conf_t* cf, ngx_command_t*, void* conf) noexcept try {
    return store(cf, settings(conf).hsts, h::parse_hsts(conf_params(cf, 1)));
} catch (...) {
    return conf_exception(cf);
}

char* set_frame_options(ngx_conf_t* cf, ngx_command_t*, void* conf) noexcept try {
    return store(cf, settings(conf).frame_options, h::parse_frame_options(sv(conf_args(cf)[1])));
} catch (...) {
    return conf_exception(cf);
}

char* set_referrer_policy(ngx_conf_t* cf, ngx_command_t*, void* conf) noexcept try {
    return store(cf, settings(conf).referrer_policy, h::parse_referrer_policy(sv(conf_args(cf)[1])));
} catch (...) {
    return conf_exception(cf);
}

char* set_permissions_policy(ngx_conf_t* cf, ngx_command_t*, void* conf) noexcept try {
    return store(cf, settings(conf).permissions_policy, h::parse_permissions_policy(sv(conf_args(cf)[1])));
} catch (...) {
    return conf_exception(cf);
}

char* set_headers_upstream(ngx_conf_t* cf, ngx_command_t*, void* conf) noexcept try {
    return store(cf, settings(conf).upstream, h::parse_upstream_mode(sv(conf_args(cf)[1])));
} catch (...) {
    return conf_exception(cf);
}

// ---- configuration lifecycle -----------------------------------------------

ngx_int_t headers_preconfiguration(ngx_conf_t* cf) noexcept {
    static ngx_str_t name = ngx_string("levqor_csp_nonce");
    ngx_http_variable_t* var = ngx_http_add_variable(cf, &name, 0);
    if (var == nullptr) return NGX_ERROR;
    var->get_handler = nonce_variable;
    return NGX_OK;
}

void headers_register_metrics(HeadersMain& main, MetricsRegistry& metrics) {
    for (const auto p : {h::Profile::Strict, h::Profile::Api, h::Profile::Relaxed}) {
        metrics.layout.counter("levqor_headers_responses_total",
                               "Responses decorated with security headers, by profile.",
                               {{"profile", std::string(h::profile_name(p))}});
    }
    main.nonces_cell = metrics.layout.counter("levqor_csp_nonces_total", "CSP nonces generated.");
    const char* conflicts_help = "Security headers an upstream had already set, by what levqor did.";
    main.kept_cell =
        metrics.layout.counter("levqor_headers_upstream_conflicts_total", conflicts_help, {{"action", "kept"}});
    main.replaced_cell =
        metrics.layout.counter("levqor_headers_upstream_conflicts_total", conflicts_help, {{"action", "replaced"}});
}

char* headers_merge(ngx_conf_t* cf, HeadersLoc& parent, HeadersLoc& child) noexcept try {
    const bool inherits_all = child.settings.empty();
    child.settings.inherit_from(parent.settings);
    if (!child.settings.enabled.value_or(false)) {
        child.plan = nullptr;
        return NGX_CONF_OK;
    }
    if (inherits_all && parent.plan != nullptr) {
        child.plan = parent.plan;
        return NGX_CONF_OK;
    }
    child.plan = build_plans(cf, child.settings);
    return child.plan != nullptr ? NGX_CONF_OK : static_cast<char*>(NGX_CONF_ERROR);
} catch (...) {
    return conf_exception(cf);
}

ngx_int_t headers_postconfiguration(ngx_conf_t* cf) noexcept {
    static ngx_str_t name = ngx_string("levqor_csp_nonce");
    auto* mcf = main_conf<MainConf>(cf);
    mcf->headers.nonce_index = ngx_http_get_variable_index(cf, &name);
    return mcf->headers.nonce_index == NGX_ERROR ? NGX_ERROR : NGX_OK;
}

void headers_init_process() noexcept { nonce_source().reset(); }

}  // namespace levqor::ngx
