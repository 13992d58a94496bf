// SPDX-License-Identifier: Apache-2.0
// A spinlock in shared memory (nginx shared zones, or any mapping shared by
// processes), owned by the locker's process id so that a process can take it
// over when its owner died inside the critical section. For short,
// syscall-free critical sections only. Safe across threads and processes.
#pragma once

#include <atomic>
#include <cstdint>

namespace levqor {

// Takes the lock word (0 = free). Spins briefly, then yields; a lock held by
// a process that no longer exists is taken over and counted in `steals`.
void shm_lock(std::atomic<std::int32_t>& word, std::int32_t pid, std::atomic<std::uint64_t>& steals) noexcept;

inline void shm_unlock(std::atomic<std::int32_t>& word) noexcept { word.store(0, std::memory_order_release); }

class ShmLockGuard {
public:
    ShmLockGuard(std::atomic<std::int32_t>& word, std::int32_t pid, std::atomic<std::uint64_t>& steals) noexcept
        : word_(word) {
        std::int32_t expected = 0;
        if (!word_.compare_exchange_strong(expected, pid, std::memory_order_acquire, std::memory_order_relaxed)) {
            shm_lock(word_, pid, steals);
        }
    }
    ~ShmLockGuard() { shm_unlock(word_); }
    ShmLockGuard(const ShmLockGuard&) = delete;
    ShmLockGuard& operator=(const ShmLockGuard&) = delete;

private:
    std::atomic<std::int32_t>& word_;
};

}  // namespace levqor
