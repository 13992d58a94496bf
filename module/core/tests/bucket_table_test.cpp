// SPDX-License-Identifier: Apache-2.0
#include "levqor/bucket_table.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

namespace levqor::limit {
namespace {

constexpr std::uint64_t kSec = 1000000000ULL;
constexpr std::uint64_t kStart = 1000 * kSec;

struct TableFixture {
    explicit TableFixture(std::size_t nsets) : mem(BucketTable::bytes_for_sets(nsets)) {
        table = BucketTable::create(mem.data(), nsets, SipKey{1, 2});
    }
    std::uint64_t key(const std::string& k, std::uint8_t domain = 0) const {
        return table.tag(domain, k.data(), k.size());
    }
    bool take(std::uint64_t tag, gcra::Limit l, std::uint64_t now, std::uint64_t cost = 1) {
        BucketRequest r{&table, tag, l, cost, false};
        gcra::Decision d;
        return BucketTable::decide(&r, 1, now, &d, getpid()).enforced_ok;
    }
    BucketRequest req(std::uint64_t tag, gcra::Limit l, bool observe = false) {
        return BucketRequest{&table, tag, l, 1, observe};
    }
    std::vector<char> mem;
    BucketTable table;
};

TEST(BucketTable, Sizing) {
    EXPECT_EQ(BucketTable::sets_for_bytes(BucketTable::bytes_for_sets(100)), 100u);
    EXPECT_EQ(BucketTable::sets_for_bytes(10), 0u);
}

TEST(BucketTable, KeyAndIpDomainsNeverShareATag) {
    TableFixture t(64);
    EXPECT_NE(t.key("127.0.0.1", 0), t.key("127.0.0.1", 1));
}

TEST(BucketTable, AllOrNothingAcrossBuckets) {
    TableFixture t(64);
    const gcra::Limit key{kSec, 5}, ip{kSec, 2};
    BucketRequest reqs[2] = {t.req(t.key("k"), key), t.req(t.key("1.2.3.4", 1), ip)};
    gcra::Decision d[2];
    EXPECT_TRUE(BucketTable::decide(reqs, 2, kStart, d, getpid()).enforced_ok);
    EXPECT_TRUE(BucketTable::decide(reqs, 2, kStart, d, getpid()).enforced_ok);
    EXPECT_FALSE(BucketTable::decide(reqs, 2, kStart, d, getpid()).enforced_ok);  // ip exhausted
    EXPECT_TRUE(d[0].allowed);
    EXPECT_FALSE(d[1].allowed);
    // The rejected request charged neither bucket: the key still has 3 tokens.
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(t.take(reqs[0].tag, key, kStart)) << i;
    EXPECT_FALSE(t.take(reqs[0].tag, key, kStart));
}

TEST(BucketTable, RepeatedTagIsChargedTwice) {
    TableFixture t(64);
    const gcra::Limit l{kSec, 3};
    BucketRequest reqs[2] = {t.req(t.key("k"), l), t.req(t.key("k"), l)};
    gcra::Decision d[2];
    EXPECT_TRUE(BucketTable::decide(reqs, 2, kStart, d, getpid()).enforced_ok);
    EXPECT_FALSE(BucketTable::decide(reqs, 2, kStart, d, getpid()).enforced_ok);  // 1 left, 2 needed
    EXPECT_TRUE(t.take(reqs[0].tag, l, kStart));
}

TEST(BucketTable, ObserveOnlyBucketsNeverRejectAndAreChargedOnlyWhenTheyAdmit) {
    TableFixture t(64);
    const gcra::Limit enforce{kSec, 3}, observe{kSec, 1};
    BucketRequest reqs[2] = {t.req(t.key("k"), enforce), t.req(t.key("k", 1), observe, true)};
    gcra::Decision d[2];
    Outcome o = BucketTable::decide(reqs, 2, kStart, d, getpid());
    EXPECT_TRUE(o.enforced_ok);
    EXPECT_TRUE(o.observed_ok);
    o = BucketTable::decide(reqs, 2, kStart, d, getpid());
    EXPECT_TRUE(o.enforced_ok);   // passes
    EXPECT_FALSE(o.observed_ok);  // but the dry-run limit would have rejected it
    EXPECT_TRUE(BucketTable::decide(reqs, 2, kStart, d, getpid()).enforced_ok);
    // The enforcing bucket's 3 tokens are used; the observe-only one was charged once.
    EXPECT_FALSE(BucketTable::decide(reqs, 2, kStart, d, getpid()).enforced_ok);
    EXPECT_EQ(d[1].retry_after_ns, kSec);
}

TEST(BucketTable, DecidesAcrossTables) {
    TableFixture a(8), b(8);
    BucketRequest reqs[2] = {a.req(a.key("k"), {kSec, 2}), b.req(b.key("k"), {kSec, 1})};
    gcra::Decision d[2];
    EXPECT_TRUE(BucketTable::decide(reqs, 2, kStart, d, getpid()).enforced_ok);
    EXPECT_FALSE(BucketTable::decide(reqs, 2, kStart, d, getpid()).enforced_ok);
    EXPECT_TRUE(a.take(a.key("k"), {kSec, 2}, kStart));  // a was not charged by the rejection
}

TEST(BucketTable, BoundedAndEvictsFullBucketsFirst) {
    TableFixture t(1);  // one set: kWays buckets
    const gcra::Limit slow{100 * kSec, 1};
    std::vector<std::uint64_t> tags;
    for (std::size_t i = 0; i < kWays; ++i) {
        tags.push_back(t.key("k" + std::to_string(i)));
        ASSERT_TRUE(t.take(tags.back(), slow, kStart + i));
    }
    EXPECT_EQ(t.table.stats().tracked, kWays);
    // Every bucket is throttled (1 token, used): a newcomer evicts the one
    // with the earliest TAT, k0, and that is counted as a throttled eviction.
    const gcra::Limit fast{kSec, 1};
    const std::uint64_t fresh = t.key("fresh");
    ASSERT_TRUE(t.take(fresh, fast, kStart + kWays));
    EXPECT_EQ(t.table.stats().evicted_throttled, 1u);
    EXPECT_EQ(t.table.peek(tags[0]), 0u);
    // Later the fast "fresh" bucket has refilled: the next newcomer reuses
    // its slot (no state lost), not one with debt.
    ASSERT_TRUE(t.take(t.key("newcomer"), slow, kStart + 5 * kSec));
    EXPECT_EQ(t.table.stats().reused_full, 1u);
    EXPECT_EQ(t.table.stats().evicted_indebted, 0u);
    EXPECT_EQ(t.table.stats().evicted_throttled, 1u);
    EXPECT_EQ(t.table.peek(fresh), 0u);
    for (std::size_t i = 1; i < kWays; ++i) EXPECT_NE(t.table.peek(tags[i]), 0u) << i;
    EXPECT_EQ(t.table.stats().tracked, kWays);
}

TEST(BucketTable, AFloodOfNewKeysNeverResetsAThrottledBucket) {
    // Review L6: with LRU eviction, ten new keys in a set evicted a client
    // that was being throttled, and it came back with a full burst.
    TableFixture t(1);
    const gcra::Limit strict{60 * kSec, 2};  // 2r/m
    const std::uint64_t abuser = t.key("abuser");
    ASSERT_TRUE(t.take(abuser, strict, kStart));
    ASSERT_TRUE(t.take(abuser, strict, kStart));
    ASSERT_FALSE(t.take(abuser, strict, kStart + 1));  // throttled now
    const std::uint64_t throttled_tat = t.table.peek(abuser);
    // 1000 new keys, each one request on a roomy plan (little debt each).
    const gcra::Limit roomy{kSec, 60};
    for (int i = 0; i < 1000; ++i) ASSERT_TRUE(t.take(t.key("new" + std::to_string(i)), roomy, kStart + 2 + i));
    EXPECT_EQ(t.table.peek(abuser), throttled_tat) << "the throttled bucket was evicted";
    EXPECT_FALSE(t.take(abuser, strict, kStart + 2000));  // still throttled
    const TableStats st = t.table.stats();
    EXPECT_EQ(st.evicted_throttled, 0u);
    EXPECT_EQ(st.evicted_indebted + st.reused_full, 1000u - (kWays - 1));
}

TEST(BucketTable, EvictsTheLeastIndebtedBucket) {
    TableFixture t(1);
    const gcra::Limit l{kSec, 100};
    // Bucket i has i+1 seconds of debt.
    std::vector<std::uint64_t> tags;
    for (std::size_t i = 0; i < kWays; ++i) {
        tags.push_back(t.key("d" + std::to_string(i)));
        ASSERT_TRUE(t.take(tags.back(), l, kStart, kWays - i));  // d0 the most indebted
    }
    ASSERT_TRUE(t.take(t.key("newcomer"), l, kStart + 1));
    EXPECT_EQ(t.table.peek(tags[kWays - 1]), 0u);  // the least indebted went
    for (std::size_t i = 0; i + 1 < kWays; ++i) EXPECT_NE(t.table.peek(tags[i]), 0u) << i;
    EXPECT_EQ(t.table.stats().evicted_indebted, 1u);
    EXPECT_EQ(t.table.stats().evicted_throttled, 0u);
}

TEST(BucketTable, ANewBucketNeverTakesTheSlotOfOneTheSameDecisionCharges) {
    TableFixture t(1);
    const gcra::Limit l{kSec, 100};
    // Nine heavily indebted buckets and one, "mine", with little debt.
    for (std::size_t i = 0; i + 1 < kWays; ++i) ASSERT_TRUE(t.take(t.key("h" + std::to_string(i)), l, kStart, 90));
    const std::uint64_t mine = t.key("mine");
    ASSERT_TRUE(t.take(mine, l, kStart));
    // One decision charges "mine" and a new bucket of the same (only) set:
    // the new one must not evict "mine", the set's least indebted.
    BucketRequest reqs[2] = {t.req(mine, l), t.req(t.key("new"), l)};
    gcra::Decision d[2];
    ASSERT_TRUE(BucketTable::decide(reqs, 2, kStart + 1, d, getpid()).enforced_ok);
    EXPECT_EQ(t.table.peek(mine), d[0].new_tat);
    EXPECT_EQ(t.table.peek(reqs[1].tag), d[1].new_tat);
}

TEST(BucketTable, TwoBucketPathMatchesTheGeneralPath) {
    // decide() has its own path for two buckets; the general one serves three
    // or more. Table `fast` gets two-bucket decisions, table `general` the
    // same two plus a third bucket (its own table, observe-only, never
    // rejecting: it changes no outcome and nothing charged in the others).
    // Few sets and few keys, so buckets share sets, repeat within one
    // decision (same key, same domain) and evict each other.
    TableFixture fast(2), general(2), extra(4);
    const gcra::Limit limits[3] = {{kSec, 3}, {kSec / 2, 2}, {kSec, 1}};
    const gcra::Limit never{1, 1000000000};
    std::uint64_t seed = 12345;
    auto next = [&seed](std::uint64_t n) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        return (seed >> 33) % n;
    };
    std::uint64_t now = kStart;
    for (int step = 0; step < 5000; ++step) {
        now += next(kSec / 4);
        BucketRequest two[2], three[3];
        for (int i = 0; i < 2; ++i) {
            const std::string k = "k" + std::to_string(next(30));
            const gcra::Limit l = limits[next(3)];
            const std::uint64_t cost = 1 + next(2);
            const bool observe = next(4) == 0;
            const auto domain = static_cast<std::uint8_t>(next(2));
            two[i] = BucketRequest{&fast.table, fast.key(k, domain), l, cost, observe};
            three[i] = BucketRequest{&general.table, general.key(k, domain), l, cost, observe};
        }
        three[2] = BucketRequest{&extra.table, extra.key("x" + std::to_string(step)), never, 1, true};
        gcra::Decision d2[2], d3[3];
        const Outcome o2 = BucketTable::decide(two, 2, now, d2, getpid());
        const Outcome o3 = BucketTable::decide(three, 3, now, d3, getpid());
        ASSERT_EQ(o2.enforced_ok, o3.enforced_ok) << step;
        ASSERT_EQ(o2.observed_ok, o3.observed_ok) << step;
        for (int i = 0; i < 2; ++i) {
            ASSERT_EQ(d2[i].allowed, d3[i].allowed) << step << " " << i;
            ASSERT_EQ(d2[i].new_tat, d3[i].new_tat) << step << " " << i;
            ASSERT_EQ(d2[i].remaining, d3[i].remaining) << step << " " << i;
            ASSERT_EQ(d2[i].reset_after_ns, d3[i].reset_after_ns) << step << " " << i;
            ASSERT_EQ(d2[i].retry_after_ns, d3[i].retry_after_ns) << step << " " << i;
        }
        for (int k = 0; k < 30; ++k) {
            for (std::uint8_t dom = 0; dom < 2; ++dom) {
                const std::string key = "k" + std::to_string(k);
                ASSERT_EQ(fast.table.peek(fast.key(key, dom)), general.table.peek(general.key(key, dom))) << step;
            }
        }
    }
    const TableStats a = fast.table.stats(), b = general.table.stats();
    EXPECT_EQ(a.tracked, b.tracked);
    EXPECT_EQ(a.reused_full, b.reused_full);
    EXPECT_EQ(a.evicted_indebted, b.evicted_indebted);
    EXPECT_EQ(a.evicted_throttled, b.evicted_throttled);
    EXPECT_GT(a.evicted_indebted + a.reused_full, 0u);  // the sets did fill up
}

TEST(BucketTable, ManyMoreKeysThanSlotsNeverFail) {
    TableFixture t(8);
    const gcra::Limit l{kSec, 10};
    for (int i = 0; i < 100000; ++i) ASSERT_TRUE(t.take(t.key("k" + std::to_string(i)), l, kStart + i));
    const TableStats st = t.table.stats();
    EXPECT_EQ(st.capacity, 8 * kWays);
    EXPECT_EQ(st.tracked, 8 * kWays);
}

TEST(BucketTable, AttachSeesTheSameState) {
    TableFixture t(16);
    const gcra::Limit l{kSec, 1};
    ASSERT_TRUE(t.take(t.key("k"), l, kStart));
    BucketTable again;
    ASSERT_EQ(BucketTable::attach(t.mem.data(), again), "");
    EXPECT_NE(again.peek(t.key("k")), 0u);
}

TEST(BucketTable, AttachSaysWhatChangedWhenTheLayoutDiffers) {
    TableFixture t(16);
    auto* header = reinterpret_cast<TableHeader*>(t.mem.data());
    header->magic = 0x6c7671725442310aULL;  // "lvqrTB1\n", the layout before throttled_above
    BucketTable wrong;
    EXPECT_EQ(BucketTable::attach(t.mem.data(), wrong),
              "the zone holds layout \"lvqrTB1\", this module uses \"lvqrTB2\"");
    EXPECT_FALSE(wrong.valid());
}

TEST(BucketTable, ConcurrentThreadsAdmitExactlyTheBurst) {
    // Room for every key (no eviction): this tests the striped locks.
    TableFixture t(16384);
    const gcra::Limit l{1000 * kSec, 5000};  // effectively no refill during the test
    const std::uint64_t shared = t.key("shared");
    std::atomic<int> admitted{0};
    std::atomic<std::uint64_t> clock{kStart};  // every call a later instant
    std::vector<std::thread> threads;
    for (int th = 0; th < 4; ++th) {
        threads.emplace_back([&, th] {
            for (int i = 0; i < 3000; ++i) {
                // Touch other keys too, so the sets' locks are contended.
                t.take(t.key("other" + std::to_string(th * 100000 + i)), l, clock.fetch_add(1));
                if (t.take(shared, l, clock.fetch_add(1))) admitted.fetch_add(1);
            }
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(admitted.load(), 5000);
}

TEST(BucketTable, LockHeldByADeadProcessIsTakenOver) {
    const std::size_t bytes = BucketTable::bytes_for_sets(1);
    void* mem = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ASSERT_NE(mem, MAP_FAILED);
    BucketTable table = BucketTable::create(mem, 1, SipKey{3, 4});
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        // Die holding the set's lock, as a worker killed mid-decision would.
        auto* set = reinterpret_cast<Set*>(static_cast<char*>(mem) + BucketTable::bytes_for_sets(0));
        set->lock.store(getpid());
        _exit(0);
    }
    int status = 0;
    waitpid(child, &status, 0);
    BucketRequest r{&table, table.tag(0, "k", 1), {kSec, 1}, 1, false};
    gcra::Decision d;
    EXPECT_TRUE(BucketTable::decide(&r, 1, kStart, &d, getpid()).enforced_ok);
    EXPECT_EQ(table.lock_steals(), 1u);
    munmap(mem, bytes);
}

}  // namespace
}  // namespace levqor::limit
