// SPDX-License-Identifier: Apache-2.0
// A driver for the abuse store's own cost (issue 15): sequential device
// checks on one store, one thread, timed per check. Skipped unless
// LEVQOR_BENCH_ABUSE_DIR (an existing directory for abuse.db) is set; with
// LEVQOR_BENCH_PG_URL it measures the PostgreSQL store instead:
//
//   LEVQOR_BENCH_ABUSE_DIR=<dir> [LEVQOR_BENCH_PG_URL=postgresql://...]
//   [LEVQOR_BENCH_ABUSE_CHECKS=20000] levqor_controld_tests --gtest_filter=AbuseBench.*
//
// Traffic: 2,000 accounts; 9 checks in 10 reuse one of the account's two
// usual pairs, 1 in 10 is a new device (a change). Prints one line
// `bench: key=value ...`.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "levqor/controld/abuse/postgres_store.h"
#include "levqor/controld/abuse/sqlite_store.h"
#include "test_support.h"

namespace levqor::controld::abuse {
namespace {

TEST(AbuseBench, DeviceChecksOneThread) {
    const std::string dir = testing::env_or_empty("LEVQOR_BENCH_ABUSE_DIR");
    if (dir.empty()) GTEST_SKIP() << "LEVQOR_BENCH_ABUSE_DIR not set";
    const std::string url = testing::env_or_empty("LEVQOR_BENCH_PG_URL");
    const std::string n_text = testing::env_or_empty("LEVQOR_BENCH_ABUSE_CHECKS");
    const long checks = n_text.empty() ? 20000 : std::strtol(n_text.c_str(), nullptr, 10);
    std::unique_ptr<AbuseStore> store;
    if (url.empty()) {
        store = std::make_unique<SqliteAbuseStore>(dir + "/abuse.db");
    } else {
        store = std::make_unique<PostgresAbuseStore>(url);
    }
    // A fixed start far from any other run's data is not needed: each run
    // uses a fresh directory (or database).
    const TimePoint t0 = TimePoint{} + std::chrono::seconds(1773144000);
    std::vector<double> micros;
    micros.reserve(static_cast<std::size_t>(checks));
    std::uint64_t x = 88172645463325252ULL;  // xorshift: the same traffic every run
    long denied = 0;
    for (long i = 0; i < checks; ++i) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        const auto account = "acct" + std::to_string(x % 2000);
        const bool change = (x >> 20) % 10 == 0;
        const auto dev = change ? "dev-new-" + std::to_string(i) : "dev" + std::to_string((x >> 30) % 2);
        DeviceRequest req{std::string(64, 'a') + account, "free", std::string(64, 'd') + dev,
                          Network{"AS64500", "asn"}};
        const auto start = std::chrono::steady_clock::now();
        const auto d = store->check_device(req, 3, Mode::on, t0 + std::chrono::seconds(i));
        micros.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count());
        if (!d.allow) ++denied;
    }
    std::sort(micros.begin(), micros.end());
    double total = 0;
    for (double m : micros) total += m;
    auto pct = [&](double p) { return micros[static_cast<std::size_t>(p * static_cast<double>(micros.size() - 1))]; };
    std::printf("bench: store=%s checks=%ld denied=%ld p50_us=%.1f p99_us=%.1f max_us=%.1f checks_per_s=%.0f\n",
                store->kind(), checks, denied, pct(0.5), pct(0.99), micros.back(),
                static_cast<double>(checks) / (total / 1e6));
}

}  // namespace
}  // namespace levqor::controld::abuse
