// SPDX-License-Identifier: Apache-2.0
// The PostgreSQL backup engine (backup/postgres.h) against a real server.
//
// The server is started by t/backup_postgres.t (Test::Levqor::Postgres:
// initdb + pg_ctl as the postgres user on a loopback port), which runs these
// tests with LEVQOR_TEST_PG_URL (the password-authenticated test role, owner
// of its database, CREATEDB) and LEVQOR_TEST_PG_ADMIN (the superuser over
// the unix socket, for setup the role may not do). Without them (a plain
// ctest run) the server tests skip; the pure ones run everywhere.
// Unit tests rather than a driver program: they assert on the engine's own
// values (Parity, DrillResult, the exception text) and use the engine's test
// hook (BeforeCompare) to change the scratch copy mid-drill.
#include <libpq-fe.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "levqor/controld/backup/postgres.h"
#include "test_support.h"

namespace levqor::controld::backup {
namespace {

using testing::env_or_empty;

using testing::TempDir;

// A libpq connection for the test's own SQL; a failed statement fails the test.
class Sql {
public:
    explicit Sql(const std::string& conninfo) : conn_(PQconnectdb(conninfo.c_str())) {
        if (PQstatus(conn_) != CONNECTION_OK) ADD_FAILURE() << "connect: " << PQerrorMessage(conn_);
        PQsetNoticeProcessor(
            conn_, [](void*, const char*) {}, nullptr);  // DROP ... IF EXISTS chatter
    }
    ~Sql() { PQfinish(conn_); }
    Sql(const Sql&) = delete;
    Sql& operator=(const Sql&) = delete;

    // The first value of the first row ("" if none).
    std::string operator()(const std::string& sql) {
        PGresult* res = PQexec(conn_, sql.c_str());
        const auto status = PQresultStatus(res);
        std::string value;
        if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
            ADD_FAILURE() << sql << ": " << PQresultErrorMessage(res);
        } else if (PQntuples(res) > 0 && PQnfields(res) > 0) {
            value = PQgetvalue(res, 0, 0);
        }
        PQclear(res);
        return value;
    }

private:
    PGconn* conn_;
};

class PostgresBackup : public ::testing::Test {
protected:
    void SetUp() override {
        url_ = env_or_empty("LEVQOR_TEST_PG_URL");
        admin_ = env_or_empty("LEVQOR_TEST_PG_ADMIN");
        if (url_.empty() || admin_.empty()) GTEST_SKIP() << "no test server (run t/backup_postgres.t)";
        options_.url = url_;
        options_.bin_dir = env_or_empty("LEVQOR_TEST_PG_BIN");
        Sql sql(url_);
        sql("DROP SCHEMA IF EXISTS bk CASCADE; DROP SCHEMA IF EXISTS \"Odd \"\"schema\"\".v2\" CASCADE;"
            " SELECT lo_unlink(oid) FROM pg_largeobject_metadata");
    }

    std::string password() const {
        const auto at = url_.rfind('@');
        const auto colon = url_.rfind(':', at);
        return url_.substr(colon + 1, at - colon - 1);
    }

    int scratch_databases() {
        Sql sql(admin_);
        return std::stoi(sql("SELECT count(*) FROM pg_database WHERE datname LIKE 'levqor\\_verify\\_%'"));
    }

    std::string url_;
    std::string admin_;
    PostgresOptions options_;
    TempDir dir_;
};

TEST(PostgresParity, DescribeMismatchNamesEveryDifference) {
    const Parity expected = {{"public.a", {3, "01"}}, {"public.b", {2, "02"}}, {"public.c", {1, "03"}}};
    const Parity actual = {{"public.a", {3, "ff"}}, {"public.b", {5, "02"}}, {"public.d", {0, "00"}}};
    EXPECT_EQ(describe_mismatch(expected, expected), "");
    EXPECT_EQ(describe_mismatch(expected, actual),
              "public.a: content differs (3 rows)\n"
              "public.b: 2 rows expected, 5 restored\n"
              "public.c: missing in the restore\n"
              "public.d: not in the backup");
    EXPECT_EQ(describe_mismatch(expected, actual, 2),
              "public.a: content differs (3 rows)\npublic.b: 2 rows expected, 5 restored\n... and 2 more");
}

TEST_F(PostgresBackup, DumpAndParityAgreeWhileAWriterCommits) {
    Sql sql(url_);
    sql("CREATE SCHEMA bk; CREATE TABLE bk.events (id bigserial PRIMARY KEY, n int, body text);"
        " INSERT INTO bk.events (n, body) SELECT g, repeat(md5(g::text), 8) FROM generate_series(1, 200000) g;"
        " CREATE TABLE bk.counter (k int PRIMARY KEY, v bigint); INSERT INTO bk.counter VALUES (1, 0)");
    std::atomic<bool> stop{false};
    std::atomic<int> commits{0};
    std::thread writer([&] {
        Sql w(url_);
        while (!stop) {
            w("BEGIN; INSERT INTO bk.events (n, body) VALUES (-1, 'during the dump');"
              " UPDATE bk.events SET n = n + 1 WHERE id = 1 + (random() * 199999)::int;"
              " UPDATE bk.counter SET v = v + 1 WHERE k = 1; COMMIT");
            ++commits;
        }
    });
    while (commits < 20) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    const int before = commits;
    PostgresDump dump;
    try {
        dump = dump_postgres(options_, dir_.path());
    } catch (...) {
        stop = true;
        writer.join();
        throw;
    }
    const int during = commits - before;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    stop = true;
    writer.join();

    EXPECT_GT(during, 0) << "the writer committed while the dump ran";
    ASSERT_EQ(dump.parity.count("bk.events"), 1u);
    EXPECT_GE(dump.parity.at("bk.events").rows, 200000u);
    EXPECT_EQ(dump.parity.at("bk.events").digest.size(), 16u);
    EXPECT_GT(dump.bytes, 0u);
    EXPECT_NE(dump.pg_dump_version.find("pg_dump (PostgreSQL)"), std::string::npos);
    // The live table moved on after the snapshot: the dump's rows are fewer.
    EXPECT_LT(dump.parity.at("bk.events").rows, std::stoull(sql("SELECT count(*) FROM bk.events")));

    const auto drill = drill_postgres(options_, dump.file, dump.parity, "writer1");
    EXPECT_TRUE(drill.ok) << drill.error;
    EXPECT_EQ(drill.parity, dump.parity);
    EXPECT_GT(drill.restore_seconds, 0);
    EXPECT_EQ(drill.database, "levqor_verify_writer1");
    EXPECT_EQ(scratch_databases(), 0) << "the scratch database is dropped";
}

TEST_F(PostgresBackup, OddNamesAndTypesRoundTrip) {
    Sql sql(url_);
    sql("CREATE SCHEMA \"Odd \"\"schema\"\".v2\";"
        " CREATE TABLE \"Odd \"\"schema\"\".v2\".\"Table. With 'quotes' \"\"and\"\" spaces\" ("
        "   id int, b bytea, j jsonb, n numeric, f float8, t timestamptz, i interval, s text, a int[], r int);"
        " INSERT INTO \"Odd \"\"schema\"\".v2\".\"Table. With 'quotes' \"\"and\"\" spaces\" VALUES"
        "  (1, '\\x00ff10'::bytea, '{\"k\": [1, 2.50, null]}', 12345678901234567890.000123, 0.1,"
        "   '2026-11-29 10:00:00+05', '1 day 02:03:04', E'line\\nbreak \\\\ \"q\"', '{1,NULL,3}', 7),"
        "  (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),"
        "  (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);"
        " CREATE TABLE \"Odd \"\"schema\"\".v2\".empty ();"
        // Enum values hash by their pg_enum OID, new in a restored copy: hashed by their text.
        " CREATE TYPE \"Odd \"\"schema\"\".v2\".mood AS ENUM ('sad', 'ok', 'happy');"
        " CREATE TABLE \"Odd \"\"schema\"\".v2\".moods (id int, m \"Odd \"\"schema\"\".v2\".mood,"
        "   ms \"Odd \"\"schema\"\".v2\".mood[]);"
        " INSERT INTO \"Odd \"\"schema\"\".v2\".moods VALUES (1, 'happy', '{sad,ok}'), (2, NULL, NULL);"
        // json and point have no extended hash function: the row-text fallback.
        " CREATE TABLE \"Odd \"\"schema\"\".v2\".nohash (id int, j json, p point);"
        " INSERT INTO \"Odd \"\"schema\"\".v2\".nohash VALUES (1, '{\"a\":  1}', '(1,2)'), (2, NULL, NULL);"
        " SELECT lo_from_bytea(0, 'large object one'), lo_from_bytea(0, 'large object two')");
    const auto dump = dump_postgres(options_, dir_.path());
    const std::string odd = "\"Odd \"\"schema\"\".v2\".\"Table. With 'quotes' \"\"and\"\" spaces\"";
    ASSERT_EQ(dump.parity.count(odd), 1u) << "quoted as in SQL";
    EXPECT_EQ(dump.parity.at(odd).rows, 3u);
    EXPECT_EQ(dump.parity.at("\"Odd \"\"schema\"\".v2\".empty").rows, 0u);
    EXPECT_EQ(dump.parity.at("pg_catalog.pg_largeobject").rows, 2u);

    const auto drill = drill_postgres(options_, dump.file, dump.parity, "odd");
    EXPECT_TRUE(drill.ok) << drill.error;
    EXPECT_EQ(drill.parity, dump.parity);

    // Every value takes part: one changed byte of the bytea changes the digest.
    sql("UPDATE " + odd + " SET b = '\\x00ff11' WHERE id = 1");
    const auto changed = dump_postgres(options_, dir_.path());
    EXPECT_EQ(changed.parity.at(odd).rows, 3u);
    EXPECT_NE(changed.parity.at(odd).digest, dump.parity.at(odd).digest);
    const std::string nohash = "\"Odd \"\"schema\"\".v2\".nohash";
    EXPECT_EQ(changed.parity.at(nohash), dump.parity.at(nohash));
    sql("UPDATE " + nohash + " SET j = '{\"a\": 1}' WHERE id = 1");  // only the json's spacing
    const auto json_changed = dump_postgres(options_, dir_.path());
    EXPECT_EQ(json_changed.parity.at(nohash).rows, 2u);
    EXPECT_NE(json_changed.parity.at(nohash).digest, dump.parity.at(nohash).digest);
    // So does a large object's content.
    sql("SELECT lo_put(min(oid), 0, 'L') FROM pg_largeobject_metadata");
    const auto lo_changed = dump_postgres(options_, dir_.path());
    EXPECT_NE(lo_changed.parity.at("pg_catalog.pg_largeobject").digest,
              changed.parity.at("pg_catalog.pg_largeobject").digest);
}

TEST_F(PostgresBackup, PartitionsUnloggedGeneratedCompositeAndViewsRoundTrip) {
    Sql sql(url_);
    sql("CREATE SCHEMA bk;"
        " CREATE TABLE bk.p (id int, at date, v numeric) PARTITION BY RANGE (at);"
        " CREATE TABLE bk.p_2025 PARTITION OF bk.p FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');"
        " CREATE TABLE bk.p_2026 PARTITION OF bk.p FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');"
        " INSERT INTO bk.p SELECT g, date '2025-06-01' + g, g / 7.0 FROM generate_series(1, 400) g;"
        " CREATE UNLOGGED TABLE bk.scratchpad (k text PRIMARY KEY, v bytea);"
        " INSERT INTO bk.scratchpad VALUES ('a', '\\x01'), ('b', NULL);"
        " CREATE TYPE bk.pair AS (a int, b text); CREATE DOMAIN bk.pos AS int CHECK (VALUE > 0);"
        " CREATE TABLE bk.mixed (id bk.pos, pr bk.pair, r int4range, g int GENERATED ALWAYS AS (id * 2) STORED);"
        " INSERT INTO bk.mixed (id, pr, r) VALUES (1, ROW(1, 'x'), '[1,5)'), (2, NULL, 'empty');"
        " CREATE MATERIALIZED VIEW bk.mv AS SELECT count(*) FROM bk.p; CREATE VIEW bk.v AS SELECT 1 AS one");
    const auto dump = dump_postgres(options_, dir_.path());
    EXPECT_EQ(dump.parity.count("bk.p"), 0u) << "a partitioned parent is counted through its partitions";
    EXPECT_EQ(dump.parity.at("bk.p_2025").rows + dump.parity.at("bk.p_2026").rows, 400u);
    EXPECT_EQ(dump.parity.at("bk.scratchpad").rows, 2u);
    EXPECT_EQ(dump.parity.at("bk.mixed").rows, 2u);
    EXPECT_EQ(dump.parity.count("bk.mv") + dump.parity.count("bk.v"), 0u) << "views are not tables";
    const auto drill = drill_postgres(options_, dump.file, dump.parity, "kinds");
    EXPECT_TRUE(drill.ok) << drill.error;
}

TEST_F(PostgresBackup, ARowChangedInTheScratchCopyIsAMismatch) {
    Sql sql(url_);
    sql("CREATE SCHEMA bk; CREATE TABLE bk.t (id int PRIMARY KEY, v text);"
        " INSERT INTO bk.t SELECT g, 'v' || g FROM generate_series(1, 1000) g;"
        " CREATE TABLE bk.u (id int); INSERT INTO bk.u VALUES (1), (2)");
    const auto dump = dump_postgres(options_, dir_.path());
    const auto drill = drill_postgres(options_, dump.file, dump.parity, "changed", [](const std::string& info) {
        Sql copy(info);
        copy("UPDATE bk.t SET v = 'v501 ' WHERE id = 501; DELETE FROM bk.u WHERE id = 2");
    });
    EXPECT_FALSE(drill.ok);
    EXPECT_NE(drill.error.find("bk.t: content differs (1000 rows)"), std::string::npos) << drill.error;
    EXPECT_NE(drill.error.find("bk.u: 2 rows expected, 1 restored"), std::string::npos) << drill.error;
    EXPECT_EQ(scratch_databases(), 0) << "dropped after a mismatch too";
}

TEST_F(PostgresBackup, ATruncatedDumpFailsTheRestore) {
    Sql sql(url_);
    sql("CREATE SCHEMA bk; CREATE TABLE bk.t (id int, v text);"
        " INSERT INTO bk.t SELECT g, repeat('x', 100) FROM generate_series(1, 20000) g");
    const auto dump = dump_postgres(options_, dir_.path());
    ASSERT_EQ(::truncate(dump.file.c_str(), static_cast<off_t>(dump.bytes / 2)), 0);
    const auto drill = drill_postgres(options_, dump.file, dump.parity, "truncated");
    EXPECT_FALSE(drill.ok);
    EXPECT_EQ(drill.error.rfind("pg_restore failed (exit code 1): ", 0), 0u) << drill.error;
    EXPECT_TRUE(drill.parity.empty());
    EXPECT_EQ(scratch_databases(), 0) << "dropped after a failed restore too";
}

TEST_F(PostgresBackup, RestoreIntoANewDatabaseAndNeverOverANonEmptyOneWithoutForce) {
    Sql sql(url_);
    sql("CREATE SCHEMA bk; CREATE TABLE bk.t (id int PRIMARY KEY, v jsonb);"
        " INSERT INTO bk.t SELECT g, jsonb_build_object('g', g) FROM generate_series(1, 500) g");
    const auto dump = dump_postgres(options_, dir_.path());
    Sql admin(admin_);
    admin("DROP DATABASE IF EXISTS levqor_restored WITH (FORCE)");  // one per PQexec: not in a transaction block
    admin("DROP DATABASE IF EXISTS levqor_empty");
    const auto base = url_.substr(0, url_.rfind('/') + 1);

    auto first = restore_postgres(options_, dump.file, "levqor_restored", false);
    ASSERT_TRUE(first.ok) << first.error;
    EXPECT_FALSE(first.conflict);
    EXPECT_GT(first.restore_seconds, 0);
    {
        Sql restored(base + "levqor_restored");
        EXPECT_EQ(restored("SELECT count(*) FROM bk.t"), "500");
        EXPECT_EQ(restored("SELECT v->>'g' FROM bk.t WHERE id = 77"), "77");
        restored("INSERT INTO bk.t VALUES (501, '{}')");
    }
    const auto again = restore_postgres(options_, dump.file, "levqor_restored", false);
    EXPECT_FALSE(again.ok);
    EXPECT_TRUE(again.conflict);
    EXPECT_NE(again.error.find("\"levqor_restored\" exists and is not empty"), std::string::npos) << again.error;
    {
        Sql restored(base + "levqor_restored");
        EXPECT_EQ(restored("SELECT count(*) FROM bk.t"), "501") << "left untouched";
    }
    const auto forced = restore_postgres(options_, dump.file, "levqor_restored", true);
    EXPECT_TRUE(forced.ok) << forced.error;
    {
        Sql restored(base + "levqor_restored");
        EXPECT_EQ(restored("SELECT count(*) FROM bk.t"), "500") << "replaced";
    }

    sql("CREATE DATABASE levqor_empty");
    const auto into_empty = restore_postgres(options_, dump.file, "levqor_empty", false);
    EXPECT_TRUE(into_empty.ok) << into_empty.error;

    const auto source = restore_postgres(options_, dump.file, "levqor_test", true);
    EXPECT_FALSE(source.ok);
    EXPECT_FALSE(source.conflict);
    EXPECT_NE(source.error.find("the backed-up database itself"), std::string::npos) << source.error;

    // A failed restore leaves no half database behind.
    ASSERT_EQ(::truncate(dump.file.c_str(), static_cast<off_t>(dump.bytes / 2)), 0);
    const auto broken = restore_postgres(options_, dump.file, "levqor_broken", false);
    EXPECT_FALSE(broken.ok);
    EXPECT_EQ(broken.error.rfind("pg_restore failed", 0), 0u) << broken.error;
    EXPECT_EQ(admin("SELECT count(*) FROM pg_database WHERE datname = 'levqor_broken'"), "0");
    admin("DROP DATABASE levqor_restored WITH (FORCE)");
    admin("DROP DATABASE levqor_empty WITH (FORCE)");
}

TEST_F(PostgresBackup, PasswordsAreRedactedFromErrors) {
    const auto pw = password();
    ASSERT_FALSE(pw.empty());
    // A wrong password: libpq's message, the password nowhere.
    auto wrong = options_;
    const auto at = url_.rfind('@');
    wrong.url = url_.substr(0, at) + "x" + url_.substr(at);
    try {
        dump_postgres(wrong, dir_.path());
        ADD_FAILURE() << "no error";
    } catch (const PostgresError& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find("password authentication failed"), std::string::npos) << what;
        EXPECT_EQ(what.find(pw), std::string::npos) << what;
    }
    // A message that would echo the password: a database named like it.
    auto echo = options_;
    echo.url = url_.substr(0, url_.rfind('/') + 1) + pw;
    try {
        dump_postgres(echo, dir_.path());
        ADD_FAILURE() << "no error";
    } catch (const PostgresError& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find("does not exist"), std::string::npos) << what;
        EXPECT_EQ(what.find(pw), std::string::npos) << what;
    }
    // A table the role may not read: the parity query's error (it comes first:
    // it ends the snapshot pg_dump needs), password-free too.
    Sql admin(admin_);
    admin(
        "CREATE SCHEMA IF NOT EXISTS bk_private; CREATE TABLE IF NOT EXISTS bk_private.secret (x int);"
        " GRANT USAGE ON SCHEMA bk_private TO PUBLIC");
    try {
        dump_postgres(options_, dir_.path());
        ADD_FAILURE() << "no error";
    } catch (const PostgresError& e) {
        const std::string what = e.what();
        EXPECT_EQ(what.rfind("parity of 127.0.0.1:", 0), 0u) << what;
        EXPECT_NE(what.find("permission denied for table secret"), std::string::npos) << what;
        EXPECT_EQ(what.find(pw), std::string::npos) << what;
    }
    struct stat st {};
    EXPECT_NE(::stat((dir_.path() + "/dump.pgc").c_str(), &st), 0) << "no partial dump left";
    admin("DROP SCHEMA bk_private CASCADE");
    // The drill reports, never throws, and redacts too.
    const auto drill = drill_postgres(wrong, dir_.file("none.pgc"), {}, "badpw");
    EXPECT_FALSE(drill.ok);
    EXPECT_NE(drill.error.find("password authentication failed"), std::string::npos) << drill.error;
    EXPECT_EQ(drill.error.find(pw), std::string::npos) << drill.error;
}

TEST_F(PostgresBackup, APgDumpOfAnotherMajorVersionIsRefusedNamingBoth) {
    // A pg_dump that claims another major version (the machine has one installed).
    const auto bin = dir_.file("bin");
    ASSERT_EQ(::mkdir(bin.c_str(), 0755), 0);
    for (const char* tool : {"pg_dump", "pg_restore"}) {
        const auto path = bin + "/" + tool;
        std::ofstream(path) << "#!/bin/sh\necho '" << tool << " (PostgreSQL) 9.6.24'\n";
        ::chmod(path.c_str(), 0755);
    }
    auto other = options_;
    other.bin_dir = bin;
    Sql sql(url_);
    const auto server = sql("SHOW server_version");
    try {
        dump_postgres(other, dir_.path());
        ADD_FAILURE() << "no error";
    } catch (const PostgresError& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find("pg_dump (PostgreSQL) 9.6.24"), std::string::npos) << what;
        EXPECT_NE(what.find("PostgreSQL " + server), std::string::npos) << what;
        EXPECT_NE(what.find("major versions must match"), std::string::npos) << what;
    }
    EXPECT_THROW(drill_postgres(options_, "x", {}, "bad id!"), PostgresError);
}

}  // namespace
}  // namespace levqor::controld::backup
