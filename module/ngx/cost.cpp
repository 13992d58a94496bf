// SPDX-License-Identifier: Apache-2.0
#include "cost.h"

#include <string>

#include "metrics_zone.h"
#include "module.h"
#include "ngx_util.h"

namespace levqor::ngx {
namespace {

using cost::CostTable;

// An invalid amount is logged up to this many bytes (the line stays bounded).
constexpr std::size_t kLoggedAmount = 64;

// One request's amount: never fails the request, never allocates (a lone
// variable or header is read in place; a literal connector's slot was
// resolved before the workers started). Out of line, so that requests
// without levqor_cost pay only the check in cost_log_handler.
[[gnu::noinline]] void count_cost(ngx_http_request_t* r, const CostRule& rule) noexcept {
    CostTable& table = main_conf<MainConf>(r)->cost.table;
    if (!table.valid()) return;
    std::uint64_t nanos = rule.nanos;
    if (!rule.amount_literal) {
        ngx_str_t value{0, nullptr};
        if (!rule.amount.eval(r, value)) return;  // nginx logged why
        const cost::Amount amount = cost::parse_usd(sv(value));
        if (amount.kind == cost::Amount::Kind::Empty) return;
        if (amount.kind == cost::Amount::Kind::Invalid) {
            table.count_invalid();
            value.len = value.len < kLoggedAmount ? value.len : kLoggedAmount;
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0, "levqor_cost: invalid amount \"%V\" ignored", &value);
            return;
        }
        nanos = amount.nanos;
    }
    std::size_t slot = rule.slot;
    if (!rule.connector_literal) {
        ngx_str_t name{0, nullptr};
        slot = rule.connector.eval(r, name) ? table.slot_for(sv(name), static_cast<std::int32_t>(ngx_pid))
                                            : CostTable::kOther;
    }
    table.add(slot, nanos);
}

// The log phase; the main request counts (not subrequests logged with
// log_subrequest).
ngx_int_t cost_log_handler(ngx_http_request_t* r) noexcept {
    const CostRule* rule = loc_conf<LocConf>(r)->cost.rule;
    if (rule != nullptr && r == r->main) count_cost(r, *rule);
    return NGX_OK;
}

// The zone's shm init (master; at start and at every reload): a new table,
// or the one the previous cycle left (same name and size), then the slots of
// the literal connectors.
ngx_int_t init_cost_zone(ngx_shm_zone_t* zone, void*) noexcept try {
    auto* cm = static_cast<CostMain*>(zone->data);
    auto* shpool = reinterpret_cast<ngx_slab_pool_t*>(zone->shm.addr);
    // A fresh zone is zeroed memory (no table yet); a kept one holds the
    // table in shpool->data, whatever old_data says.
    if (shpool->data != nullptr) {
        const std::string changed = CostTable::attach(shpool->data, cm->table);
        if (!changed.empty()) {
            ngx_log_error(NGX_LOG_EMERG, zone->shm.log, 0,
                          "levqor_cost cannot keep its counters across this reload: %s; restart nginx",
                          changed.c_str());
            return NGX_ERROR;
        }
    } else {
        void* mem = ngx_slab_alloc(shpool, CostTable::bytes());
        if (mem == nullptr) return NGX_ERROR;
        cm->table = CostTable::create(mem);
        shpool->data = mem;
    }
    for (CostRule* rule : cm->rules) {
        if (rule->connector_literal) {
            rule->slot = cm->table.slot_for(rule->connector_name, static_cast<std::int32_t>(ngx_pid));
        }
    }
    return NGX_OK;
} catch (...) {
    ngx_log_error(NGX_LOG_EMERG, zone->shm.log, 0, "levqor_cost: cannot initialise its zone");
    return NGX_ERROR;
}

}  // namespace

char* set_cost(ngx_conf_t* cf, ngx_command_t*, void* conf) noexcept try {
    CostLoc& loc = static_cast<LocConf*>(conf)->cost;
    if (loc.set_here) return const_cast<char*>("is duplicate");
    const auto parsed = cost::parse_cost_args(conf_params(cf, 1));
    if (!parsed) return conf_error(cf, parsed.error());
    const cost::CostArgs& args = parsed.value();
    loc.set_here = true;
    if (args.off) return NGX_CONF_OK;

    auto* rule = pool_new<CostRule>(cf->pool);
    if (rule == nullptr) return static_cast<char*>(NGX_CONF_ERROR);
    if (args.literal_nanos) {
        rule->amount_literal = true;
        rule->nanos = *args.literal_nanos;
    } else if (!rule->amount.compile(cf, ngx_str(args.amount))) {
        return static_cast<char*>(NGX_CONF_ERROR);
    }
    rule->connector_literal = args.connector_literal;
    if (args.connector_literal) {
        rule->connector_name = std::string(args.connector);
    } else if (!rule->connector.compile(cf, ngx_str(args.connector))) {
        return static_cast<char*>(NGX_CONF_ERROR);
    }
    main_conf<MainConf>(cf)->cost.rules.push_back(rule);
    loc.rule = rule;
    return NGX_CONF_OK;
} catch (...) {
    return conf_exception(cf);
}

char* cost_merge(ngx_conf_t*, const CostLoc& parent, CostLoc& child) noexcept {
    if (!child.set_here) child.rule = parent.rule;
    return NGX_CONF_OK;
}

ngx_int_t cost_postconfiguration(ngx_conf_t* cf) noexcept try {
    auto* mcf = main_conf<MainConf>(cf);
    CostMain& cm = mcf->cost;
    if (cm.rules.empty()) return NGX_OK;  // no zone, no handler, no families

    static ngx_str_t name = ngx_string("levqor_cost");
    std::size_t size = CostTable::bytes() + 8 * ngx_pagesize;
    size = (size + ngx_pagesize - 1) / ngx_pagesize * ngx_pagesize;
    ngx_shm_zone_t* zone = ngx_shared_memory_add(cf, &name, size, &ngx_http_levqor_module);
    if (zone == nullptr) return NGX_ERROR;
    zone->init = init_cost_zone;
    zone->data = &cm;

    const CostTable* table = &cm.table;
    mcf->metrics.add_collector([table](std::string& out) {
        if (table->valid()) cost::render(out, *table);
    });
    return add_phase_handler(cf, NGX_HTTP_LOG_PHASE, cost_log_handler) ? NGX_OK : NGX_ERROR;
} catch (...) {
    log_conf_exception(cf);
    return NGX_ERROR;
}

}  // namespace levqor::ngx
