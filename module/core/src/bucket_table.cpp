// SPDX-License-Identifier: Apache-2.0
#include "levqor/bucket_table.h"

#include "levqor/shm_lock.h"

#include <algorithm>

namespace levqor::limit {

BucketTable BucketTable::create(void* mem, std::size_t nsets, const SipKey& secret) {
    BucketTable t;
    t.format(mem, nsets, secret);
    return t;
}

std::string BucketTable::attach(void* mem, BucketTable& out) { return out.attach_to(mem); }

void BucketTable::lock_contended(Set& s, std::int32_t pid) noexcept { shm_lock(s.lock, pid, header_->lock_steals); }

Slot* BucketTable::find(Set& s, std::uint64_t tag, Slot*& free) noexcept {
    // Occupied slots are a prefix of the set: a tag is stored only in the
    // first free slot (claim) or over another tag, and never cleared. So the
    // first free slot ends the search, and is where a new bucket goes.
    for (auto& slot : s.slots) {
        const std::uint64_t t = slot.tag.load(std::memory_order_relaxed);
        if (t == tag) return &slot;
        if (t == 0) {
            free = &slot;
            return nullptr;
        }
    }
    free = nullptr;
    return nullptr;
}

Slot* BucketTable::claim(Set& s, std::uint64_t now, Slot* const* busy, std::size_t nbusy) noexcept {
    // A free slot, else the earliest TAT: a full bucket if there is one
    // (nothing lost), else the least indebted.
    Slot* victim = nullptr;
    std::uint64_t victim_tat = 0;
    for (auto& slot : s.slots) {
        if (slot.tag.load(std::memory_order_relaxed) == 0) return &slot;
        if (std::find(busy, busy + nbusy, &slot) != busy + nbusy) continue;
        const std::uint64_t tat = slot.tat.load(std::memory_order_relaxed);
        if (victim == nullptr || tat < victim_tat) {
            victim = &slot;
            victim_tat = tat;
        }
    }
    // (A decision charges at most kMaxBuckets < kWays slots: victim is set.)
    if (gcra::is_full(victim_tat, now)) {
        header_->reused_full.fetch_add(1, std::memory_order_relaxed);
    } else if (victim_tat - now > victim->throttled_above.load(std::memory_order_relaxed)) {
        header_->evicted_throttled.fetch_add(1, std::memory_order_relaxed);
    } else {
        header_->evicted_indebted.fetch_add(1, std::memory_order_relaxed);
    }
    return victim;
}

namespace {

// A slot taken for a new bucket: its tag and the level above which it counts as throttled.
void label(Slot& slot, std::uint64_t tag, const gcra::Limit& limit) noexcept {
    slot.tag.store(tag, std::memory_order_relaxed);
    slot.throttled_above.store(limit.capacity_ns() - limit.interval_ns, std::memory_order_relaxed);
}

}  // namespace

Slot* BucketTable::add(Set& s, std::uint64_t tag, std::uint64_t tat, const gcra::Limit& limit, std::uint64_t now,
                       Slot* const* busy, std::size_t nbusy) noexcept {
    Slot* free = nullptr;
    Slot* slot = find(s, tag, free);  // claimed by an earlier request of the same decision?
    if (slot == nullptr) {
        slot = free != nullptr ? free : claim(s, now, busy, nbusy);
        label(*slot, tag, limit);
    }
    slot->tat.store(tat, std::memory_order_relaxed);
    return slot;
}

void BucketTable::charge(Set& s, Slot*& slot, const BucketRequest& r, std::uint64_t tat, std::uint64_t now,
                         Slot* const* busy, std::size_t nbusy) noexcept {
    if (slot != nullptr) {
        slot->tat.store(tat, std::memory_order_relaxed);
    } else {
        slot = r.table->add(s, r.tag, tat, r.limit, now, busy, nbusy);
    }
}

// The common case (one bucket: key-only, or IP-only requests).
Outcome BucketTable::decide_one(const BucketRequest& req, std::uint64_t now, gcra::Decision& out,
                                std::int32_t pid) noexcept {
    BucketTable& t = *req.table;
    Set& s = t.set_for(req.tag);
    t.lock(s, pid);
    Slot* free = nullptr;
    Slot* slot = find(s, req.tag, free);
    const std::uint64_t tat = slot != nullptr ? slot->tat.load(std::memory_order_relaxed) : 0;
    out = gcra::decide(tat, now, req.limit, req.cost);
    if (out.allowed) {
        if (slot == nullptr) {  // a new bucket: the free slot find() stopped at, else a victim
            slot = free != nullptr ? free : t.claim(s, now, nullptr, 0);
            label(*slot, req.tag, req.limit);
        }
        slot->tat.store(out.new_tat, std::memory_order_relaxed);
    }
    unlock(s);
    Outcome o;
    (req.observe_only ? o.observed_ok : o.enforced_ok) = out.allowed;
    if (!out.allowed) gcra::describe_uncharged(out, tat, now, req.limit);
    return o;
}

// Two buckets (key + IP, the default levqor_limit): decide() without its
// loops over kMaxBuckets-sized arrays — the same locking order, decisions
// and all-or-nothing commit, written out for n = 2.
Outcome BucketTable::decide_two(const BucketRequest* reqs, std::uint64_t now, gcra::Decision* out,
                                std::int32_t pid) noexcept {
    const BucketRequest& r0 = reqs[0];
    const BucketRequest& r1 = reqs[1];
    Set& s0 = r0.table->set_for(r0.tag);
    Set& s1 = r1.table->set_for(r1.tag);
    const bool same_set = &s0 == &s1;
    // Each distinct set once, in address order (as decide()).
    if (same_set) {
        r0.table->lock(s0, pid);
    } else if (&s0 < &s1) {
        r0.table->lock(s0, pid);
        r1.table->lock(s1, pid);
    } else {
        r1.table->lock(s1, pid);
        r0.table->lock(s0, pid);
    }

    Slot* slots[2];
    Slot* free = nullptr;
    slots[0] = find(s0, r0.tag, free);
    slots[1] = find(s1, r1.tag, free);
    const std::uint64_t before0 = slots[0] != nullptr ? slots[0]->tat.load(std::memory_order_relaxed) : 0;
    out[0] = gcra::decide(before0, now, r0.limit, r0.cost);
    // A bucket named twice is charged twice.
    const std::uint64_t before1 = same_set && r0.tag == r1.tag
                                      ? out[0].new_tat
                                      : (slots[1] != nullptr ? slots[1]->tat.load(std::memory_order_relaxed) : 0);
    out[1] = gcra::decide(before1, now, r1.limit, r1.cost);
    Outcome outcome;
    if (!out[0].allowed) (r0.observe_only ? outcome.observed_ok : outcome.enforced_ok) = false;
    if (!out[1].allowed) (r1.observe_only ? outcome.observed_ok : outcome.enforced_ok) = false;

    const bool all_charged = outcome.enforced_ok && outcome.observed_ok;
    const bool charged0 = all_charged || (outcome.enforced_ok && !r0.observe_only);
    const bool charged1 = all_charged || (outcome.enforced_ok && !r1.observe_only);
    if (charged0) charge(s0, slots[0], r0, out[0].new_tat, now, slots, 2);
    if (charged1) charge(s1, slots[1], r1, out[1].new_tat, now, slots, 2);
    unlock(s0);
    if (!same_set) unlock(s1);
    if (!charged0) gcra::describe_uncharged(out[0], before0, now, r0.limit);
    if (!charged1) gcra::describe_uncharged(out[1], before1, now, r1.limit);
    return outcome;
}

// Three buckets or more (several levqor_limit in one location).
Outcome BucketTable::decide_many(const BucketRequest* reqs, std::size_t n, std::uint64_t now, gcra::Decision* out,
                                 std::int32_t pid) noexcept {
    n = std::min(n, kMaxBuckets);
    // Lock each distinct set once, in address order (no deadlock between
    // workers, whatever tables the sets belong to). Insertion sort: n is tiny.
    Set* sets[kMaxBuckets];
    struct Locked {
        Set* set;
        BucketTable* table;  // lock steals are counted on the set's own table
    } order[kMaxBuckets];
    std::size_t nlocked = 0;
    for (std::size_t i = 0; i < n; ++i) {
        Set* s = sets[i] = &reqs[i].table->set_for(reqs[i].tag);
        std::size_t at = nlocked;
        while (at > 0 && order[at - 1].set > s) --at;
        if (at > 0 && order[at - 1].set == s) continue;
        for (std::size_t k = nlocked; k > at; --k) order[k] = order[k - 1];
        order[at] = Locked{s, reqs[i].table};
        ++nlocked;
    }
    for (std::size_t k = 0; k < nlocked; ++k) order[k].table->lock(*order[k].set, pid);

    // Decide every bucket; a bucket named twice is charged twice.
    Slot* slots[kMaxBuckets];
    std::uint64_t before[kMaxBuckets];
    Outcome outcome;
    for (std::size_t i = 0; i < n; ++i) {
        Slot* free = nullptr;
        slots[i] = find(*sets[i], reqs[i].tag, free);
        std::uint64_t tat = slots[i] != nullptr ? slots[i]->tat.load(std::memory_order_relaxed) : 0;
        for (std::size_t j = 0; j < i; ++j) {
            if (reqs[j].tag == reqs[i].tag && sets[j] == sets[i]) tat = out[j].new_tat;
        }
        before[i] = tat;
        out[i] = gcra::decide(tat, now, reqs[i].limit, reqs[i].cost);
        if (!out[i].allowed) (reqs[i].observe_only ? outcome.observed_ok : outcome.enforced_ok) = false;
    }

    // Commit all or nothing. A slot claimed for a new bucket is never one
    // this decision charges (they are passed as busy).
    const bool all_charged = outcome.enforced_ok && outcome.observed_ok;
    auto charged = [&](std::size_t i) { return all_charged || (outcome.enforced_ok && !reqs[i].observe_only); };
    for (std::size_t i = 0; i < n; ++i) {
        if (charged(i)) charge(*sets[i], slots[i], reqs[i], out[i].new_tat, now, slots, n);
    }
    for (std::size_t k = 0; k < nlocked; ++k) unlock(*order[k].set);
    if (!all_charged) {
        // Buckets that were not charged report their state as it stands.
        for (std::size_t i = 0; i < n; ++i) {
            if (!charged(i)) gcra::describe_uncharged(out[i], before[i], now, reqs[i].limit);
        }
    }
    return outcome;
}

std::uint64_t BucketTable::peek(std::uint64_t tag) const noexcept {
    Set& s = set_for(tag);
    Slot* free = nullptr;
    const Slot* slot = find(s, tag, free);
    return slot != nullptr ? slot->tat.load(std::memory_order_relaxed) : 0;
}

TableStats BucketTable::stats() const noexcept {
    TableStats st{};
    st.capacity = header_->nsets * kWays;
    for (std::uint64_t i = 0; i < header_->nsets; ++i) {
        for (const auto& slot : sets_[i].slots) {
            if (slot.tag.load(std::memory_order_relaxed) != 0) ++st.tracked;
        }
    }
    st.reused_full = header_->reused_full.load(std::memory_order_relaxed);
    st.evicted_indebted = header_->evicted_indebted.load(std::memory_order_relaxed);
    st.evicted_throttled = header_->evicted_throttled.load(std::memory_order_relaxed);
    return st;
}

}  // namespace levqor::limit
