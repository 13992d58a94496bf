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
#include "ngx_util.h"
#include "webhook.h"

namespace levqor::ngx {

namespace wh = levqor::webhook;

namespace {

constexpr std::size_t kMaxSecretFile = 64 * 1024;
constexpr ngx_int_t kMaxTolerance = 30 * 24 * 3600;

std::string str(const ngx_str_t& s) { return std::string(sv(s)); }

ngx_int_t init_replay_zone(ngx_shm_zone_t* shm_zone, void* old_data) noexcept {
    return init_table_zone(shm_zone, old_data, &ReplayZone::set, "levqor_webhook_replay_zone");
}

// Reads a secret file at configuration time. Relative paths are relative to
// nginx's configuration prefix, like ssl_certificate. Messages name the path.
Parsed<wh::SecretText> read_secret(ngx_conf_t* cf, ngx_str_t path) {
    const std::string given = str(path);
    if (given.empty()) return Parsed<wh::SecretText>::failure("secret_file= needs a path");
    if (ngx_conf_full_name(cf->cycle, &path, 1) != NGX_OK) {
        return Parsed<wh::SecretText>::failure("secret_file \"" + given + "\": invalid path");
    }
    const std::string full = str(path);
    std::ifstream in(full, std::ios::binary);
    if (!in) {
        return Parsed<wh::SecretText>::failure("secret_file \"" + full + "\" cannot be read: " + std::strerror(errno));
    }
    std::string text(kMaxSecretFile + 1, '\0');
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    if (in.bad()) return Parsed<wh::SecretText>::failure("secret_file \"" + full + "\" cannot be read");
    text.resize(static_cast<std::size_t>(in.gcount()));
    if (text.size() > kMaxSecretFile) {
        OPENSSL_cleanse(text.data(), text.size());
        return Parsed<wh::SecretText>::failure("secret_file \"" + full + "\" is larger than 64k: not a secret");
    }
    return wh::SecretText{full, std::move(text)};
}

// Options every levqor_webhook* directive takes.
struct CommonOptions {
    std::vector<wh::SecretText> secrets;
    std::optional<std::uint32_t> tolerance = 300;
    bool tolerance_given = false;
    ReplayZone* replay = nullptr;
    std::optional<std::uint32_t> replay_window;  // nullopt: not given
};

// A time in seconds from 1 to max (nginx time syntax: 90, 5m, 24h, 30d).
std::optional<std::uint32_t> parse_seconds(ngx_str_t value, ngx_int_t max) {
    const ngx_int_t seconds = ngx_parse_time(&value, 1);
    if (seconds == NGX_ERROR || seconds < 1 || seconds > max) return std::nullopt;
    return static_cast<std::uint32_t>(seconds);
}

// Handles secret_file=, tolerance=, replay=, replay_window=. Returns an error
// message, "" if the argument was consumed, or nullopt if it is not a common
// option.
std::optional<std::string> common_option(ngx_conf_t* cf, const ngx_str_t& arg, CommonOptions& o) {
    const std::string_view a = sv(arg);
    const std::size_t eq = a.find('=');
    if (eq == std::string_view::npos) return std::nullopt;
    const std::string_view name = a.substr(0, eq);
    ngx_str_t value{a.size() - eq - 1, arg.data + eq + 1};
    if (name == "secret_file") {
        auto secret = read_secret(cf, value);
        if (!secret) return secret.error();
        o.secrets.push_back(std::move(secret).value());
        return std::string();
    }
    if (name == "tolerance") {
        o.tolerance_given = true;
        if (sv(value) == "off") {
            o.tolerance = std::nullopt;
            return std::string();
        }
        o.tolerance = parse_seconds(value, kMaxTolerance);
        if (!o.tolerance) return "invalid tolerance \"" + std::string(a) + "\", expected seconds (1 to 30d) or off";
        return std::string();
    }
    if (name == "replay_window") {
        o.replay_window = parse_seconds(value, wh::kMaxReplayWindow);
        if (!o.replay_window) return "invalid replay_window \"" + std::string(a) + "\", expected a time from 1s to 30d";
        return std::string();
    }
    if (name == "replay") {
        if (value.len == 0) return "invalid parameter \"" + std::string(a) + "\"";
        o.replay = main_conf<MainConf>(cf)->webhook.zone(str(value), true);
        return std::string();
    }
    return std::nullopt;
}

bool header_key(ngx_conf_t* cf, const std::string& name, HeaderKey& key) {
    if (name.empty()) return true;
    key.lower.len = name.size();
    key.lower.data = static_cast<u_char*>(ngx_pnalloc(cf->pool, name.size()));
    if (key.lower.data == nullptr) return false;
    key.hash = ngx_hash_strlow(key.lower.data, reinterpret_cast<u_char*>(const_cast<char*>(name.data())), name.size());
    return true;
}

// Refuses option combinations that cannot work, and says where an option
// does less than its name suggests; "" when the rule may be built.
std::string check_options(ngx_conf_t* cf, const wh::Scheme& scheme, const CommonOptions& opts) {
    if (opts.replay != nullptr && scheme.method == wh::Method::Token) {
        return "replay= cannot be used with " + scheme.name +
               ": its deliveries carry neither an id nor a per-delivery signature";
    }
    if (opts.replay_window && opts.replay == nullptr) return "replay_window= needs replay=<zone>";
    const std::uint32_t window = opts.replay_window.value_or(wh::kDefaultReplayWindow);
    if (opts.tolerance_given && !scheme.has_timestamp()) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "levqor_webhook: %s deliveries carry no timestamp: tolerance= has no effect (a delivery "
                           "is remembered for replay_window=, %uD s)",
                           scheme.name.c_str(), window);
    } else if (!opts.tolerance && opts.replay != nullptr) {
        ngx_conf_log_error(NGX_LOG_NOTICE, cf, 0,
                           "levqor_webhook: %s with tolerance=off: a delivery is remembered for replay_window=, "
                           "%uD s; a copy resent after that passes",
                           scheme.name.c_str(), window);
    }
    return std::string();
}

// Builds the rule of a directive and stores it at this level.
char* install_rule(ngx_conf_t* cf, WebhookLoc& loc, wh::Scheme scheme, CommonOptions opts) {
    auto& wm = main_conf<MainConf>(cf)->webhook;
    const std::string refused = check_options(cf, scheme, opts);
    if (!refused.empty()) return conf_error(cf, refused);
    const std::string name = scheme.name;
    auto verifier = wh::Verifier::create(std::move(scheme), std::move(opts.secrets));
    if (!verifier) return conf_error(cf, verifier.error());
    auto rule = std::make_unique<WebhookRule>();
    rule->verifier = std::move(verifier).value();
    rule->tolerance = opts.tolerance;
    rule->replay = opts.replay;
    rule->replay_window = opts.replay_window.value_or(wh::kDefaultReplayWindow);
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

ReplayZone* WebhookMain::zone(const std::string& name, bool create) {
    for (auto& z : zones) {
        if (z->name == name) return z.get();
    }
    if (!create) return nullptr;
    zones.push_back(std::make_unique<ReplayZone>());
    zones.back()->name = name;
    return zones.back().get();
}

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
    const ngx_str_t* args = conf_args(cf);
    const std::string_view provider = sv(args[1]);
    if (provider == "off") {
        if (cf->args->nelts > 2) return conf_error(cf, "off takes no parameters");
        loc.set_here = true;
        loc.rule = nullptr;
        return NGX_CONF_OK;
    }
    if (provider == "generic") return conf_error(cf, "generic schemes are configured with levqor_webhook_generic");
    const wh::Scheme* scheme = wh::find_scheme(provider);
    if (scheme == nullptr) {
        return conf_error(cf, "unknown provider \"" + std::string(provider) + "\", expected " + wh::provider_names() +
                                  " (or levqor_webhook_generic)");
    }
    CommonOptions opts;
    for (ngx_uint_t i = 2; i < cf->args->nelts; ++i) {
        auto handled = common_option(cf, args[i], opts);
        if (!handled) return conf_error(cf, "invalid parameter \"" + str(args[i]) + "\"");
        if (!handled->empty()) return conf_error(cf, *handled);
    }
    if (opts.secrets.empty()) return conf_error(cf, "needs secret_file=<path>");
    return install_rule(cf, loc, *scheme, std::move(opts));
} catch (...) {
    return static_cast<char*>(NGX_CONF_ERROR);
}

char* set_webhook_generic(ngx_conf_t* cf, ngx_command_t*, void* conf) noexcept try {
    auto& loc = static_cast<LocConf*>(conf)->webhook;
    if (loc.set_here) return const_cast<char*>("is duplicate");
    const ngx_str_t* args = conf_args(cf);
    CommonOptions opts;
    std::string_view header, algorithm, encoding, prefix;
    for (ngx_uint_t i = 1; i < cf->args->nelts; ++i) {
        auto handled = common_option(cf, args[i], opts);
        if (handled) {
            if (!handled->empty()) return conf_error(cf, *handled);
            continue;
        }
        const std::string_view a = sv(args[i]);
        const std::size_t eq = a.find('=');
        const std::string_view name = a.substr(0, eq);
        const std::string_view value = eq == std::string_view::npos ? std::string_view{} : a.substr(eq + 1);
        if (eq == std::string_view::npos) return conf_error(cf, "invalid parameter \"" + std::string(a) + "\"");
        if (name == "header") header = value;
        else if (name == "algorithm") algorithm = value;
        else if (name == "encoding") encoding = value;
        else if (name == "prefix") prefix = value;
        else return conf_error(cf, "invalid parameter \"" + std::string(a) + "\"");
    }
    if (header.empty() || algorithm.empty() || encoding.empty() || opts.secrets.empty()) {
        return conf_error(cf, "needs header=<name> algorithm=<sha1|sha256|sha512> encoding=<hex|base64> "
                              "secret_file=<path>");
    }
    auto scheme = wh::make_generic(header, algorithm, encoding, prefix);
    if (!scheme) return conf_error(cf, scheme.error());
    return install_rule(cf, loc, std::move(scheme).value(), std::move(opts));
} catch (...) {
    return static_cast<char*>(NGX_CONF_ERROR);
}

char* set_webhook_replay_zone(ngx_conf_t* cf, ngx_command_t*, void* conf) noexcept try {
    auto& wm = static_cast<MainConf*>(conf)->webhook;
    auto spec = parse_zone_spec(conf_args(cf)[1]);
    if (!spec) return conf_error(cf, spec.error());
    const std::string& name = spec.value().name;
    ReplayZone* zone = wm.zone(name, true);
    if (zone->size != 0) return conf_error(cf, "zone \"" + name + "\" is already defined");
    zone->size = spec.value().size;
    zone->shm = add_table_zone(cf, "levqor_webhook_replay_zone", name, zone->size, init_replay_zone, zone);
    if (zone->shm == nullptr) return static_cast<char*>(NGX_CONF_ERROR);
    return NGX_CONF_OK;
} catch (...) {
    return static_cast<char*>(NGX_CONF_ERROR);
}

char* set_webhook_mode(ngx_conf_t* cf, ngx_command_t*, void* conf) noexcept {
    auto& loc = static_cast<LocConf*>(conf)->webhook;
    if (loc.mode != NGX_CONF_UNSET) return const_cast<char*>("is duplicate");
    const std::string_view v = sv(conf_args(cf)[1]);
    if (v == "enforce") loc.mode = static_cast<ngx_int_t>(WebhookMode::Enforce);
    else if (v == "log_only") loc.mode = static_cast<ngx_int_t>(WebhookMode::LogOnly);
    else return conf_error(cf, "invalid value \"" + std::string(v) + "\", expected enforce or log_only");
    return NGX_CONF_OK;
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
    ngx_conf_merge_value(child.mode, parent.mode, static_cast<ngx_int_t>(WebhookMode::Enforce));
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
            if (z->data != nullptr) rows.push_back({z.get(), z->set.stats(static_cast<std::uint64_t>(ngx_time()))});
        }
        if (rows.empty()) return;
        auto family = [&](const char* name, const char* help, const char* type, auto value) {
            metrics::write_family_header(out, name, help, type);
            for (const auto& row : rows) metrics::write_sample(out, name, {{"zone", row.zone->name}}, value(row.stats));
        };
        family("levqor_webhook_replay_entries", "Entries in the replay zone that are still live (a delivery takes one, or two: id and signature).", "gauge",
               [](const wh::ReplayStats& s) { return s.live; });
        family("levqor_webhook_replay_capacity", "Entries the replay zone can hold.", "gauge",
               [](const wh::ReplayStats& s) { return s.capacity; });
        family("levqor_webhook_replay_evictions_total",
               "Live entries evicted before they expired because their set was full.", "counter",
               [](const wh::ReplayStats& s) { return s.evicted_live; });
    });
}

bool add_handler(ngx_conf_t* cf, ngx_http_phases phase, ngx_http_handler_pt handler) {
    auto* cmcf = static_cast<ngx_http_core_main_conf_t*>(ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module));
    auto* h = static_cast<ngx_http_handler_pt*>(ngx_array_push(&cmcf->phases[phase].handlers));
    if (h == nullptr) return false;
    *h = handler;
    return true;
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
    if (!add_handler(cf, NGX_HTTP_ACCESS_PHASE, webhook_access_handler)) return NGX_ERROR;
    for (const auto& rule : wm.rules) {
        if (rule->replay != nullptr) return add_handler(cf, NGX_HTTP_LOG_PHASE, webhook_log_handler) ? NGX_OK : NGX_ERROR;
    }
    return NGX_OK;
} catch (...) {
    return NGX_ERROR;
}

}  // namespace levqor::ngx
