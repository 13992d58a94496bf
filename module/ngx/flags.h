// levqor_flags_file: runtime feature flags written by levqor-controld.
// Each worker reads the file at start and re-checks it once a second from a
// timer (a stat() when nothing changed), so a change applies in every worker
// within a second, without a reload. The request path reads a process-local
// copy: no syscall, no lock. Without levqor_flags_file every flag reads as
// `on` and nginx.conf alone decides.
#pragma once

#include <string>

#include "levqor/flags.h"
#include "ngx_shim.h"

namespace levqor::ngx {

class MetricsRegistry;

struct FlagsMain {
    ngx_str_t path{0, nullptr};  // empty: no flags file
};

char* set_flags_file(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) noexcept;
void flags_register_metrics(MetricsRegistry& metrics);
void flags_init_process(ngx_cycle_t* cycle, const FlagsMain& conf) noexcept;

namespace detail {
extern flags::FlagSet current_flags;
extern bool flags_configured;
}

// The state a feature runs in: On without a flags file.
inline flags::State flag(flags::Flag f) noexcept {
    return detail::flags_configured ? detail::current_flags.get(f) : flags::State::on;
}

}  // namespace levqor::ngx
