// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/core/signals.h"

#include <pthread.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <system_error>

namespace levqor::controld {

BlockedSignals::BlockedSignals(std::initializer_list<int> signals) {
    ::sigemptyset(&set_);
    for (int signo : signals) ::sigaddset(&set_, signo);
    if (int rc = ::pthread_sigmask(SIG_BLOCK, &set_, &previous_); rc != 0) {
        throw std::system_error(rc, std::generic_category(), "pthread_sigmask");
    }
}

BlockedSignals::~BlockedSignals() { ::pthread_sigmask(SIG_SETMASK, &previous_, nullptr); }

int BlockedSignals::wait_for(std::chrono::milliseconds timeout) const {
    const auto ms = timeout.count() < 0 ? 0 : timeout.count();
    timespec ts{};
    ts.tv_sec = static_cast<time_t>(ms / 1000);
    ts.tv_nsec = static_cast<long>((ms % 1000) * 1000000);
    for (;;) {
        const int signo = ::sigtimedwait(&set_, nullptr, &ts);
        if (signo > 0) return signo;
        if (errno == EAGAIN) return 0;
        // EINTR: another, handled signal interrupted the wait. Retrying with the
        // full timeout can only make this wait longer, never miss a signal.
        if (errno != EINTR) throw std::system_error(errno, std::generic_category(), "sigtimedwait");
    }
}

std::string signal_name(int signo) {
    switch (signo) {
        case SIGTERM:
            return "SIGTERM";
        case SIGINT:
            return "SIGINT";
        case SIGHUP:
            return "SIGHUP";
        case SIGQUIT:
            return "SIGQUIT";
        case SIGUSR1:
            return "SIGUSR1";
        case SIGUSR2:
            return "SIGUSR2";
        default:
            return "signal " + std::to_string(signo);
    }
}

}  // namespace levqor::controld
