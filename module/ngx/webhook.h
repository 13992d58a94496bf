// SPDX-License-Identifier: Apache-2.0
// Webhook signatures: levqor_webhook, levqor_webhook_generic,
// levqor_webhook_replay_zone, levqor_webhook_mode. Configuration objects,
// replay zones and metrics (webhook_conf.cpp); the access-phase handler that
// reads the body with nginx's body reader and verifies it, the 401, the log
// phase and $levqor_webhook_status (webhook_handler.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "levqor/replay_set.h"
#include "levqor/webhook_args.h"
#include "levqor/webhook_scheme.h"
#include "levqor/webhook_verifier.h"
#include "ngx_shim.h"
#include "shm_table.h"

namespace levqor::ngx {

// A replay zone's shared memory is its set alone.
struct ReplayZoneShm {};
// levqor_webhook_replay_zone: name, size, shared memory and replay set.
struct ReplayZone : TableZone<ReplayZoneShm, webhook::ReplaySet> {};

// A request header the scheme reads: its lowercase name and hash, as nginx
// keeps them in r->headers_in (empty: the field is not used).
struct HeaderKey {
    ngx_str_t lower{0, nullptr};
    ngx_uint_t hash = 0;
};

// Metrics cells of one provider.
struct ProviderCells {
    std::string name;
    std::size_t valid = 0, invalid = 0, log_only_invalid = 0;
    std::size_t reasons[webhook::kReasons] = {};
};

// One levqor_webhook / levqor_webhook_generic: everything the request path
// needs, prepared at configuration time. Lives as long as its cycle.
struct WebhookRule {
    std::unique_ptr<webhook::Verifier> verifier;
    std::optional<std::uint32_t> tolerance = 300;  // nullopt: tolerance=off
    ReplayZone* replay = nullptr;
    // Seconds a delivery without a usable timestamp stays in the replay zone.
    std::uint32_t replay_window = webhook::kDefaultReplayWindow;
    HeaderKey keys[2][webhook::kFields];  // [0] primary names, [1] alternate names
    std::size_t provider = 0;             // index into WebhookMain::providers
    ngx_str_t rejection{0, nullptr};      // {"error":"invalid_signature","provider":"..."}

    const webhook::Scheme& scheme() const { return verifier->scheme(); }
};

struct WebhookLoc {
    WebhookRule* rule = nullptr;  // set at this level (null with levqor_webhook off)
    bool set_here = false;
    const WebhookRule* effective = nullptr;  // after merge
    ngx_int_t mode = NGX_CONF_UNSET;         // a webhook::Mode once set
};

struct WebhookMain {
    std::vector<std::unique_ptr<WebhookRule>> rules;
    std::vector<std::unique_ptr<ReplayZone>> zones;
    std::vector<ProviderCells> providers;  // those configured, registered in postconfiguration

    std::size_t provider_slot(const std::string& name);
};

char* set_webhook(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) noexcept;
char* set_webhook_generic(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) noexcept;
char* set_webhook_replay_zone(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) noexcept;
char* set_webhook_mode(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) noexcept;

ngx_int_t webhook_preconfiguration(ngx_conf_t* cf) noexcept;
char* webhook_merge(ngx_conf_t* cf, WebhookLoc& parent, WebhookLoc& child) noexcept;
// Checks zones, registers metrics, installs the access and log handlers.
ngx_int_t webhook_postconfiguration(ngx_conf_t* cf) noexcept;

ngx_int_t webhook_access_handler(ngx_http_request_t* r) noexcept;
ngx_int_t webhook_log_handler(ngx_http_request_t* r) noexcept;
ngx_int_t webhook_status_variable(ngx_http_request_t* r, ngx_http_variable_value_t* v, uintptr_t data) noexcept;

// The outcome for a request, kept on the main request (see request_ctx.h).
enum class WebhookStatus : std::uint8_t { Pending, Valid, Invalid, Missing, Stale, Replay, LogOnlyInvalid, Error };

// One check of a request. An internal redirect into a location with another
// rule or mode checks the request again with a new context; `previous` keeps
// the earlier ones (their replay entries are this request's own).
struct WebhookCtx {
    const WebhookRule* rule;
    ngx_int_t mode;  // the location's levqor_webhook_mode
    const WebhookCtx* previous;
    WebhookStatus status;
    webhook::Reason reason;
    webhook::Field field;  // the header a header problem is about
    bool alternate;        // the delivery used the scheme's alternate header names
    bool log_only;
    std::uint8_t recorded;  // replay entries made (forgotten if the upstream fails)
    std::uint64_t replay_tags[2];
    std::string_view detail;  // static text
    webhook::Delivery delivery;
};

}  // namespace levqor::ngx
