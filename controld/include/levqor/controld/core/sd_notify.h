// SPDX-License-Identifier: Apache-2.0
// systemd's service notification protocol (sd_notify(3)), spoken directly so
// controld needs no libsystemd: one datagram of newline-separated
// "VARIABLE=value" lines (READY=1, RELOADING=1, STOPPING=1, STATUS=...,
// WATCHDOG=1) sent over an AF_UNIX SOCK_DGRAM socket to $NOTIFY_SOCKET (a
// path, or '@' for a Linux abstract name). Without $NOTIFY_SOCKET (not under
// systemd, or Type= is not notify) every call does nothing.
//
// Thread-safety: a Notifier is immutable after construction; notify() may be
// called from any thread (each call is one sendto()).
#pragma once

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "levqor/controld/core/settings_reader.h"
#include "levqor/controld/core/unique_fd.h"

namespace levqor::controld {

// $NOTIFY_SOCKET as a socket address: "/absolute/path" or "@abstract name"
// (the '@' becomes the leading NUL). Throws std::invalid_argument for
// anything else (a relative path, vsock:, an empty or too long name).
struct NotifyAddress {
    sockaddr_un addr{};
    socklen_t length = 0;
};
NotifyAddress parse_notify_socket(std::string_view text);

// The watchdog interval systemd expects pings within: $WATCHDOG_USEC (a
// positive whole number of microseconds), for this process only when
// $WATCHDOG_PID is unset or equals `self`. nullopt when there is no watchdog;
// throws std::invalid_argument for a value that is not such a number.
std::optional<std::chrono::microseconds> parse_watchdog(const std::optional<std::string>& usec,
                                                        const std::optional<std::string>& pid, pid_t self);

class Notifier {
public:
    Notifier() = default;  // disabled
    // From NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID. Throws ConfigError
    // (naming the variable) for values that cannot be used, std::runtime_error
    // when no socket can be created.
    static Notifier from_environment(const EnvLookup& env, pid_t self);

    bool enabled() const { return fd_.valid(); }
    std::optional<std::chrono::microseconds> watchdog() const { return watchdog_; }

    // Sends `state` ("READY=1\nSTATUS=...") as one datagram. True when sent or
    // disabled; false when sendto() failed (errno says why): the daemon goes
    // on, systemd decides what a missing READY=1 or WATCHDOG=1 means.
    bool notify(std::string_view state) const;

private:
    UniqueFd fd_;
    NotifyAddress address_;
    std::optional<std::chrono::microseconds> watchdog_;
};

// When the next WATCHDOG=1 is due: every half of systemd's interval (the
// sd_watchdog_enabled(3) advice), counted from the last ping. Not thread-safe:
// one thread pings.
class WatchdogClock {
public:
    using Clock = std::chrono::steady_clock;
    WatchdogClock(std::chrono::microseconds interval, Clock::time_point now) : period_(interval / 2), next_(now) {}

    std::chrono::microseconds period() const { return period_; }
    // True (and the next ping scheduled one period later) when one is due.
    bool due(Clock::time_point now);

private:
    std::chrono::microseconds period_;
    Clock::time_point next_;
};

}  // namespace levqor::controld
