#include "levqor/replay_set.h"

#include <cstring>
#include <new>

#include "levqor/shm_lock.h"

namespace levqor::webhook {
namespace {

constexpr std::uint64_t kMagic = 0x6c7671725253310aULL;  // "lvqrRS1\n"
constexpr std::size_t kHeaderBytes = (sizeof(ReplayHeader) + 63) / 64 * 64;

}  // namespace

std::size_t ReplaySet::bytes_for_sets(std::size_t nsets) { return kHeaderBytes + nsets * sizeof(ReplayBucket); }

std::size_t ReplaySet::sets_for_bytes(std::size_t bytes) {
    return bytes <= kHeaderBytes ? 0 : (bytes - kHeaderBytes) / sizeof(ReplayBucket);
}

ReplaySet ReplaySet::create(void* mem, std::size_t nsets, const SipKey& secret) {
    std::memset(mem, 0, bytes_for_sets(nsets));
    ReplaySet s;
    s.header_ = ::new (mem) ReplayHeader();
    s.header_->nsets = nsets;
    s.header_->secret = secret;
    s.sets_ = reinterpret_cast<ReplayBucket*>(static_cast<char*>(mem) + kHeaderBytes);
    for (std::size_t i = 0; i < nsets; ++i) ::new (&s.sets_[i]) ReplayBucket();
    s.header_->magic = kMagic;
    return s;
}

bool ReplaySet::attach(void* mem, std::size_t nsets, ReplaySet& out) {
    auto* h = static_cast<ReplayHeader*>(mem);
    if (h->magic != kMagic || h->nsets != nsets) return false;
    out.header_ = h;
    out.sets_ = reinterpret_cast<ReplayBucket*>(static_cast<char*>(mem) + kHeaderBytes);
    return true;
}

std::uint64_t ReplaySet::tag(std::uint8_t domain, const void* key, std::size_t len) const noexcept {
    SipKey k = header_->secret;
    k.k1 ^= static_cast<std::uint64_t>(domain + 1) * 0x9e3779b97f4a7c15ULL;
    const std::uint64_t t = siphash13(k, key, len);
    return t == 0 ? 1 : t;
}

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
