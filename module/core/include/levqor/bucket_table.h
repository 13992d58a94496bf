// SPDX-License-Identifier: Apache-2.0
// The rate-limit state table: a fixed-size, set-associative hash table of GCRA
// buckets in caller-provided memory (nginx shared memory in production, a
// plain buffer in tests).
//
// - A bucket is identified by a 64-bit SipHash tag of its key under the zone's
//   secret; keys themselves are never stored, so any key length costs the
//   same memory and attackers cannot aim keys at one set.
// - Each set holds kWays buckets behind its own spinlock (striped locking): a
//   decision locks only the sets it touches, in address order, so workers do
//   not serialise on a zone-wide mutex.
// - Memory is bounded. A new bucket takes a free slot in its set, else the
//   slot of a bucket that has refilled completely (it carries no state), else
//   that of the set's least indebted bucket: the one with the earliest TAT,
//   i.e. the least time left until it would be full anyway. A bucket that is
//   throttling its client is the most indebted of its set and is evicted only
//   when every other bucket there is at least as indebted — so a flood of new
//   keys cannot hand a throttled client a fresh burst while another candidate
//   exists. Each eviction is counted by kind (full, indebted, throttled).
//   A decision never fails because the table is full.
// - A decision over several buckets is all-or-nothing: either every bucket is
//   charged or none is.
//
// Thread/process safety: every method may be called concurrently from any
// number of processes mapping the same memory.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

#include "levqor/gcra.h"
#include "levqor/shm_sets.h"
#include "levqor/siphash.h"

namespace levqor::limit {

inline constexpr std::size_t kWays = 10;
inline constexpr std::size_t kMaxBuckets = 8;  // per decision

struct Slot {
    std::atomic<std::uint64_t> tag;  // 0: empty
    std::atomic<std::uint64_t> tat;  // GCRA theoretical arrival time, ns
    // The debt (tat - now, ns) beyond which this bucket rejects a request of
    // cost 1: capacity minus one interval, stored when the bucket is added
    // (a tag's limit only changes if its plan is redefined across a reload).
    // Only for telling throttled buckets apart when they are evicted.
    std::atomic<std::uint64_t> throttled_above;
};

struct alignas(64) Set {
    std::atomic<std::int32_t> lock;  // 0 free, else the owner's pid
    std::uint32_t reserved;
    Slot slots[kWays];
};
static_assert(sizeof(Set) == 256);

struct TableHeader {
    std::uint64_t magic;
    std::uint64_t nsets;
    SipKey secret;
    std::atomic<std::uint64_t> reused_full;        // slots of refilled buckets reused (no state lost)
    std::atomic<std::uint64_t> evicted_indebted;   // buckets with debt evicted, not throttling
    std::atomic<std::uint64_t> evicted_throttled;  // throttling buckets evicted (their client got a fresh burst)
    std::atomic<std::uint64_t> lock_steals;        // locks taken over from dead processes
};
static_assert(sizeof(TableHeader) == 64);

class BucketTable;

// One bucket a request is charged against. (No default member initializers:
// arrays of these live on the request path.)
struct BucketRequest {
    BucketTable* table;
    std::uint64_t tag;
    gcra::Limit limit;
    std::uint64_t cost;
    bool observe_only;  // dry run: decided and reported, never rejects
};

struct Outcome {
    bool enforced_ok = true;  // every enforcing bucket admits the request
    bool observed_ok = true;  // every observe-only bucket would admit it
};

struct TableStats {
    std::uint64_t capacity;  // buckets the table can hold
    std::uint64_t tracked;   // occupied slots
    std::uint64_t reused_full;
    std::uint64_t evicted_indebted;
    std::uint64_t evicted_throttled;
};

// The layout changed with the slot's throttled_above (was "lvqrTB1\n"): a
// reload into a module with another layout is refused with both names
// (restart nginx to start a fresh table).
inline constexpr std::uint64_t kTableMagic = 0x6c7671725442320aULL;  // "lvqrTB2\n"

// bytes_for_sets(), sets_for_bytes() and tag() come from ShmSets.
class BucketTable : public ShmSets<TableHeader, Set, kTableMagic> {
public:
    // Formats memory (zeroed or not) as a new, empty table.
    static BucketTable create(void* mem, std::size_t nsets, const SipKey& secret);
    // Attaches to a table made by create() (after nginx -s reload): "" when
    // attached, else what differs (see ShmSets::attach_to).
    static std::string attach(void* mem, BucketTable& out);

    BucketTable() = default;

    // Decides a request against n buckets (n <= kMaxBuckets, any tables) at
    // time now (ns, > 0); out[i] is the decision for reqs[i]. All or nothing:
    // if every enforcing bucket admits the request, the enforcing buckets are
    // charged, and the observe-only ones too if they all admit it; otherwise
    // nothing is charged. `pid` identifies the caller for lock recovery.
    // Inline: one and two buckets (key only, key + IP) go straight to their
    // own paths, without the general path's frame of kMaxBuckets arrays.
    static Outcome decide(const BucketRequest* reqs, std::size_t n, std::uint64_t now, gcra::Decision* out,
                          std::int32_t pid) noexcept {
        if (n == 1) return decide_one(reqs[0], now, out[0], pid);
        if (n == 2) return decide_two(reqs, now, out, pid);
        return decide_many(reqs, n, now, out, pid);
    }

    // Reads a bucket without changing it (tat 0: not tracked).
    std::uint64_t peek(std::uint64_t tag) const noexcept;

    // Scans the table (O(size); for the status page, not the request path).
    TableStats stats() const noexcept;
    std::uint64_t lock_steals() const noexcept { return header_->lock_steals.load(std::memory_order_relaxed); }

private:
    void lock(Set& s, std::int32_t pid) noexcept {
        std::int32_t expected = 0;
        if (!s.lock.compare_exchange_strong(expected, pid, std::memory_order_acquire, std::memory_order_relaxed)) {
            lock_contended(s, pid);
        }
    }
    void lock_contended(Set& s, std::int32_t pid) noexcept;
    static void unlock(Set& s) noexcept { s.lock.store(0, std::memory_order_release); }
    static Outcome decide_one(const BucketRequest& req, std::uint64_t now, gcra::Decision& out,
                              std::int32_t pid) noexcept;
    static Outcome decide_two(const BucketRequest* reqs, std::uint64_t now, gcra::Decision* out,
                              std::int32_t pid) noexcept;
    static Outcome decide_many(const BucketRequest* reqs, std::size_t n, std::uint64_t now, gcra::Decision* out,
                               std::int32_t pid) noexcept;
    // Stores a new bucket (admitted, so charged) in a slot claimed for it —
    // never one of the `busy` slots this decision charges; returns the slot.
    Slot* add(Set& s, std::uint64_t tag, std::uint64_t tat, const gcra::Limit& limit, std::uint64_t now,
              Slot* const* busy, std::size_t nbusy) noexcept;
    // Charges a decided bucket: its slot's TAT, or add() when it has none yet.
    static void charge(Set& s, Slot*& slot, const BucketRequest& r, std::uint64_t tat, std::uint64_t now,
                       Slot* const* busy, std::size_t nbusy) noexcept;
    // The slot of tag, else null and `free` = the set's first free slot (null: the set is full).
    static Slot* find(Set& s, std::uint64_t tag, Slot*& free) noexcept;
    Slot* claim(Set& s, std::uint64_t now, Slot* const* busy, std::size_t nbusy) noexcept;
};

}  // namespace levqor::limit
