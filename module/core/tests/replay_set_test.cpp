// SPDX-License-Identifier: Apache-2.0
#include "levqor/replay_set.h"

#include <gtest/gtest.h>

#include "levqor/webhook_scheme.h"

#include <cstring>
#include <string>
#include <vector>

#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

namespace levqor::webhook {
namespace {

struct SetFixture {
    explicit SetFixture(std::size_t nsets) : mem(ReplaySet::bytes_for_sets(nsets)) {
        set = ReplaySet::create(mem.data(), nsets, SipKey{3, 4});
    }
    std::uint64_t tag(const std::string& id, std::uint8_t domain = 0) const {
        return set.tag(domain, id.data(), id.size());
    }
    std::vector<char> mem;
    ReplaySet set;
};

TEST(ReplaySet, Sizing) {
    EXPECT_EQ(ReplaySet::sets_for_bytes(ReplaySet::bytes_for_sets(10)), 10u);
    EXPECT_EQ(ReplaySet::sets_for_bytes(1), 0u);
}

TEST(ReplaySet, SecondSightingWithinTheWindowIsAReplay) {
    SetFixture f(16);
    const auto t = f.tag("msg_1");
    EXPECT_TRUE(f.set.remember(t, 1000, 1300, getpid()));
    EXPECT_FALSE(f.set.remember(t, 1299, 1599, getpid()));
    EXPECT_TRUE(f.set.remember(t, 1300, 1600, getpid()));  // expired: a new delivery
    EXPECT_FALSE(f.set.remember(t, 1301, 1601, getpid()));
}

TEST(ReplaySet, ProvidersAreSeparateDomains) {
    SetFixture f(16);
    EXPECT_NE(f.tag("id", 0), f.tag("id", 1));
    EXPECT_TRUE(f.set.remember(f.tag("id", 0), 1, 100, getpid()));
    EXPECT_TRUE(f.set.remember(f.tag("id", 1), 1, 100, getpid()));
}

TEST(ReplaySet, ForgetLetsARetryThrough) {
    SetFixture f(16);
    const auto t = f.tag("evt");
    EXPECT_TRUE(f.set.remember(t, 10, 310, getpid()));
    f.set.forget(t, getpid());
    EXPECT_TRUE(f.set.remember(t, 11, 311, getpid()));
    EXPECT_FALSE(f.set.remember(t, 12, 312, getpid()));
}

TEST(ReplaySet, BoundedEvictsExpiredFirstThenSoonest) {
    SetFixture f(1);  // one set of kReplayWays slots
    std::vector<std::uint64_t> tags;
    for (std::size_t i = 0; i < kReplayWays; ++i) {
        tags.push_back(f.tag("id" + std::to_string(i)));
        // The first one expires early.
        ASSERT_TRUE(f.set.remember(tags.back(), 100, i == 0 ? 150 : 1000 + i, getpid()));
    }
    EXPECT_EQ(f.set.stats(100).live, kReplayWays);
    // At 200 the first has expired: its slot is reused, nothing live is lost.
    EXPECT_TRUE(f.set.remember(f.tag("new1"), 200, 2000, getpid()));
    EXPECT_EQ(f.set.stats(200).evicted_live, 0u);
    // Full of live entries: the one that expires soonest (id1, at 1001) goes.
    EXPECT_TRUE(f.set.remember(f.tag("new2"), 200, 2000, getpid()));
    const ReplayStats st = f.set.stats(200);
    EXPECT_EQ(st.evicted_live, 1u);
    EXPECT_EQ(st.live, kReplayWays);
    EXPECT_EQ(st.capacity, kReplayWays);
    EXPECT_FALSE(f.set.remember(tags.back(), 200, 2000, getpid()));  // still there
    EXPECT_TRUE(f.set.remember(tags[1], 200, 2000, getpid()));       // evicted: seen as new
}

TEST(ReplaySet, SeenOnlyLooks) {
    SetFixture f(1);
    const auto t = f.tag("x");
    EXPECT_FALSE(f.set.seen(t, 10, getpid()));
    EXPECT_EQ(f.set.stats(10).live, 0u);
    ASSERT_TRUE(f.set.remember(t, 10, 20, getpid()));
    EXPECT_TRUE(f.set.seen(t, 19, getpid()));
    EXPECT_FALSE(f.set.seen(t, 20, getpid()));  // expires is the first second it no longer counts
}

TEST(ReplaySet, RememberAllRecordsEveryTagOrNone) {
    SetFixture f(16);
    const std::uint64_t first[2] = {f.tag("id-1"), f.tag("sig-1")};
    EXPECT_EQ(f.set.remember_all(first, 2, 100, 200, getpid()), ReplaySet::kAllNew);
    EXPECT_TRUE(f.set.seen(first[0], 100, getpid()));
    EXPECT_TRUE(f.set.seen(first[1], 100, getpid()));
    // The same signature under a fresh id: a replay by its second tag, and
    // the fresh id is not recorded.
    const std::uint64_t resent[2] = {f.tag("id-2"), f.tag("sig-1")};
    EXPECT_EQ(f.set.remember_all(resent, 2, 101, 201, getpid()), 1u);
    EXPECT_FALSE(f.set.seen(resent[0], 101, getpid()));
    EXPECT_EQ(f.set.remember_all(first, 2, 101, 201, getpid()), 0u);  // the first live tag is named
    EXPECT_EQ(f.set.remember_all(first, 1, 101, 201, getpid()), 0u);
    EXPECT_EQ(f.set.remember_all(first, 0, 101, 201, getpid()), ReplaySet::kAllNew);
}

// L1: in a set full of live entries, a delivery refused as a replay (its
// signature was seen) must not evict anything on the way: the eviction would
// be permanent although the delivery was refused, and repeated, it flushes
// the zone until the captured delivery's own entry is gone.
TEST(ReplaySet, ARefusedReplayNeverEvictsALiveEntry) {
    SetFixture f(1);  // one set: every tag lands in it
    std::vector<std::uint64_t> live;
    for (std::size_t i = 0; i < kReplayWays; ++i) {
        live.push_back(f.tag("live" + std::to_string(i)));
        ASSERT_TRUE(f.set.remember(live.back(), 100, 1000 + i, getpid()));
    }
    const std::uint64_t captured_signature = live.back();
    for (int round = 0; round < 3 * static_cast<int>(kReplayWays); ++round) {
        const std::uint64_t resent[2] = {f.tag("fresh-id-" + std::to_string(round)), captured_signature};
        EXPECT_EQ(f.set.remember_all(resent, 2, 200, 2000, getpid()), 1u);
    }
    EXPECT_EQ(f.set.stats(200).evicted_live, 0u);
    for (const auto t : live) EXPECT_TRUE(f.set.seen(t, 200, getpid()));
}

// M3: with the expiry replay_expiry() gives, every delivery the time check
// still accepts finds its entry — whatever the timestamp (past, now, future),
// the second it first arrives and the second of the copy, boundaries included.
TEST(ReplaySet, AnEntryLivesAsLongAsItsDeliveryIsFresh) {
    const Scheme& s = scheme(Provider::Stripe);
    for (const std::uint32_t tol : {1u, 2u, 5u}) {
        for (std::int64_t offset = -static_cast<std::int64_t>(tol); offset <= tol; ++offset) {
            SetFixture f(4);
            const std::int64_t first = 10000;
            Delivery d{};
            d.time = first + offset;
            ASSERT_EQ(check_time(s, d, first, tol), Reason::None);
            const auto t = f.tag("sig");
            ASSERT_TRUE(f.set.remember(t, first, replay_expiry(s, d, first, tol, 86400), getpid()));
            for (std::int64_t now = first; now <= first + 3 * tol + 2; ++now) {
                if (check_time(s, d, now, tol) != Reason::None) continue;
                EXPECT_TRUE(f.set.seen(t, static_cast<std::uint64_t>(now), getpid()))
                    << "tolerance " << tol << ", timestamp first" << (offset >= 0 ? "+" : "") << offset
                    << ", copy at first+" << now - first << " passes the time check but finds no entry";
            }
        }
    }
}

// The review's two cases, exactly.
TEST(ReplaySet, TheBoundarySecondAndAFutureTimestamp) {
    const Scheme& s = scheme(Provider::Standard);
    SetFixture f(4);
    Delivery d{};
    // Stamped now: at now + tolerance it is still fresh, and still a replay.
    d.time = 5000;
    const auto t = f.tag("msg_boundary");
    ASSERT_TRUE(f.set.remember(t, 5000, replay_expiry(s, d, 5000, 10u, 86400), getpid()));
    EXPECT_EQ(check_time(s, d, 5010, 10u), Reason::None);
    EXPECT_FALSE(f.set.remember(t, 5010, 5020, getpid()));
    EXPECT_EQ(check_time(s, d, 5011, 10u), Reason::StaleTimestamp);  // from here the time check refuses it
    // Stamped 9 s ahead with tolerance 10: fresh until 5019 + 10.
    d.time = 5009;
    const auto u = f.tag("msg_future");
    ASSERT_TRUE(f.set.remember(u, 5000, replay_expiry(s, d, 5000, 10u, 86400), getpid()));
    EXPECT_EQ(check_time(s, d, 5019, 10u), Reason::None);
    EXPECT_FALSE(f.set.remember(u, 5019, 5029, getpid()));
}

TEST(ReplaySet, DeliveriesWithoutAUsableTimestampUseTheWindow) {
    Delivery d{};
    d.time = 1;  // ignored: tolerance=off, or no timestamp at all
    EXPECT_EQ(replay_expiry(scheme(Provider::Github), d, 1000, 300u, kDefaultReplayWindow), 1000u + 86400u);
    EXPECT_EQ(replay_expiry(scheme(Provider::Stripe), d, 1000, std::nullopt, 3600), 4600u);
    d.time = 1200;
    EXPECT_EQ(replay_expiry(scheme(Provider::Stripe), d, 1000, 300u, 3600), 1200u + 300u + 1u);
    d.time = 900;
    EXPECT_EQ(replay_expiry(scheme(Provider::Stripe), d, 1000, 300u, 3600), 1000u + 300u + 1u);
}

TEST(ReplaySet, AttachKeepsEntries) {
    SetFixture f(8);
    EXPECT_TRUE(f.set.remember(f.tag("a"), 1, 100, getpid()));
    ReplaySet again;
    ASSERT_EQ(ReplaySet::attach(f.mem.data(), again), "");
    EXPECT_FALSE(again.remember(f.tag("a"), 2, 100, getpid()));
}

TEST(ReplaySet, AttachSaysWhatChangedWhenTheLayoutDiffers) {
    SetFixture f(8);
    std::memset(f.mem.data(), 0, 8);  // not a replay set's header
    ReplaySet wrong;
    EXPECT_EQ(ReplaySet::attach(f.mem.data(), wrong), "the zone holds layout \"\", this module uses \"lvqrRS1\"");
    EXPECT_FALSE(wrong.valid());
}

// Two processes race to record the same ids: each id is first-seen exactly once.
TEST(ReplaySet, ExactlyOneWinnerAcrossProcesses) {
    // Room for every id without evicting one (an evicted id may be won again):
    // 400 ids over 256 sets of 15 ways.
    const std::size_t nsets = 256;
    const std::size_t bytes = ReplaySet::bytes_for_sets(nsets);
    void* mem = mmap(nullptr, bytes + sizeof(std::atomic<std::uint64_t>), PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ASSERT_NE(mem, MAP_FAILED);
    ReplaySet set = ReplaySet::create(mem, nsets, SipKey{5, 6});
    auto* wins = ::new (static_cast<char*>(mem) + bytes) std::atomic<std::uint64_t>(0);
    constexpr int kIds = 400;
    pid_t children[2];
    for (pid_t& child : children) {
        child = fork();
        if (child == 0) {
            std::uint64_t mine = 0;
            for (int i = 0; i < kIds; ++i) {
                const std::string id = "id" + std::to_string(i);
                if (set.remember(set.tag(0, id.data(), id.size()), 1, 1000, getpid())) ++mine;
            }
            wins->fetch_add(mine);
            _exit(0);
        }
    }
    for (pid_t child : children) {
        int status = 0;
        waitpid(child, &status, 0);
        EXPECT_EQ(status, 0);
    }
    EXPECT_EQ(wins->load(), static_cast<std::uint64_t>(kIds));
    EXPECT_EQ(set.stats(1).evicted_live, 0u);
    munmap(mem, bytes + sizeof(std::atomic<std::uint64_t>));
}

}  // namespace
}  // namespace levqor::webhook
