// SPDX-License-Identifier: Apache-2.0
// The abuse decision engine and its stores (abuse/store.h): the rules at the
// window edges with an injected clock, the modes, purge, migrations, and a
// 20-way race per limit. Every test runs on SQLite (a temp file) and on
// PostgreSQL: the Postgres/ instances need LEVQOR_TEST_PG_URL, which
// t/abuse_postgres.t sets after starting a server (Test::Levqor::Postgres);
// without it they skip.
#include <libpq-fe.h>
#include <sys/stat.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "levqor/controld/abuse/postgres_store.h"
#include "levqor/controld/abuse/sqlite_store.h"
#include "levqor/controld/abuse/store_pool.h"
#include "test_support.h"

namespace levqor::controld::abuse {
namespace {

using namespace std::chrono_literals;
using testing::env_or_empty;
using testing::TempDir;

// 2026-03-10 12:00:00 UTC.
const TimePoint kAbuseT0 = TimePoint{} + std::chrono::seconds(1773144000);

DeviceRequest device_req(const std::string& account, const std::string& device, const std::string& network,
                         const std::string& plan = "free") {
    return DeviceRequest{account, plan, device, Network{network, "asn"}};
}

SignupRequest signup_req(const std::string& email, const std::string& network, bool referral = true) {
    return SignupRequest{email, Network{network, "asn"}, referral};
}

// Drops the abuse tables so each PostgreSQL test starts from an empty schema.
void drop_abuse_tables(const std::string& url) {
    PGconn* conn = PQconnectdb(url.c_str());
    ASSERT_EQ(PQstatus(conn), CONNECTION_OK) << PQerrorMessage(conn);
    PQsetNoticeProcessor(
        conn, [](void*, const char*) {}, nullptr);
    PGresult* res = PQexec(conn,
                           "DROP TABLE IF EXISTS abuse_device_pairs, abuse_device_changes, abuse_signups,"
                           " abuse_schema_version");
    EXPECT_EQ(PQresultStatus(res), PGRES_COMMAND_OK) << PQresultErrorMessage(res);
    PQclear(res);
    PQfinish(conn);
}

class AbuseStoreTest : public ::testing::TestWithParam<std::string> {
protected:
    void SetUp() override {
        if (GetParam() == "postgres") {
            url_ = env_or_empty("LEVQOR_TEST_PG_URL");
            if (url_.empty()) GTEST_SKIP() << "no test server (run t/abuse_postgres.t)";
            drop_abuse_tables(url_);
        }
        store_ = open();
    }

    // A new store (its own connection) on the same database.
    std::unique_ptr<AbuseStore> open() {
        if (GetParam() == "postgres") return std::make_unique<PostgresAbuseStore>(url_);
        return std::make_unique<SqliteAbuseStore>(dir_.file("abuse.db"));
    }

    Decision device(const std::string& account, const std::string& dev, const std::string& net, TimePoint now,
                    std::optional<long> limit = 3, Mode mode = Mode::on) {
        return store_->check_device(device_req(account, dev, net), limit, mode, now);
    }

    TempDir dir_;
    std::string url_;
    std::unique_ptr<AbuseStore> store_;
};

TEST_P(AbuseStoreTest, FirstPairIsNotAChangeAndReusingItNeverIs) {
    auto d = device("acct", "dev1", "AS1", kAbuseT0);
    EXPECT_TRUE(d.allow);
    EXPECT_EQ(d.reason, "ok");
    EXPECT_EQ(d.count, 0);
    ASSERT_TRUE(d.limit);
    EXPECT_EQ(*d.limit, 3);
    for (int i = 1; i <= 10; ++i) {
        d = device("acct", "dev1", "AS1", kAbuseT0 + std::chrono::hours(i));
        EXPECT_TRUE(d.allow);
        EXPECT_EQ(d.count, 0) << "reuse " << i;
    }
}

TEST_P(AbuseStoreTest, TheFourthChangeIn24HoursIsDeniedAndNotRecorded) {
    device("acct", "dev0", "AS1", kAbuseT0);  // first pair
    for (int i = 1; i <= 3; ++i) {
        const auto d = device("acct", "dev" + std::to_string(i), "AS1", kAbuseT0 + std::chrono::minutes(i));
        EXPECT_TRUE(d.allow) << i;
        EXPECT_EQ(d.count, i);
    }
    // A new network with a known device is a change too.
    auto d = device("acct", "dev0", "AS2", kAbuseT0 + 10min);
    EXPECT_FALSE(d.allow);
    EXPECT_EQ(d.reason, "device_changes_exceeded");
    EXPECT_EQ(d.count, 3);
    // Denied: the pair was not recorded, so it is still a change (and denied) later.
    d = device("acct", "dev0", "AS2", kAbuseT0 + 11min);
    EXPECT_FALSE(d.allow);
    // Pairs used in the window are not changes and still pass.
    d = device("acct", "dev2", "AS1", kAbuseT0 + 12min);
    EXPECT_TRUE(d.allow);
    EXPECT_EQ(d.count, 3);
    // Another account is not affected.
    EXPECT_TRUE(device("other", "dev9", "AS9", kAbuseT0 + 12min).allow);
}

TEST_P(AbuseStoreTest, SlidingWindowEdgesExactly24Hours) {
    device("acct", "dev0", "AS1", kAbuseT0);
    device("acct", "dev1", "AS1", kAbuseT0 + 1h);  // change 1 at T0+1h
    device("acct", "dev2", "AS1", kAbuseT0 + 2h);  // change 2
    device("acct", "dev3", "AS1", kAbuseT0 + 3h);  // change 3
    // One second before change 1 leaves the window: still 3 in it, denied.
    auto d = device("acct", "dev4", "AS1", kAbuseT0 + 25h - 1s);
    EXPECT_FALSE(d.allow);
    EXPECT_EQ(d.count, 3);
    // Exactly 24 h after change 1 it is out of the window (now - 24 h, now].
    d = device("acct", "dev4", "AS1", kAbuseT0 + 25h);
    EXPECT_TRUE(d.allow);
    EXPECT_EQ(d.count, 3);  // changes 2, 3 and this one
    // One second after: change 2 still counts (T0+2h is in the window).
    d = device("acct", "dev5", "AS1", kAbuseT0 + 25h + 1s);
    EXPECT_FALSE(d.allow);
    EXPECT_EQ(d.count, 3);
}

TEST_P(AbuseStoreTest, APairUnusedFor24HoursIsAChangeAgain) {
    device("acct", "dev0", "AS1", kAbuseT0);
    device("acct", "dev1", "AS1", kAbuseT0 + 1s);  // change 1
    // dev0/AS1 used 24 h minus a second ago: not a change.
    auto d = device("acct", "dev0", "AS1", kAbuseT0 + 24h - 1s, 1);
    EXPECT_TRUE(d.allow);
    EXPECT_EQ(d.count, 1);
    // That use moved its last_seen; 24 h after it exactly, it is a change again;
    // by then change 1 left the window, so it passes with limit 1 and counts 1.
    d = device("acct", "dev0", "AS1", kAbuseT0 + 48h - 1s, 1);
    EXPECT_TRUE(d.allow);
    EXPECT_EQ(d.count, 1);
    // A second new pair within 24 h of that with limit 1: denied.
    d = device("acct", "dev1", "AS1", kAbuseT0 + 48h, 1);
    EXPECT_FALSE(d.allow);
    EXPECT_EQ(d.count, 1);
}

TEST_P(AbuseStoreTest, UnlimitedPlansCountButNeverDeny) {
    device("acct", "dev0", "AS1", kAbuseT0, std::nullopt);
    Decision d;
    for (int i = 1; i <= 10; ++i) {
        d = device("acct", "dev" + std::to_string(i), "AS1", kAbuseT0 + std::chrono::seconds(i), std::nullopt);
        EXPECT_TRUE(d.allow);
    }
    EXPECT_EQ(d.count, 10);
    EXPECT_FALSE(d.limit);
    // Limit 0: every change denied, the first pair still allowed.
    EXPECT_TRUE(device("zero", "dev0", "AS1", kAbuseT0, 0).allow);
    EXPECT_FALSE(device("zero", "dev1", "AS1", kAbuseT0 + 1s, 0).allow);
    EXPECT_THROW(device("neg", "dev0", "AS1", kAbuseT0, -1), std::invalid_argument);
}

TEST_P(AbuseStoreTest, EmptyOrOverlongKeysAreInvalidInputNamingTheField) {
    const std::string long_key(257, 'a');
    auto field_of = [](const std::function<void()>& fn) {
        try {
            fn();
        } catch (const InvalidInput& e) {
            return e.field();
        }
        return std::string("(none)");
    };
    EXPECT_EQ(field_of([&] { device("", "d", "AS1", kAbuseT0); }), "account");
    EXPECT_EQ(field_of([&] { device("a", long_key, "AS1", kAbuseT0); }), "device");
    EXPECT_EQ(field_of([&] { device("a", "d", "", kAbuseT0); }), "ip");
    EXPECT_EQ(field_of([&] { store_->check_signup(signup_req(long_key, "AS1"), 5, Mode::on, kAbuseT0); }), "email");
    EXPECT_EQ(field_of([&] { device(std::string(256, 'a'), "d", "AS1", kAbuseT0); }), "(none)");
    // Nothing was recorded by the refused ones: the 256-byte account's pair is the only row.
    EXPECT_EQ(store_->purge(kAbuseT0 + 1s), 1u);
}

TEST_P(AbuseStoreTest, OffAllowsAndRecordsNothing) {
    for (int i = 0; i < 6; ++i) {
        const auto d =
            device("acct", "dev" + std::to_string(i), "AS1", kAbuseT0 + std::chrono::seconds(i), 1, Mode::off);
        EXPECT_TRUE(d.allow);
        EXPECT_EQ(d.reason, "guards_off");
        EXPECT_EQ(metric_decision(d, Mode::off), std::string("allow"));
    }
    // Nothing recorded: the next pair under `on` is the account's first.
    const auto d = device("acct", "devX", "AS1", kAbuseT0 + 1min, 1);
    EXPECT_TRUE(d.allow);
    EXPECT_EQ(d.count, 0);
    EXPECT_EQ(store_->check_signup(signup_req("e", "AS1"), 0, Mode::off, kAbuseT0).reason, "guards_off");
    EXPECT_EQ(store_->purge(kAbuseT0 + 48h), 1u);  // only devX's pair
}

TEST_P(AbuseStoreTest, ShadowRecordsAsOnWouldAndAllowsWithTheReason) {
    device("acct", "dev0", "AS1", kAbuseT0, 1, Mode::shadow);
    auto d = device("acct", "dev1", "AS1", kAbuseT0 + 1s, 1, Mode::shadow);
    EXPECT_TRUE(d.allow);
    EXPECT_EQ(d.reason, "ok");
    EXPECT_EQ(metric_decision(d, Mode::shadow), std::string("allow"));
    d = device("acct", "dev2", "AS1", kAbuseT0 + 2s, 1, Mode::shadow);
    EXPECT_TRUE(d.allow);
    EXPECT_EQ(d.reason, "device_changes_exceeded");
    EXPECT_EQ(d.count, 1);
    EXPECT_EQ(metric_decision(d, Mode::shadow), std::string("shadow_deny"));
    // Recorded as `on` would have: switching to on, dev2 is still a change and denied.
    d = device("acct", "dev2", "AS1", kAbuseT0 + 3s, 1, Mode::on);
    EXPECT_FALSE(d.allow);
    EXPECT_EQ(metric_decision(d, Mode::on), std::string("deny"));
}

TEST_P(AbuseStoreTest, TheSixthReferralSignupFromOneNetworkInAUtcDayIsDenied) {
    // 2026-03-10 23:59:59 UTC and the next day's midnight.
    const TimePoint last_second = TimePoint{} + std::chrono::seconds(1773187199);
    const TimePoint midnight = last_second + 1s;
    Decision d;
    for (int i = 1; i <= 5; ++i) {
        d = store_->check_signup(signup_req("e" + std::to_string(i), "AS7"), 5, Mode::on, kAbuseT0);
        EXPECT_TRUE(d.allow) << i;
        EXPECT_EQ(d.count, i);
    }
    // Non-referral signups are recorded, never limited, not counted.
    d = store_->check_signup(signup_req("plain", "AS7", false), 5, Mode::on, kAbuseT0);
    EXPECT_TRUE(d.allow);
    EXPECT_EQ(d.count, 5);
    d = store_->check_signup(signup_req("e6", "AS7"), 5, Mode::on, last_second);
    EXPECT_FALSE(d.allow);
    EXPECT_EQ(d.reason, "referral_signups_exceeded");
    EXPECT_EQ(d.count, 5);
    ASSERT_TRUE(d.limit);
    EXPECT_EQ(*d.limit, 5);
    // Another network is not affected; a new UTC day starts at 0.
    EXPECT_TRUE(store_->check_signup(signup_req("e7", "AS8"), 5, Mode::on, last_second).allow);
    d = store_->check_signup(signup_req("e8", "AS7"), 5, Mode::on, midnight);
    EXPECT_TRUE(d.allow);
    EXPECT_EQ(d.count, 1);
    // Shadow: allowed, reason and metric say what on would have done.
    for (int i = 0; i < 4; ++i) store_->check_signup(signup_req("s", "AS7"), 5, Mode::on, midnight);
    d = store_->check_signup(signup_req("s6", "AS7"), 5, Mode::shadow, midnight);
    EXPECT_TRUE(d.allow);
    EXPECT_EQ(d.reason, "referral_signups_exceeded");
    EXPECT_EQ(metric_decision(d, Mode::shadow), std::string("shadow_deny"));
}

TEST_P(AbuseStoreTest, PurgeDeletesOnlyWhatIsOlder) {
    device("acct", "dev0", "AS1", kAbuseT0);
    device("acct", "dev1", "AS1", kAbuseT0 + 1h);                               // pair + change
    store_->check_signup(signup_req("e1", "AS1"), 5, Mode::on, kAbuseT0);       // old
    store_->check_signup(signup_req("e2", "AS1"), 5, Mode::on, kAbuseT0 + 2h);  // kept
    EXPECT_EQ(store_->purge(kAbuseT0 + 1h), 2u);                                // dev0's pair, e1
    EXPECT_EQ(store_->purge(kAbuseT0 + 1h), 0u);
    // dev1's pair is kept: reused, not a change, the account is known.
    auto d = device("acct", "dev1", "AS1", kAbuseT0 + 2h);
    EXPECT_EQ(d.count, 1);
    EXPECT_EQ(store_->purge(kAbuseT0 + 30 * 24h), 3u);
    // Everything gone: the account's next pair is its first again.
    d = device("acct", "dev7", "AS1", kAbuseT0 + 31 * 24h);
    EXPECT_EQ(d.count, 0);
}

TEST_P(AbuseStoreTest, MigrationsAreVersionedAndRunOnceForConcurrentOpeners) {
    EXPECT_EQ(store_->schema_version(), 1);
    std::vector<std::thread> threads;
    std::atomic<int> failures{0};
    for (int i = 0; i < 8; ++i) {
        threads.emplace_back([&] {
            try {
                open();
            } catch (const std::exception& e) {
                ++failures;
                ADD_FAILURE() << e.what();
            }
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(failures.load(), 0);
    EXPECT_EQ(open()->schema_version(), 1);
    // Data survives reopening.
    device("acct", "dev0", "AS1", kAbuseT0);
    store_ = open();
    EXPECT_EQ(device("acct", "dev1", "AS1", kAbuseT0 + 1s).count, 1);
}

// N threads, one store (connection) each, released together.
template <typename Fn>
int abuse_race(int n, const std::vector<std::unique_ptr<AbuseStore>>& stores, Fn fn) {
    std::mutex m;
    std::condition_variable cv;
    int ready = 0;
    bool go = false;
    std::atomic<int> allowed{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < n; ++i) {
        threads.emplace_back([&, i] {
            {
                std::unique_lock<std::mutex> lock(m);
                ++ready;
                cv.notify_all();
                cv.wait(lock, [&] { return go; });
            }
            if (fn(*stores[static_cast<std::size_t>(i)], i)) ++allowed;
        });
    }
    {
        std::unique_lock<std::mutex> lock(m);
        cv.wait(lock, [&] { return ready == n; });
        go = true;
        cv.notify_all();
    }
    for (auto& t : threads) t.join();
    return allowed.load();
}

// Each race runs several rounds: one round may happen to serialise by
// chance (a store without its lock passes it now and then), five rarely do.
constexpr int kAbuseRaceRounds = 5;
constexpr int kAbuseRaceThreads = 20;

TEST_P(AbuseStoreTest, TwentyWayRaceOnDeviceChangesPassesExactlyTheLimit) {
    std::vector<std::unique_ptr<AbuseStore>> stores;
    for (int i = 0; i < kAbuseRaceThreads; ++i) stores.push_back(open());
    for (long limit : {3L, 1L}) {
        for (int round = 0; round < kAbuseRaceRounds; ++round) {
            const std::string account = "race" + std::to_string(limit) + "-" + std::to_string(round);
            device(account, "dev0", "AS1", kAbuseT0);  // the first pair
            const int allowed = abuse_race(kAbuseRaceThreads, stores, [&](AbuseStore& s, int i) {
                return s
                    .check_device(device_req(account, "d" + std::to_string(i), "AS1"), limit, Mode::on, kAbuseT0 + 1s)
                    .allow;
            });
            EXPECT_EQ(allowed, limit) << "limit " << limit << ", round " << round;
            EXPECT_EQ(device(account, "new", "AS1", kAbuseT0 + 2s, limit).count, limit);
        }
    }
}

TEST_P(AbuseStoreTest, TwentyWayRaceOnReferralSignupsPassesExactlyTheLimit) {
    std::vector<std::unique_ptr<AbuseStore>> stores;
    for (int i = 0; i < kAbuseRaceThreads; ++i) stores.push_back(open());
    for (long limit : {5L, 1L}) {
        for (int round = 0; round < kAbuseRaceRounds; ++round) {
            const std::string network = "AS" + std::to_string(limit) + "0" + std::to_string(round);
            const int allowed = abuse_race(kAbuseRaceThreads, stores, [&](AbuseStore& s, int i) {
                return s.check_signup(signup_req("e" + std::to_string(i), network), limit, Mode::on, kAbuseT0).allow;
            });
            EXPECT_EQ(allowed, limit) << "limit " << limit << ", round " << round;
            EXPECT_EQ(store_->check_signup(signup_req("late", network), limit, Mode::on, kAbuseT0).count, limit);
        }
    }
}

TEST_P(AbuseStoreTest, OneStoreSharedByThreadsIsExactToo) {
    device("acct", "dev0", "AS1", kAbuseT0);
    std::atomic<int> allowed{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 20; ++i) {
        threads.emplace_back([&, i] {
            if (device("acct", "d" + std::to_string(i), "AS1", kAbuseT0 + 1s).allow) ++allowed;
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(allowed.load(), 3);
}

TEST_P(AbuseStoreTest, APoolOfFourSharedByTwentyThreadsIsExact) {
    std::vector<std::unique_ptr<AbuseStore>> four;
    for (int i = 0; i < 4; ++i) four.push_back(open());
    StorePool pool(std::move(four));
    EXPECT_EQ(pool.size(), 4u);
    EXPECT_STREQ(pool.kind(), GetParam().c_str());
    EXPECT_EQ(pool.schema_version(), 1);
    pool.check_device(device_req("acct", "dev0", "AS1"), 3, Mode::on, kAbuseT0);
    std::atomic<int> allowed_devices{0};
    std::atomic<int> allowed_signups{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < kAbuseRaceThreads; ++i) {
        threads.emplace_back([&, i] {
            if (pool.check_device(device_req("acct", "d" + std::to_string(i), "AS1"), 3, Mode::on, kAbuseT0 + 1s)
                    .allow) {
                ++allowed_devices;
            }
            if (pool.check_signup(signup_req("e" + std::to_string(i), "AS1"), 5, Mode::on, kAbuseT0).allow) {
                ++allowed_signups;
            }
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(allowed_devices.load(), 3);
    EXPECT_EQ(allowed_signups.load(), 5);
    EXPECT_EQ(pool.purge(kAbuseT0 + 48h), 1u + 3u + 3u + 5u);  // pairs, changes, signups
}

INSTANTIATE_TEST_SUITE_P(Sqlite, AbuseStoreTest, ::testing::Values(std::string("sqlite")));
INSTANTIATE_TEST_SUITE_P(Postgres, AbuseStoreTest, ::testing::Values(std::string("postgres")));

TEST(AbuseSqliteStore, TheFileIsPrivateAndInWalMode) {
    TempDir dir;
    ::umask(022);
    SqliteAbuseStore store(dir.file("abuse.db"));
    store.check_device(device_req("a", "d", "AS1"), 3, Mode::on, kAbuseT0);
    struct stat st {};
    ASSERT_EQ(::stat(dir.file("abuse.db").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    ASSERT_EQ(::stat(dir.file("abuse.db-wal").c_str(), &st), 0) << "WAL mode";
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    EXPECT_STREQ(store.kind(), "sqlite");
}

TEST(AbuseSqliteStore, AnUnopenableFileIsAStoreError) {
    EXPECT_THROW(SqliteAbuseStore("/nonexistent-dir/abuse.db"), StoreError);
}

TEST(AbusePostgresStore, AnUnreachableServerIsAStoreErrorWithoutThePassword) {
    try {
        PostgresAbuseStore store("postgresql://u:s3cret-pw@127.0.0.1:1/db?connect_timeout=2");
        FAIL() << "connected";
    } catch (const StoreError& e) {
        EXPECT_NE(std::string(e.what()).find("cannot connect"), std::string::npos) << e.what();
        EXPECT_EQ(std::string(e.what()).find("s3cret-pw"), std::string::npos) << e.what();
    }
}

TEST(AbusePostgresStore, ABrokenConnectionFailsOneCallThenReconnects) {
    const std::string url = env_or_empty("LEVQOR_TEST_PG_URL");
    if (url.empty()) GTEST_SKIP() << "no test server (run t/abuse_postgres.t)";
    PostgresAbuseStore store(url);
    EXPECT_TRUE(store.check_device(device_req("reconnect", "d0", "AS1"), 3, Mode::on, kAbuseT0).allow);
    {
        PGconn* admin = PQconnectdb(url.c_str());
        ASSERT_EQ(PQstatus(admin), CONNECTION_OK) << PQerrorMessage(admin);
        PGresult* res = PQexec(admin,
                               "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                               " WHERE application_name = 'levqor-abuse' AND pid <> pg_backend_pid()");
        EXPECT_EQ(PQresultStatus(res), PGRES_TUPLES_OK) << PQresultErrorMessage(res);
        EXPECT_EQ(std::string(PQgetvalue(res, 0, 0)), "1");
        PQclear(res);
        PQfinish(admin);
    }
    EXPECT_THROW(store.check_device(device_req("reconnect", "d1", "AS1"), 3, Mode::on, kAbuseT0 + 1s), StoreError);
    // The failed call recorded nothing: d1 is the account's first change now.
    const auto d = store.check_device(device_req("reconnect", "d1", "AS1"), 3, Mode::on, kAbuseT0 + 2s);
    EXPECT_TRUE(d.allow);
    EXPECT_EQ(d.count, 1);
}

TEST(AbuseMode, ParsesTheFlagValues) {
    EXPECT_EQ(parse_mode("off"), Mode::off);
    EXPECT_EQ(parse_mode("shadow"), Mode::shadow);
    EXPECT_EQ(parse_mode("on"), Mode::on);
    EXPECT_EQ(parse_mode("true"), Mode::on);
    EXPECT_EQ(parse_mode("0"), Mode::off);
    EXPECT_EQ(parse_mode("ON"), std::nullopt);
    EXPECT_EQ(parse_mode(""), std::nullopt);
    EXPECT_STREQ(to_string(Mode::shadow), "shadow");
}

// A store that blocks in check_device until released: the pool's own
// waiting, which no real server produces on demand.
class HeldAbuseStore : public AbuseStore {
public:
    Decision decide_device(const DeviceRequest&, std::optional<long>, Mode, TimePoint) override {
        std::unique_lock<std::mutex> lock(mutex_);
        entered_ = true;
        cv_.notify_all();
        cv_.wait(lock, [this] { return released_; });
        return Decision{};
    }
    Decision decide_signup(const SignupRequest&, long, Mode, TimePoint) override { return Decision{}; }
    std::size_t purge(TimePoint) override { return 0; }
    const char* kind() const override { return "held"; }
    int schema_version() override { return 0; }

    void wait_entered() {
        std::unique_lock<std::mutex> lock(mutex_);
        cv_.wait(lock, [this] { return entered_; });
    }
    void release() {
        std::lock_guard<std::mutex> lock(mutex_);
        released_ = true;
        cv_.notify_all();
    }

private:
    std::mutex mutex_;
    std::condition_variable cv_;
    bool entered_ = false;
    bool released_ = false;
};

TEST(AbuseStorePool, AllConnectionsBusyIsAStoreErrorAfterTheTimeout) {
    auto held = std::make_unique<HeldAbuseStore>();
    auto* h = held.get();
    std::vector<std::unique_ptr<AbuseStore>> one;
    one.push_back(std::move(held));
    StorePool pool(std::move(one), std::chrono::milliseconds(20));
    std::thread busy([&] { pool.check_device(device_req("a", "d", "AS1"), 3, Mode::on, kAbuseT0); });
    h->wait_entered();
    try {
        pool.check_signup(signup_req("e", "AS1"), 5, Mode::on, kAbuseT0);
        ADD_FAILURE() << "borrowed a busy connection";
    } catch (const StoreError& e) {
        EXPECT_NE(std::string(e.what()).find("all 1 connections busy"), std::string::npos) << e.what();
    }
    h->release();
    busy.join();
    // Given back: the next call gets it.
    EXPECT_EQ(pool.check_signup(signup_req("e", "AS1"), 5, Mode::on, kAbuseT0).reason, "");
}

TEST(AbuseStorePool, OpensTheConfiguredStore) {
    TempDir dir;
    StoreOptions options;
    options.sqlite_path = abuse_db_path(dir.path());
    EXPECT_EQ(options.sqlite_path, dir.path() + "/abuse.db");
    EXPECT_STREQ(open_store(options)->kind(), "sqlite");
    options.connections = 3;
    StorePool pool(options);
    EXPECT_EQ(pool.size(), 3u);
    EXPECT_EQ(pool.schema_version(), 1);
    options.database_url = "postgresql://u@127.0.0.1:1/db?connect_timeout=2";
    EXPECT_THROW(open_store(options), StoreError);  // PostgreSQL chosen, unreachable
    options.database_url.reset();
    options.connections = 0;
    EXPECT_THROW(StorePool{options}, std::invalid_argument);
}

TEST(AbuseStorePool, RetentionCutoff) {
    EXPECT_EQ(retention_cutoff(kAbuseT0, 30), kAbuseT0 - 30 * 24h);
    EXPECT_EQ(retention_cutoff(kAbuseT0, 2), kAbuseT0 - 48h);
    EXPECT_THROW(retention_cutoff(kAbuseT0, 1), std::invalid_argument);
    EXPECT_THROW(retention_cutoff(kAbuseT0, 3651), std::invalid_argument);
}

}  // namespace
}  // namespace levqor::controld::abuse
