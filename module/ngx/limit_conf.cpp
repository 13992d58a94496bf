// SPDX-License-Identifier: Apache-2.0
// Rate limiting configuration: zones (shared memory, reused across reloads),
// plans, levqor_limit rules, inheritance, metrics registration.
#include <cstring>
#include <string>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "limit.h"
#include "module.h"
#include "ngx_util.h"

namespace levqor::ngx {

namespace lim = levqor::limit;

namespace {

// Text kept for the configuration's life in `mr` (the configuration pool).
std::string_view keep(std::pmr::memory_resource* mr, std::string_view text) {
    if (text.empty()) return {};
    auto* p = static_cast<char*>(mr->allocate(text.size(), 1));
    std::memcpy(p, text.data(), text.size());
    return {p, text.size()};
}

RuntimePlan make_runtime_plan(lim::Plan plan, bool user_defined, std::pmr::memory_resource* mr) {
    RuntimePlan rp;
    rp.limits[kKey] = plan.key_limit();
    rp.limits[kIp] = plan.ip_limit();
    rp.limits[kAnonymous] = plan.key_limit();
    for (const BucketKind k : kAllKinds) {
        const std::string name = plan.name + (k == kKey ? "-key" : k == kIp ? "-ip" : "-anonymous");
        rp.policy_names[k] = keep(mr, name);
        rp.policy_items[k] = keep(mr, lim::policy_item(name, rp.limits[k]));
        rp.state_prefixes[k] = keep(mr, lim::state_item_prefix(name));
    }
    std::uint64_t salt = 0xcbf29ce484222325ULL;  // FNV-1a of the plan name
    for (const char c : plan.name) salt = (salt ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
    rp.tag_salt = salt;
    rp.plan = std::move(plan);
    rp.user_defined = user_defined;
    return rp;
}

// levqor_limit_log_level's word as nginx's log level.
Parsed<ngx_uint_t> nginx_level(const Parsed<lim::LogLevel>& level) {
    static constexpr ngx_uint_t kLevels[] = {NGX_LOG_INFO, NGX_LOG_NOTICE, NGX_LOG_WARN, NGX_LOG_ERR};
    if (!level) return Parsed<ngx_uint_t>::failure(level.error());
    return kLevels[static_cast<std::size_t>(level.value())];
}

bool has_variables(std::string_view v) { return v.find('$') != std::string_view::npos; }

ngx_int_t init_zone(ngx_shm_zone_t* shm_zone, void* old_data) noexcept {
    return init_table_zone<LimitZone>(shm_zone, old_data, "levqor_limit_zone");
}

}  // namespace

// ---- LimitMain ----------------------------------------------------------------

LimitMain::LimitMain(std::pmr::memory_resource* mr) : plans(mr), zones(mr) {
    for (auto& p : lim::default_plans()) plans.push_back(make_runtime_plan(std::move(p), false, mr));
}

ngx_int_t LimitMain::find_plan(const u_char* name, std::size_t len) const noexcept {
    for (std::size_t i = 0; i < plans.size(); ++i) {
        const std::string& n = plans[i].plan.name;
        if (n.size() == len && std::memcmp(n.data(), name, len) == 0) return static_cast<ngx_int_t>(i);
    }
    return -1;
}

// ---- directives ---------------------------------------------------------------

char* set_limit_zone(ngx_conf_t* cf, ngx_command_t*, void* conf) noexcept try {
    auto& lm = static_cast<MainConf*>(conf)->limit;
    auto spec = parse_zone_spec(conf_args(cf)[1]);
    if (!spec) return conf_error(cf, spec.error());
    auto args = lim::parse_zone_args(conf_params(cf, 2));
    if (!args) return conf_error(cf, args.error());
    auto zone = define_table_zone(cf, lm.zones, spec.value(), "levqor_limit_zone", init_zone);
    if (!zone) return conf_error(cf, zone.error());
    if (args.value().redis) {
        auto file = read_secret_file(cf, ngx_str(args.value().key_secret_file), "key_secret_file");
        if (!file) return conf_error(cf, file.error());
        SecretFile f = std::move(file).value();
        auto secret = levqor::redis::key_secret(f.text, f.path);
        OPENSSL_cleanse(f.text.data(), f.text.size());
        if (!secret) return conf_error(cf, secret.error());
        const std::string_view auth_file = args.value().sentinel_auth_file;
        auto options = std::make_unique<lim::RedisOptions>(*std::move(args).value().redis);
        options->key_secret = secret.value();
        if (!auth_file.empty()) {
            auto a = read_secret_file(cf, ngx_str(auth_file), "sentinel_auth_file");
            if (!a) return conf_error(cf, a.error());
            SecretFile af = std::move(a).value();
            auto auth = levqor::redis::sentinel_auth(af.text, af.path);
            OPENSSL_cleanse(af.text.data(), af.text.size());
            if (!auth) return conf_error(cf, auth.error());
            levqor::redis::SentinelAuth sa = std::move(auth).value();
            options->endpoint.sentinel_user = std::move(sa.user);
            options->endpoint.sentinel_password = std::move(sa.password);
        }
        zone.value()->redis = std::move(options);
    }
    return NGX_CONF_OK;
} catch (...) {
    return conf_exception(cf);
}

char* set_plan(ngx_conf_t* cf, ngx_command_t*, void* conf) noexcept try {
    auto& lm = static_cast<MainConf*>(conf)->limit;
    const ngx_str_t* args = conf_args(cf);
    auto plan = lim::parse_plan(sv(args[1]), conf_params(cf, 2));
    if (!plan) return conf_error(cf, plan.error());
    const ngx_int_t existing = lm.find_plan(args[1].data, args[1].len);
    if (existing >= 0) {
        // The built-in free and pro plans may be redefined once.
        if (lm.plans[existing].user_defined) return conf_error(cf, "plan \"" + str(args[1]) + "\" is already defined");
        lm.plans[existing] = make_runtime_plan(std::move(plan).value(), true, lm.plans.get_allocator().resource());
        return NGX_CONF_OK;
    }
    lm.plans.push_back(make_runtime_plan(std::move(plan).value(), true, lm.plans.get_allocator().resource()));
    return NGX_CONF_OK;
} catch (...) {
    return conf_exception(cf);
}

char* set_limit(ngx_conf_t* cf, ngx_command_t*, void* conf) noexcept try {
    auto& loc = static_cast<LocConf*>(conf)->limit;
    auto& lm = main_conf<MainConf>(cf)->limit;
    if (loc.rules.size() * 2 >= lim::kMaxBuckets) {
        return conf_error(cf, "allows at most " + std::to_string(lim::kMaxBuckets / 2) + " limits per location");
    }
    auto parsed = lim::parse_rule_args(conf_params(cf, 1));
    if (!parsed) return conf_error(cf, parsed.error());
    const lim::RuleArgs& args = parsed.value();
    LimitRule rule;
    rule.zone = zone_named(cf->pool, lm.zones, std::string(args.zone));
    if (!rule.key.compile(cf, ngx_str(args.key))) return static_cast<char*>(NGX_CONF_ERROR);
    if (has_variables(args.plan)) {
        if (!rule.plan.compile(cf, ngx_str(args.plan))) return static_cast<char*>(NGX_CONF_ERROR);
    } else {
        rule.plan_literal = std::string(args.plan);
    }
    // No ip=: the connection's address; ip=off: no per-address bucket.
    static const std::string_view remote = "$binary_remote_addr";
    if (!args.ip_off && !rule.ip.compile(cf, ngx_str(args.ip.value_or(remote)))) {
        return static_cast<char*>(NGX_CONF_ERROR);
    }
    rule.ip_prefix6 = args.ip_prefix6;
    rule.cost = args.cost;
    rule.dry_run = args.dry_run;
    loc.rules.push_back(std::move(rule));
    loc.rules_here = true;
    return NGX_CONF_OK;
} catch (...) {
    return conf_exception(cf);
}

char* set_limit_status(ngx_conf_t* cf, ngx_command_t*, void* conf) noexcept try {
    return store(cf, static_cast<LocConf*>(conf)->limit.status, NGX_CONF_UNSET_UINT,
                 lim::parse_limit_status(sv(conf_args(cf)[1])));
} catch (...) {
    return conf_exception(cf);
}

char* set_limit_headers(ngx_conf_t* cf, ngx_command_t*, void* conf) noexcept try {
    return store(cf, static_cast<LocConf*>(conf)->limit.header_mode, static_cast<ngx_int_t>(NGX_CONF_UNSET),
                 lim::parse_header_mode(sv(conf_args(cf)[1])));
} catch (...) {
    return conf_exception(cf);
}

char* set_limit_headers_upstream(ngx_conf_t* cf, ngx_command_t*, void* conf) noexcept try {
    return store(cf, static_cast<LocConf*>(conf)->limit.upstream_mode, static_cast<ngx_int_t>(NGX_CONF_UNSET),
                 lim::parse_upstream_mode(sv(conf_args(cf)[1])));
} catch (...) {
    return conf_exception(cf);
}

char* set_limit_log_level(ngx_conf_t* cf, ngx_command_t*, void* conf) noexcept try {
    return store(cf, static_cast<LocConf*>(conf)->limit.log_level, NGX_CONF_UNSET_UINT,
                 nginx_level(lim::parse_log_level(sv(conf_args(cf)[1]))));
} catch (...) {
    return conf_exception(cf);
}

// ---- lifecycle ------------------------------------------------------------------

namespace {

char* resolve_static_plans(ngx_conf_t* cf, std::pmr::vector<LimitRule>& rules) {
    const auto& lm = main_conf<MainConf>(cf)->limit;
    for (auto& rule : rules) {
        if (rule.plan_literal.empty() || rule.static_plan >= 0) continue;
        rule.static_plan =
            lm.find_plan(reinterpret_cast<const u_char*>(rule.plan_literal.data()), rule.plan_literal.size());
        if (rule.static_plan < 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "levqor_limit: unknown plan \"%s\" (define it with levqor_plan)",
                               rule.plan_literal.c_str());
            return static_cast<char*>(NGX_CONF_ERROR);
        }
        rule.plan_ptr = &lm.plans[static_cast<std::size_t>(rule.static_plan)];
    }
    return NGX_CONF_OK;
}

}  // namespace

namespace {

// A Redis decision is one EVALSHA against one zone: the limits of a location
// are all local, or all in the same Redis-backed zone.
char* check_backends(ngx_conf_t* cf, const std::pmr::vector<LimitRule>& rules) {
    for (const auto& rule : rules) {
        const bool mixed = (rule.zone->redis != nullptr) != (rules.front().zone->redis != nullptr) ||
                           (rule.zone->redis != nullptr && rule.zone != rules.front().zone);
        if (mixed) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "levqor_limit: the limits of one location must all use local zones or all the "
                               "same redis zone (\"%s\" and \"%s\")",
                               rules.front().zone->name.c_str(), rule.zone->name.c_str());
            return static_cast<char*>(NGX_CONF_ERROR);
        }
    }
    return NGX_CONF_OK;
}

// One request's charge, cost x interval, stretched `nodes` times when the
// Redis fallback decides locally with 1/nodes of the plan, must stay below
// 2^62 ns for every plan the rule may use, or the bucket's TAT could wrap
// (and a wrapped TAT admits). Plans and zones are all known at merge time.
char* check_charges(ngx_conf_t* cf, const std::pmr::vector<LimitRule>& rules) {
    const auto& lm = main_conf<MainConf>(cf)->limit;
    for (const auto& rule : rules) {
        const lim::RedisOptions* rs = rule.zone->redis.get();
        const std::uint64_t nodes = rs != nullptr && rs->on_error == lim::RedisOptions::OnError::Local ? rs->nodes : 1;
        const std::size_t first = rule.static_plan >= 0 ? static_cast<std::size_t>(rule.static_plan) : 0;
        const std::size_t last = rule.static_plan >= 0 ? first + 1 : lm.plans.size();
        for (std::size_t i = first; i < last; ++i) {
            const lim::Plan& plan = lm.plans[i].plan;
            for (const auto& [rate, label] : {std::pair{plan.key, "key"}, std::pair{plan.ip, "ip"}}) {
                if (lim::charge_fits(rule.cost, rate.interval_ns(), nodes)) continue;
                const std::string msg = "levqor_limit zone=" + rule.zone->name + " cost=" + std::to_string(rule.cost) +
                                        ": cost x interval x nodes = " + std::to_string(rule.cost) + " x " +
                                        std::to_string(rate.interval_ns()) + " ns (plan \"" + plan.name + "\" " +
                                        label + "=" + rate.text() + ") x " + std::to_string(nodes) +
                                        " (nodes= of levqor_limit_zone \"" + rule.zone->name +
                                        "\") is not below 2^62 ns; lower cost= or nodes=";
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "%s", msg.c_str());
                return static_cast<char*>(NGX_CONF_ERROR);
            }
        }
    }
    return NGX_CONF_OK;
}

}  // namespace

char* limit_merge(ngx_conf_t* cf, LimitLoc& parent, LimitLoc& child) noexcept try {
    for (auto* rules : {&parent.rules, &child.rules}) {
        if (resolve_static_plans(cf, *rules) != NGX_CONF_OK || check_backends(cf, *rules) != NGX_CONF_OK ||
            check_charges(cf, *rules) != NGX_CONF_OK) {
            return static_cast<char*>(NGX_CONF_ERROR);
        }
    }
    if (parent.rules_here && parent.effective == nullptr) parent.effective = &parent.rules;
    // Like limit_req: a level with levqor_limit directives replaces the inherited ones.
    child.effective = child.rules_here ? &child.rules : parent.effective;
    ngx_conf_merge_uint_value(child.status, parent.status, NGX_HTTP_TOO_MANY_REQUESTS);
    ngx_conf_merge_uint_value(child.log_level, parent.log_level, NGX_LOG_ERR);
    ngx_conf_merge_value(child.header_mode, parent.header_mode, static_cast<ngx_int_t>(lim::HeaderMode::Draft));
    ngx_conf_merge_value(child.upstream_mode, parent.upstream_mode, static_cast<ngx_int_t>(lim::UpstreamMode::Merge));
    if (child.effective != nullptr && !child.effective->empty() &&
        child.header_mode != static_cast<ngx_int_t>(lim::HeaderMode::Off)) {
        main_conf<MainConf>(cf)->limit.any_headers = true;
    }
    return NGX_CONF_OK;
} catch (...) {
    return conf_exception(cf);
}

namespace {

void register_metrics(LimitMain& lm, MetricsRegistry& metrics) {
    const char* decisions_help = "Rate-limit decisions, by zone, plan and result.";
    const char* hits_help = "Requests over a rate limit, by zone, plan and the limit (key or ip) that was hit.";
    const char* upstream_help =
        "Rate-limit field lines an upstream sent, by what levqor_limit_headers_upstream did with them (merged, "
        "replaced, malformed: dropped because they did not parse).";
    auto upstream = [&](const char* action) {
        return metrics.layout.counter("levqor_ratelimit_upstream_fields_total", upstream_help, {{"action", action}});
    };
    lm.upstream_merged = upstream("merged");
    lm.upstream_replaced = upstream("replaced");
    lm.upstream_malformed = upstream("malformed");
    for (auto& z : lm.zones) {
        z->cells.clear();
        for (const auto& rp : lm.plans) {
            const std::string& plan = rp.plan.name;
            auto decision = [&](const char* result) {
                return metrics.layout.counter("levqor_ratelimit_decisions_total", decisions_help,
                                              {{"zone", z->name}, {"plan", plan}, {"result", result}});
            };
            auto hit = [&](const char* limit) {
                return metrics.layout.counter("levqor_rate_limit_hits_total", hits_help,
                                              {{"zone", z->name}, {"plan", plan}, {"limit", limit}});
            };
            z->cells.push_back(PlanCells{decision("passed"), decision("rejected"), decision("dry_run_rejected"),
                                         hit("key"), hit("ip"), decision("fallback_passed"),
                                         decision("fallback_rejected"), decision("fallback_allowed"),
                                         decision("fallback_denied")});
        }
        if (z->redis != nullptr) {
            auto error = [&](const char* reason) {
                return metrics.layout.counter(
                    "levqor_ratelimit_backend_errors_total",
                    "Failed or skipped Redis calls of rate-limit decisions, by backend, zone and reason (timeout, "
                    "connection, error, unavailable: not connected or circuit open).",
                    {{"backend", "redis"}, {"zone", z->name}, {"reason", reason}});
            };
            z->redis_cells =
                RedisConn::Cells{error("timeout"), error("connection"), error("error"), error("unavailable")};
        }
    }
    metrics.add_collector([&lm](std::string& out) {
        if (lm.zones.empty()) return;
        struct Row {
            const LimitZone* zone;
            lim::TableStats stats;
        };
        std::vector<Row> rows;
        for (const auto& z : lm.zones) {
            if (z->data != nullptr) rows.push_back({z, z->table.stats()});
        }
        auto family = [&](const char* name, const char* help, const char* type, auto value) {
            metrics::write_family_header(out, name, help, type);
            for (const auto& row : rows) value(row);
        };
        family("levqor_ratelimit_keys", "Buckets held in the zone (keys and IPs seen recently).", "gauge",
               [&](const Row& row) {
                   metrics::write_sample(out, "levqor_ratelimit_keys", {{"zone", row.zone->name}}, row.stats.tracked);
               });
        family("levqor_ratelimit_capacity", "Buckets the zone can hold.", "gauge", [&](const Row& row) {
            metrics::write_sample(out, "levqor_ratelimit_capacity", {{"zone", row.zone->name}}, row.stats.capacity);
        });
        family("levqor_ratelimit_zone_fill_ratio", "Share of the zone's buckets in use (0..1).", "gauge",
               [&](const Row& row) {
                   const double fill = row.stats.capacity == 0 ? 0.0
                                                               : static_cast<double>(row.stats.tracked) /
                                                                     static_cast<double>(row.stats.capacity);
                   metrics::write_sample(out, "levqor_ratelimit_zone_fill_ratio", {{"zone", row.zone->name}}, fill);
               });
        family("levqor_ratelimit_evictions_total",
               "Buckets evicted to make room: full (refilled, no state lost), indebted (the least indebted of a "
               "full set), throttled (a bucket that was rejecting requests: its client got a fresh burst).",
               "counter", [&](const Row& row) {
                   const std::pair<const char*, std::uint64_t> kinds[] = {{"full", row.stats.reused_full},
                                                                          {"indebted", row.stats.evicted_indebted},
                                                                          {"throttled", row.stats.evicted_throttled}};
                   for (const auto& [reason, count] : kinds) {
                       metrics::write_sample(out, "levqor_ratelimit_evictions_total",
                                             {{"zone", row.zone->name}, {"reason", reason}}, count);
                   }
               });
    });
}

}  // namespace

ngx_int_t limit_postconfiguration(ngx_conf_t* cf) noexcept try {
    auto* mcf = main_conf<MainConf>(cf);
    auto& lm = mcf->limit;
    for (const auto& z : lm.zones) {
        if (z->size == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "levqor_limit: zone \"%s\" is used but not defined by levqor_limit_zone",
                               z->name.c_str());
            return NGX_ERROR;
        }
    }
    register_metrics(lm, mcf->metrics);
    // Only where some location limits (a zone alone changes no request).
    if (!mcf->any_limit) return NGX_OK;
    return add_phase_handler(cf, NGX_HTTP_PREACCESS_PHASE, limit_handler) ? NGX_OK : NGX_ERROR;
} catch (...) {
    log_conf_exception(cf);
    return NGX_ERROR;
}

void limit_init_process(ngx_cycle_t* cycle) noexcept {
    auto* mcf = static_cast<MainConf*>(ngx_http_cycle_get_module_main_conf(cycle, ngx_http_levqor_module));
    if (mcf == nullptr) return;
    for (auto& z : mcf->limit.zones) {
        if (z->redis == nullptr) continue;
        try {
            z->conn = std::make_unique<RedisConn>(z->name, z->redis->endpoint, z->redis->key_secret,
                                                  z->redis->timeout_ms, cycle->log, z->redis_cells);
            z->conn->start();
        } catch (...) {
            ngx_log_error(NGX_LOG_ALERT, cycle->log, 0, "levqor_limit_zone \"%s\": cannot start redis",
                          z->name.c_str());
        }
    }
}

void limit_exit_process(ngx_cycle_t* cycle) noexcept {
    // Close the Redis connections, so a worker leaves no socket behind.
    auto* mcf = static_cast<MainConf*>(ngx_http_cycle_get_module_main_conf(cycle, ngx_http_levqor_module));
    if (mcf == nullptr) return;
    for (auto& z : mcf->limit.zones) z->conn.reset();
}

}  // namespace levqor::ngx
