// SPDX-License-Identifier: Apache-2.0
// Cost accounting at the edge: levqor_cost <value> [connector=<value>].
// In the log phase the request's USD amount (typically
// $upstream_http_x_ai_cost_usd) is parsed into nano-dollars and added to its
// connector's counter in the "levqor_cost" shared zone (levqor/cost.h:
// CostTable), rendered in levqor_status as levqor_ai_cost_usd_total{connector}
// and levqor_cost_invalid_total. The zone exists only when the directive is
// used and keeps its counters across nginx -s reload. Never affects the
// request.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "levqor/cost.h"
#include "ngx_shim.h"
#include "value_source.h"

namespace levqor::ngx {

class MetricsRegistry;

// One levqor_cost directive (not off). Literals are resolved once: the
// amount at configuration time, the connector's slot when the zone is
// initialised (in the master, before the workers start).
struct CostRule {
    bool amount_literal = false;
    std::uint64_t nanos = 0;  // the literal amount
    ValueSource amount;       // otherwise
    bool connector_literal = true;
    std::string connector_name;                  // the literal connector
    std::size_t slot = cost::CostTable::kOther;  // its slot
    ValueSource connector;                       // otherwise
};

struct CostMain {
    std::vector<CostRule*> rules;  // every directive, for the slot resolution
    cost::CostTable table;         // valid once the zone is initialised
};

struct CostLoc {
    bool set_here = false;           // levqor_cost (or off) at this level
    const CostRule* rule = nullptr;  // in effect (null: none or off)
};

char* set_cost(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) noexcept;
char* cost_merge(ngx_conf_t* cf, const CostLoc& parent, CostLoc& child) noexcept;
ngx_int_t cost_postconfiguration(ngx_conf_t* cf) noexcept;

}  // namespace levqor::ngx
