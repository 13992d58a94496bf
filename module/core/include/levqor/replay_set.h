// SPDX-License-Identifier: Apache-2.0
// The webhook replay set: delivery ids (or signatures) seen recently, each
// with an expiry, in a fixed-size set-associative table in caller-provided
// memory (an nginx shared zone in production, a plain buffer in tests).
//
// - Entries are 64-bit SipHash tags of the id under the zone's secret: ids of
//   any length cost the same, nothing a client sent is stored, and clients
//   cannot aim ids at one set.
// - Each set holds kReplayWays entries behind its own spinlock (ShmLock), so
//   workers do not serialise on a zone-wide lock.
// - Memory is bounded: a new entry takes a free or expired slot of its set,
//   else the slot that expires soonest (counted: such an early eviction
//   shortens the protection window, and a growing count means the zone is
//   too small).
// - An entry is live while now < expires: `expires` is the first second at
//   which the entry no longer counts.
//
// Thread/process safety: every method may be called concurrently from any
// number of processes mapping the same memory.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

#include "levqor/shm_sets.h"
#include "levqor/siphash.h"

namespace levqor::webhook {

inline constexpr std::size_t kReplayWays = 15;

struct ReplaySlot {
    std::atomic<std::uint64_t> tag;      // 0: empty
    std::atomic<std::uint64_t> expires;  // seconds
};

struct alignas(64) ReplayBucket {
    std::atomic<std::int32_t> lock;  // 0 free, else the owner's pid
    std::uint32_t reserved;
    ReplaySlot slots[kReplayWays];
};
static_assert(sizeof(ReplayBucket) == 256);

struct ReplayHeader {
    std::uint64_t magic;
    std::uint64_t nsets;
    SipKey secret;
    std::atomic<std::uint64_t> evicted_live;  // entries dropped before they expired
    std::atomic<std::uint64_t> lock_steals;
};

struct ReplayStats {
    std::uint64_t capacity;
    std::uint64_t live;
    std::uint64_t evicted_live;
};

inline constexpr std::uint64_t kReplayMagic = 0x6c7671725253310aULL;  // "lvqrRS1\n"

// bytes_for_sets(), sets_for_bytes(), valid() and tag() (the tag of a
// delivery key in a domain, a provider: ids of different providers never
// collide) come from ShmSets.
class ReplaySet : public ShmSets<ReplayHeader, ReplayBucket, kReplayMagic> {
public:
    // Formats memory as a new, empty set.
    static ReplaySet create(void* mem, std::size_t nsets, const SipKey& secret);
    // Attaches to a set made by create() (after nginx -s reload): "" when
    // attached, else what differs (see ShmSets::attach_to).
    static std::string attach(void* mem, ReplaySet& out);

    ReplaySet() = default;

    // Records tag until `expires` unless it is already recorded and not yet
    // expired at `now`. True: recorded now (first sighting); false: a replay.
    bool remember(std::uint64_t tag, std::uint64_t now, std::uint64_t expires, std::int32_t pid) noexcept;
    // Whether tag is recorded and live at `now`; changes nothing.
    bool seen(std::uint64_t tag, std::uint64_t now, std::int32_t pid) const noexcept;
    // Records every tag of one delivery, or none of them: first the tags are
    // looked up, and only if none is live are they recorded, so a delivery
    // refused as a replay never takes a slot (never evicts a live entry).
    // Returns kAllNew, or the index of the first tag found live (a replay;
    // also when a concurrent delivery recorded it between the two passes,
    // in which case the tags recorded here are dropped again).
    static constexpr std::size_t kAllNew = static_cast<std::size_t>(-1);
    std::size_t remember_all(const std::uint64_t* tags, std::size_t n, std::uint64_t now, std::uint64_t expires,
                             std::int32_t pid) noexcept;
    // Drops tag (a delivery the application did not accept may be retried).
    void forget(std::uint64_t tag, std::int32_t pid) noexcept;

    // O(size): for the status page, not the request path.
    ReplayStats stats(std::uint64_t now) const noexcept;
};

}  // namespace levqor::webhook
