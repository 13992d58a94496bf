// SPDX-License-Identifier: Apache-2.0
// Webhook configuration: levqor_webhook and levqor_webhook_generic (secret
// files read and validated here, OpenSSL contexts keyed once), replay zones
// (shared memory, kept across reloads), levqor_webhook_mode, inheritance,
// metrics registration and the phase handlers.
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "module.h"
#include "levqor/webhook_args.h"
#include "ngx_util.h"
#include "webhook.h"

namespace levqor::ngx {

namespace wh = levqor::webhook;

namespace {

ngx_int_t init_replay_zone(ngx_shm_zone_t* shm_zone, void* old_data) noexcept {
    return init_table_zone<ReplayZone>(shm_zone, old_data, "levqor_webhook_replay_zone");
}

Parsed<wh::SecretText> read_secret(ngx_conf_t* cf, ngx_str_t path) {
    auto file = read_secret_file(cf, path, "secret_file");
    if (!file) return Parsed<wh::SecretText>::failure(file.error());
    SecretFile f = std::move(file).value();
    return wh::SecretText{std::move(f.path), std::move(f.text)};
}

// nginx's time syntax (90, 5m, 24h, 30d) for the core parsers: seconds, or -1.
std::int64_t nginx_seconds(std::string_view text) {
    ngx_str_t value = ngx_str(text);
    const ngx_int_t seconds = ngx_parse_time(&value, 1);
    return seconds == NGX_ERROR ? -1 : static_cast<std::int64_t>(seconds);
}

bool header_key(ngx_conf_t* cf, const std::string& name, HeaderKey& key) {
    if (name.empty()) return true;
    key.lower.len = name.size();
    key.lower.data = static_cast<u_char*>(ngx_pnalloc(cf->pool, name.size()));
    if (key.lower.data == nullptr) return false;
    key.hash = ngx_hash_strlow(key.lower.data, reinterpret_cast<u_char*>(const_cast<char*>(name.data())), name.size());
    return true;
}

// Says where an option does less than its name suggests.
void warn_about_options(ngx_conf_t* cf, const wh::WebhookArgs& args) {
    const wh::Scheme& scheme = args.scheme;
    if (args.tolerance_given && !scheme.has_timestamp()) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "levqor_webhook: %s deliveries carry no timestamp: tolerance= has no effect (a delivery "
                           "is remembered for replay_window=, %uD s)",
                           scheme.name.c_str(), args.window());
    } else if (!args.tolerance && !args.replay_zone.empty()) {
        ngx_conf_log_error(NGX_LOG_NOTICE, cf, 0,
                           "levqor_webhook: %s with tolerance=off: a delivery is remembered for replay_window=, "
                           "%uD s; a copy resent after that passes",
                           scheme.name.c_str(), args.window());
    }
}

// Builds the rule of a directive (its arguments already checked by the core
// parser) and stores it at this level.
char* install_rule(ngx_conf_t* cf, WebhookLoc& loc, wh::WebhookArgs args) {
    auto& wm = main_conf<MainConf>(cf)->webhook;
    std::vector<wh::SecretText> secrets;
    for (const std::string_view path : args.secret_files) {
        auto secret = read_secret(cf, ngx_str(path));
        if (!secret) return conf_error(cf, secret.error());
        secrets.push_back(std::move(secret).value());
    }
    warn_about_options(cf, args);
    const std::string name = args.scheme.name;
    auto verifier = wh::Verifier::create(std::move(args.scheme), std::move(secrets));
    if (!verifier) return conf_error(cf, verifier.error());
    auto rule = std::make_unique<WebhookRule>();
    rule->verifier = std::move(verifier).value();
    rule->tolerance = args.tolerance;
    rule->replay = args.replay_zone.empty() ? nullptr : zone_named(cf->pool, wm.zones, std::string(args.replay_zone));
    rule->replay_window = args.window();
    rule->provider = wm.provider_slot(name);
    const wh::Scheme& s = rule->scheme();
    for (std::size_t f = 0; f < wh::kFields; ++f) {
        if (!header_key(cf, s.headers[f], rule->keys[0][f]) || !header_key(cf, s.alternate[f], rule->keys[1][f])) {
            return static_cast<char*>(NGX_CONF_ERROR);
        }
    }
    if (!pool_str(cf->pool, "{\"error\":\"invalid_signature\",\"provider\":\"" + name + "\"}", rule->rejection)) {
        return static_cast<char*>(NGX_CONF_ERROR);
    }
    loc.rule = rule.get();
    loc.set_here = true;
    wm.rules.push_back(std::move(rule));
    return NGX_CONF_OK;
}

}  // namespace

// ---- WebhookMain ------------------------------------------------------------------

std::size_t WebhookMain::provider_slot(const std::string& name) {
    for (std::size_t i = 0; i < providers.size(); ++i) {
        if (providers[i].name == name) return i;
    }
    providers.push_back(ProviderCells{});
    providers.back().name = name;
    return providers.size() - 1;
}

// ---- directives ---------------------------------------------------------------------

char* set_webhook(ngx_conf_t* cf, ngx_command_t*, void* conf) noexcept try {
    auto& loc = static_cast<LocConf*>(conf)->webhook;
    if (loc.set_here) return const_cast<char*>("is duplicate");
    auto args = wh::parse_webhook_args(sv(conf_args(cf)[1]), conf_params(cf, 2), nginx_seconds);
    if (!args) return conf_error(cf, args.error());
    if (args.value().off) {
        loc.set_here = true;
        loc.rule = nullptr;
        return NGX_CONF_OK;
    }
    return install_rule(cf, loc, std::move(args).value());
} catch (...) {
    return conf_exception(cf);
}

char* set_webhook_generic(ngx_conf_t* cf, ngx_command_t*, void* conf) noexcept try {
    auto& loc = static_cast<LocConf*>(conf)->webhook;
    if (loc.set_here) return const_cast<char*>("is duplicate");
    auto args = wh::parse_generic_args(conf_params(cf, 1), nginx_seconds);
    if (!args) return conf_error(cf, args.error());
    return install_rule(cf, loc, std::move(args).value());
} catch (...) {
    return conf_exception(cf);
}

char* set_webhook_replay_zone(ngx_conf_t* cf, ngx_command_t*, void* conf) noexcept try {
    auto& wm = static_cast<MainConf*>(conf)->webhook;
    auto spec = parse_zone_spec(conf_args(cf)[1]);
    if (!spec) return conf_error(cf, spec.error());
    auto zone = define_table_zone(cf, wm.zones, spec.value(), "levqor_webhook_replay_zone", init_replay_zone);
    return zone ? NGX_CONF_OK : conf_error(cf, zone.error());
} catch (...) {
    return conf_exception(cf);
}

char* set_webhook_mode(ngx_conf_t* cf, ngx_command_t*, void* conf) noexcept try {
    return store(cf, static_cast<LocConf*>(conf)->webhook.mode, static_cast<ngx_int_t>(NGX_CONF_UNSET),
                 wh::parse_mode(sv(conf_args(cf)[1])));
} catch (...) {
    return conf_exception(cf);
}

// ---- lifecycle ------------------------------------------------------------------------

ngx_int_t webhook_preconfiguration(ngx_conf_t* cf) noexcept {
    static ngx_str_t name = ngx_string("levqor_webhook_status");
    ngx_http_variable_t* v = ngx_http_add_variable(cf, &name, NGX_HTTP_VAR_NOCACHEABLE);
    if (v == nullptr) return NGX_ERROR;
    v->get_handler = webhook_status_variable;
    return NGX_OK;
}

char* webhook_merge(ngx_conf_t*, WebhookLoc& parent, WebhookLoc& child) noexcept {
    if (parent.set_here && parent.effective == nullptr) parent.effective = parent.rule;
    // A level with its own levqor_webhook (or off) replaces the inherited one.
    child.effective = child.set_here ? child.rule : parent.effective;
    ngx_conf_merge_value(child.mode, parent.mode, static_cast<ngx_int_t>(wh::Mode::Enforce));
    return NGX_CONF_OK;
}

namespace {

void register_metrics(WebhookMain& wm, MetricsRegistry& metrics) {
    const char* verifications_help = "Webhook deliveries checked, by provider and result.";
    const char* failures_help = "Webhook deliveries that failed verification, by provider and reason.";
    for (auto& p : wm.providers) {
        auto result = [&](const char* r) {
            return metrics.layout.counter("levqor_webhook_verifications_total", verifications_help,
                                          {{"provider", p.name}, {"result", r}});
        };
        p.valid = result("valid");
        p.invalid = result("invalid");
        p.log_only_invalid = result("log_only_invalid");
        for (std::size_t r = 1; r < wh::kReasons; ++r) {
            p.reasons[r] = metrics.layout.counter(
                "levqor_webhook_failures_total", failures_help,
                {{"provider", p.name}, {"reason", std::string(wh::reason_label(static_cast<wh::Reason>(r)))}});
        }
    }
    metrics.add_collector([&wm](std::string& out) {
        struct Row {
            const ReplayZone* zone;
            wh::ReplayStats stats;
        };
        std::vector<Row> rows;
        for (const auto& z : wm.zones) {
            if (z->data != nullptr) rows.push_back({z.get(), z->table.stats(static_cast<std::uint64_t>(ngx_time()))});
        }
        if (rows.empty()) return;
        auto family = [&](const char* name, const char* help, const char* type, auto value) {
            metrics::write_family_header(out, name, help, type);
            for (const auto& row : rows) metrics::write_sample(out, name, {{"zone", row.zone->name}}, value(row.stats));
        };
        family("levqor_webhook_replay_entries",
               "Entries in the replay zone that are still live (a delivery takes one, or two: id and signature).",
               "gauge", [](const wh::ReplayStats& s) { return s.live; });
        family("levqor_webhook_replay_capacity", "Entries the replay zone can hold.", "gauge",
               [](const wh::ReplayStats& s) { return s.capacity; });
        family("levqor_webhook_replay_evictions_total",
               "Live entries evicted before they expired because their set was full.", "counter",
               [](const wh::ReplayStats& s) { return s.evicted_live; });
    });
}

}  // namespace

ngx_int_t webhook_postconfiguration(ngx_conf_t* cf) noexcept try {
    auto* mcf = main_conf<MainConf>(cf);
    auto& wm = mcf->webhook;
    for (const auto& z : wm.zones) {
        if (z->size == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "levqor_webhook: replay zone \"%s\" is used but not defined by "
                               "levqor_webhook_replay_zone",
                               z->name.c_str());
            return NGX_ERROR;
        }
    }
    register_metrics(wm, mcf->metrics);
    if (wm.rules.empty()) return NGX_OK;
    if (!add_phase_handler(cf, NGX_HTTP_ACCESS_PHASE, webhook_access_handler)) return NGX_ERROR;
    for (const auto& rule : wm.rules) {
        if (rule->replay != nullptr)
            return add_phase_handler(cf, NGX_HTTP_LOG_PHASE, webhook_log_handler) ? NGX_OK : NGX_ERROR;
    }
    return NGX_OK;
} catch (...) {
    log_conf_exception(cf);
    return NGX_ERROR;
}

}  // namespace levqor::ngx
