// SPDX-License-Identifier: Apache-2.0
#include "levqor/shm_lock.h"

#include <cerrno>
#include <csignal>

#include <sched.h>

namespace levqor {
namespace {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

bool process_gone(std::int32_t pid) { return pid > 0 && ::kill(pid, 0) == -1 && errno == ESRCH; }

}  // namespace

void shm_lock(std::atomic<std::int32_t>& word, std::int32_t pid, std::atomic<std::uint64_t>& steals) noexcept {
    std::uint32_t spins = 0;
    for (;;) {
        std::int32_t expected = 0;
        if (word.load(std::memory_order_relaxed) == 0 &&
            word.compare_exchange_weak(expected, pid, std::memory_order_acquire, std::memory_order_relaxed)) {
            return;
        }
        if (++spins < 128) {
            cpu_relax();
            continue;
        }
        // The holder may have been preempted, or may have died inside the
        // critical section; take the lock over then.
        if ((spins & 1023) == 0) {
            std::int32_t owner = word.load(std::memory_order_relaxed);
            if (owner != 0 && process_gone(owner) &&
                word.compare_exchange_strong(owner, pid, std::memory_order_acquire)) {
                steals.fetch_add(1, std::memory_order_relaxed);
                return;
            }
        }
        sched_yield();
    }
}

}  // namespace levqor
