// SPDX-License-Identifier: Apache-2.0
#include "levqor/replay_set.h"

#include "levqor/shm_lock.h"

namespace levqor::webhook {

ReplaySet ReplaySet::create(void* mem, std::size_t nsets, const SipKey& secret) {
    ReplaySet s;
    s.format(mem, nsets, secret);
    return s;
}

std::string ReplaySet::attach(void* mem, ReplaySet& out) { return out.attach_to(mem); }

bool ReplaySet::remember(std::uint64_t tag, std::uint64_t now, std::uint64_t expires, std::int32_t pid) noexcept {
    ReplayBucket& set = set_for(tag);
    ShmLockGuard guard(set.lock, pid, header_->lock_steals);
    ReplaySlot* free = nullptr;
    ReplaySlot* soonest = &set.slots[0];
    for (auto& slot : set.slots) {
        const std::uint64_t t = slot.tag.load(std::memory_order_relaxed);
        const std::uint64_t e = slot.expires.load(std::memory_order_relaxed);
        if (t == tag && e > now) return false;
        if (free == nullptr && (t == 0 || e <= now || t == tag)) free = &slot;
        if (e < soonest->expires.load(std::memory_order_relaxed)) soonest = &slot;
    }
    if (free == nullptr) {
        header_->evicted_live.fetch_add(1, std::memory_order_relaxed);
        free = soonest;
    }
    free->tag.store(tag, std::memory_order_relaxed);
    free->expires.store(expires, std::memory_order_relaxed);
    return true;
}

bool ReplaySet::seen(std::uint64_t tag, std::uint64_t now, std::int32_t pid) const noexcept {
    ReplayBucket& set = set_for(tag);
    ShmLockGuard guard(set.lock, pid, header_->lock_steals);
    for (const auto& slot : set.slots) {
        if (slot.tag.load(std::memory_order_relaxed) == tag && slot.expires.load(std::memory_order_relaxed) > now) {
            return true;
        }
    }
    return false;
}

std::size_t ReplaySet::remember_all(const std::uint64_t* tags, std::size_t n, std::uint64_t now, std::uint64_t expires,
                                    std::int32_t pid) noexcept {
    // The first tag needs no lookup: remember() checks it and records
    // nothing when it is live, and it is recorded first.
    for (std::size_t i = 1; i < n; ++i) {
        if (seen(tags[i], now, pid)) return seen(tags[0], now, pid) ? 0 : i;  // the first live tag
    }
    for (std::size_t i = 0; i < n; ++i) {
        if (!remember(tags[i], now, expires, pid)) {
            for (std::size_t j = 0; j < i; ++j) forget(tags[j], pid);
            return i;
        }
    }
    return kAllNew;
}

void ReplaySet::forget(std::uint64_t tag, std::int32_t pid) noexcept {
    ReplayBucket& set = set_for(tag);
    ShmLockGuard guard(set.lock, pid, header_->lock_steals);
    for (auto& slot : set.slots) {
        if (slot.tag.load(std::memory_order_relaxed) == tag) {
            slot.tag.store(0, std::memory_order_relaxed);
            slot.expires.store(0, std::memory_order_relaxed);
        }
    }
}

ReplayStats ReplaySet::stats(std::uint64_t now) const noexcept {
    ReplayStats st{};
    st.capacity = header_->nsets * kReplayWays;
    for (std::uint64_t i = 0; i < header_->nsets; ++i) {
        for (const auto& slot : sets_[i].slots) {
            if (slot.tag.load(std::memory_order_relaxed) != 0 && slot.expires.load(std::memory_order_relaxed) > now) {
                ++st.live;
            }
        }
    }
    st.evicted_live = header_->evicted_live.load(std::memory_order_relaxed);
    return st;
}

}  // namespace levqor::webhook
