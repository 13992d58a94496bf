// SPDX-License-Identifier: Apache-2.0
// The driver of scripts/bench/backup.sh (issue 13): the PostgreSQL engine's
// dump and restore drill, timed, against the server the bench started.
// Skipped unless LEVQOR_BENCH_PG_URL is set (never in the unit tests):
//
//   LEVQOR_BENCH_PG_URL=postgresql://... LEVQOR_BENCH_DIR=<existing dir>
//   [LEVQOR_BENCH_PG_BIN=<bin dir>] levqor_controld_tests --gtest_filter=BackupBench.*
//
// Leaves <dir>/dump.pgc for the bench's raw pg_restore and prints one line
// `bench: key=value ...` that the script parses.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <gtest/gtest.h>

#include "levqor/controld/backup/postgres.h"
#include "levqor/controld/core/elapsed.h"
#include "test_support.h"

namespace levqor::controld::backup {
namespace {

using testing::env_or_empty;

TEST(BackupBench, PostgresDumpAndDrill) {
    const std::string url = env_or_empty("LEVQOR_BENCH_PG_URL");
    const std::string dir = env_or_empty("LEVQOR_BENCH_DIR");
    if (url.empty() || dir.empty()) GTEST_SKIP() << "LEVQOR_BENCH_PG_URL and LEVQOR_BENCH_DIR not set";
    PostgresOptions options;
    options.url = url;
    options.bin_dir = env_or_empty("LEVQOR_BENCH_PG_BIN");
    options.restore_jobs = 2;

    auto start = std::chrono::steady_clock::now();
    const PostgresDump dump = dump_postgres(options, dir);
    const double dump_wall = seconds_since(start);
    ASSERT_GT(dump.bytes, 0u);

    start = std::chrono::steady_clock::now();
    const DrillResult drill = drill_postgres(options, dump.file, dump.parity, "bench");
    const double drill_wall = seconds_since(start);
    ASSERT_TRUE(drill.ok) << drill.error;

    std::uint64_t rows = 0;
    for (const auto& [table, p] : dump.parity) rows += p.rows;
    std::printf(
        "bench: dump_bytes=%llu tables=%zu rows=%llu dump_seconds=%.3f dump_wall=%.3f parity_seconds=%.3f "
        "restore_seconds=%.3f drill_parity_seconds=%.3f drill_wall=%.3f\n",
        static_cast<unsigned long long>(dump.bytes), dump.parity.size(), static_cast<unsigned long long>(rows),
        dump.dump_seconds, dump_wall, dump.parity_seconds, drill.restore_seconds, drill.parity_seconds, drill_wall);
    std::fflush(stdout);
}

}  // namespace
}  // namespace levqor::controld::backup
