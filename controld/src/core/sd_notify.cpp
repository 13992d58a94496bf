// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/core/sd_notify.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace levqor::controld {

NotifyAddress parse_notify_socket(std::string_view text) {
    NotifyAddress out;
    out.addr.sun_family = AF_UNIX;
    if (text.empty() || (text.front() != '/' && text.front() != '@')) {
        throw std::invalid_argument("expected an absolute socket path or an abstract name starting with '@'");
    }
    if (text.size() < 2 || text.size() > sizeof(out.addr.sun_path) - 1) {
        throw std::invalid_argument("the socket name has " + std::to_string(text.size()) + " characters; 2 to " +
                                    std::to_string(sizeof(out.addr.sun_path) - 1) + " are accepted");
    }
    if (text.find('\0') != std::string_view::npos) throw std::invalid_argument("a NUL byte in the socket name");
    std::memcpy(out.addr.sun_path, text.data(), text.size());
    if (text.front() == '@') out.addr.sun_path[0] = '\0';  // abstract: the length ends the name, no NUL
    out.length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + text.size() + (text.front() == '/' ? 1 : 0));
    return out;
}

std::optional<std::chrono::microseconds> parse_watchdog(const std::optional<std::string>& usec,
                                                        const std::optional<std::string>& pid, pid_t self) {
    if (!usec) return std::nullopt;
    const auto whole_number = [](const std::string& text) {
        if (text.empty() || text.size() > 18 || text.find_first_not_of("0123456789") != std::string::npos) {
            throw std::invalid_argument("expected a positive whole number");
        }
        return std::stoll(text);
    };
    const auto interval = whole_number(*usec);
    if (interval == 0) throw std::invalid_argument("expected a positive whole number");
    if (pid && whole_number(*pid) != self) return std::nullopt;  // meant for another process
    return std::chrono::microseconds(interval);
}

Notifier Notifier::from_environment(const EnvLookup& env, pid_t self) {
    Notifier out;
    const auto socket_name = env("NOTIFY_SOCKET");
    if (!socket_name || socket_name->empty()) return out;
    const EnvReader reader(env);
    reader.with("NOTIFY_SOCKET", [&](const std::string& v) { out.address_ = parse_notify_socket(v); });
    reader.with("WATCHDOG_USEC",
                [&](const std::string& v) { out.watchdog_ = parse_watchdog(v, env("WATCHDOG_PID"), self); });
    out.fd_.reset(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!out.fd_.valid()) {
        throw std::runtime_error(std::string("NOTIFY_SOCKET: cannot create a datagram socket: ") +
                                 std::strerror(errno));
    }
    return out;
}

bool Notifier::notify(std::string_view state) const {
    if (!enabled()) return true;
    const auto sent = ::sendto(fd_.get(), state.data(), state.size(), MSG_NOSIGNAL,
                               reinterpret_cast<const sockaddr*>(&address_.addr), address_.length);
    return sent == static_cast<ssize_t>(state.size());
}

bool WatchdogClock::due(Clock::time_point now) {
    if (now < next_) return false;
    next_ = now + period_;
    return true;
}

}  // namespace levqor::controld
