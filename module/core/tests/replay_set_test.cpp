#include "levqor/replay_set.h"

#include <gtest/gtest.h>

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

TEST(ReplaySet, AttachKeepsEntries) {
    SetFixture f(8);
    EXPECT_TRUE(f.set.remember(f.tag("a"), 1, 100, getpid()));
    ReplaySet again;
    ASSERT_TRUE(ReplaySet::attach(f.mem.data(), 8, again));
    EXPECT_FALSE(again.remember(f.tag("a"), 2, 100, getpid()));
    EXPECT_FALSE(ReplaySet::attach(f.mem.data(), 9, again));
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
