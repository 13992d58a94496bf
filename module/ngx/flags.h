// SPDX-License-Identifier: Apache-2.0
// levqor_flags_file: runtime feature flags written by levqor-controld.
//
// The master reads the file at configuration time (start, reload, nginx -t)
// and checks that the worker user can read it: a file (or a directory on its
// path) the workers cannot read fails the configuration with a message that
// says what to do. The workers start from the flags the master read and
// re-check the file once a second from a timer (a stat() when nothing
// changed), so a change applies in every worker within a second, without a
// reload; a worker that cannot read the file keeps the flags it has.
//
// Fail closed: a file that is missing or invalid when nginx starts means
// every flag `on` (each feature runs as nginx.conf configures it), logged at
// warn; at a reload, the flags the master read before stay. The request path
// reads a process-local copy: no syscall, no lock. Without levqor_flags_file
// every flag reads as `on` and nginx.conf alone decides.
#pragma once

#include <string>

#include "levqor/flags.h"
#include "ngx_shim.h"

namespace levqor::ngx {

class MetricsRegistry;

struct FlagsMain {
    ngx_str_t path{0, nullptr};    // empty: no flags file
    ngx_cycle_t* cycle = nullptr;  // the configuration's cycle (its core conf names the worker user)
    flags::FlagSet initial;        // what the master read (set at configuration time); workers start from it
};

char* set_flags_file(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) noexcept;
void flags_register_metrics(MetricsRegistry& metrics);
void flags_init_process(ngx_cycle_t* cycle, const FlagsMain& conf) noexcept;

namespace detail {
extern flags::FlagSet current_flags;
extern bool flags_configured;
}  // namespace detail

// The state a feature runs in: On without a flags file.
inline flags::State flag(flags::Flag f) noexcept {
    return detail::flags_configured ? detail::current_flags.get(f) : flags::State::on;
}

}  // namespace levqor::ngx
