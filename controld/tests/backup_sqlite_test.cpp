// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>

#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <string>
#include <thread>

#include "levqor/controld/backup/manifest.h"
#include "levqor/controld/backup/sqlite.h"
#include "test_support.h"

namespace levqor::controld::backup {
namespace {

using testing::TempDir;

// A connection for the tests' own reads and writes.
class Conn {
public:
    explicit Conn(const std::string& path) {
        if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK) ADD_FAILURE() << sqlite3_errmsg(db_);
        sqlite3_busy_timeout(db_, 10000);
    }
    ~Conn() { sqlite3_close_v2(db_); }
    Conn(const Conn&) = delete;
    Conn& operator=(const Conn&) = delete;
    void exec(const std::string& sql) {
        char* error = nullptr;
        if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
            ADD_FAILURE() << sql << ": " << (error ? error : "?");
            sqlite3_free(error);
        }
    }
    std::int64_t scalar(const std::string& sql) {
        sqlite3_stmt* stmt = nullptr;
        std::int64_t v = -1;
        if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK && sqlite3_step(stmt) == SQLITE_ROW) {
            v = sqlite3_column_int64(stmt, 0);
        }
        sqlite3_finalize(stmt);
        return v;
    }

private:
    sqlite3* db_ = nullptr;
};

// An application database: rows of every storage class, a WITHOUT ROWID
// table, an index, AUTOINCREMENT (sqlite_sequence), and a ledger whose
// invariant (totals.n = count of entries, totals.sum = their sum) holds after
// every commit.
void make_app_db(const std::string& path, int rows, bool wal) {
    Conn c(path);
    if (wal) c.exec("PRAGMA journal_mode=WAL");
    c.exec("CREATE TABLE items(id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT, price REAL, data BLOB, note TEXT)");
    c.exec("CREATE INDEX items_name ON items(name)");
    c.exec("CREATE TABLE \"odd \"\"name\"\"\"(k TEXT PRIMARY KEY, v) WITHOUT ROWID");
    c.exec("CREATE TABLE entries(v INTEGER)");
    c.exec("CREATE TABLE totals(n INTEGER, sum INTEGER)");
    c.exec("CREATE TABLE docs(id INTEGER PRIMARY KEY, body TEXT)");  // no index on body
    c.exec("INSERT INTO totals VALUES (0, 0)");
    c.exec("BEGIN");
    for (int i = 0; i < rows; ++i) {
        c.exec("INSERT INTO items(name, price, data, note) VALUES ('MARKER-ROW-" + std::to_string(100000 + i) + "', " +
               std::to_string(i) + ".5, randomblob(64), " + (i % 3 == 0 ? "NULL" : "''") + ")");
    }
    c.exec("INSERT INTO docs(body) VALUES ('DOC-BODY-00042'), ('DOC-BODY-00043')");
    c.exec("INSERT INTO \"odd \"\"name\"\"\" VALUES ('a', 1), ('b', 1.0), ('c', '1'), ('d', x'31'), ('e', NULL)");
    c.exec("COMMIT");
}

bool ledger_consistent(const std::string& path) {
    Conn c(path);
    return c.scalar("SELECT n FROM totals") == c.scalar("SELECT count(*) FROM entries") &&
           c.scalar("SELECT sum FROM totals") == c.scalar("SELECT coalesce(sum(v), 0) FROM entries");
}

// Commits ledger transactions on its own connection until stopped.
void write_ledger(const std::string& path, std::atomic<bool>& stop, std::atomic<int>& commits) {
    Conn c(path);
    for (int i = 1; !stop.load(); ++i) {
        c.exec("BEGIN IMMEDIATE");
        c.exec("INSERT INTO entries VALUES (" + std::to_string(i) + ")");
        c.exec("UPDATE totals SET n = n + 1, sum = sum + " + std::to_string(i));
        c.exec("UPDATE items SET note = 'touched " + std::to_string(i) + "' WHERE id = " + std::to_string(i % 500 + 1));
        c.exec("COMMIT");
        commits.fetch_add(1);
        // A busy application, not a loop that never lets go of the lock: in
        // rollback mode a reader needs a gap between two commits.
        std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
}

std::string read_all(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_all(const std::string& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

TEST(BackupSqlite, BacksUpAVerifiedCopyWithParityOfEveryTable) {
    TempDir dir;
    make_app_db(dir.file("app.db"), 200, false);
    ::mkdir(dir.file("b").c_str(), 0700);
    const auto result = backup_sqlite(dir.file("app.db"), dir.file("b"), "local");
    EXPECT_EQ(result.path, dir.file("b/local.sqlite"));
    EXPECT_EQ(result.sha256, sha256_file(result.path).sha256);
    EXPECT_EQ(result.bytes, sha256_file(result.path).bytes);
    EXPECT_EQ(result.sqlite_version, sqlite3_libversion());
    ASSERT_EQ(result.parity.count("items"), 1u);
    EXPECT_EQ(result.parity.at("items").rows, 200u);
    EXPECT_EQ(result.parity.at("odd \"name\"").rows, 5u);
    EXPECT_EQ(result.parity.at("totals").rows, 1u);
    EXPECT_EQ(result.parity.at("sqlite_sequence").rows, 1u);
    EXPECT_EQ(result.parity, sqlite_parity(dir.file("app.db")));
    EXPECT_TRUE(integrity_check(result.path).empty());

    const auto drill = drill_sqlite(result.path, result.parity, dir.path());
    EXPECT_TRUE(drill.ok) << drill.error;
    EXPECT_GT(drill.restore_seconds, 0);
    // The scratch copy is gone: only app.db and b/ remain.
    EXPECT_EQ(std::system(("test -z \"$(ls " + dir.path() + " | grep -v '^app.db$' | grep -v '^b$')\"").c_str()), 0);
}

TEST(BackupSqlite, ParityIsOrderIndependentAndSeesEveryValueAndType) {
    TempDir dir;
    for (const char* name : {"a.db", "b.db"}) {
        Conn c(dir.file(name));
        c.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v)");
    }
    {
        Conn a(dir.file("a.db"));
        a.exec("INSERT INTO t VALUES (1, 'x'), (2, 'y'), (3, NULL)");
        Conn b(dir.file("b.db"));
        b.exec("INSERT INTO t VALUES (3, NULL), (1, 'x'), (2, 'y')");
    }
    const Parity a = sqlite_parity(dir.file("a.db"));
    EXPECT_EQ(a, sqlite_parity(dir.file("b.db")));
    EXPECT_EQ(a.at("t").digest.size(), 64u);

    const std::pair<const char*, const char*> changes[] = {
        {"UPDATE t SET v = 'X' WHERE id = 1", "one character"},
        {"UPDATE t SET v = '' WHERE id = 3", "NULL to empty text"},
        {"UPDATE t SET v = x'79' WHERE id = 2", "text to blob of the same bytes"},
        {"UPDATE t SET id = 4 WHERE id = 3", "the rowid"},
    };
    for (const auto& [sql, what] : changes) {
        ::unlink(dir.file("c.db").c_str());
        std::system(("cp " + dir.file("a.db") + " " + dir.file("c.db")).c_str());
        Conn(dir.file("c.db")).exec(sql);
        const Parity c = sqlite_parity(dir.file("c.db"));
        EXPECT_EQ(c.at("t").rows, 3u) << what;
        EXPECT_NE(c.at("t").digest, a.at("t").digest) << what;
    }
    {
        Conn c(dir.file("d.db"));
        c.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v)");
        c.exec("INSERT INTO t VALUES (1, 1), (2, 1)");  // equal values do not cancel out
        Conn e(dir.file("e.db"));
        e.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v)");
        e.exec("INSERT INTO t VALUES (1, 1.0), (2, 1)");  // an integer and a real differ
    }
    EXPECT_NE(sqlite_parity(dir.file("d.db")).at("t").digest, std::string(64, '0'));
    EXPECT_NE(sqlite_parity(dir.file("d.db")).at("t").digest, sqlite_parity(dir.file("e.db")).at("t").digest);
}

// The heart of it: a writer commits all through the backup; the copy is one
// consistent state (the ledger's invariant holds in it), its parity is what
// was saved, and the drill passes. Both journal modes: in rollback mode the
// writer's commits restart the copy (and after max_restarts it finishes in
// one step); in WAL mode it is one step, during which the writer goes on.
void backup_while_writing(bool wal) {
    TempDir dir;
    make_app_db(dir.file("app.db"), 3000, wal);
    std::atomic<bool> stop{false};
    std::atomic<int> commits{0};
    std::thread writer(write_ledger, dir.file("app.db"), std::ref(stop), std::ref(commits));
    while (commits.load() < 20) std::this_thread::sleep_for(std::chrono::milliseconds(1));

    SqliteCopyOptions options;
    options.pages_per_step = 8;  // many steps, so commits land in between
    options.sleep_ms_between_steps = 2;
    options.max_restarts = 5;
    std::int64_t last_total = 0;
    options.progress = [&](std::int64_t done, std::int64_t total) {
        EXPECT_LE(done, total);
        last_total = total;
    };
    const int before = commits.load();
    const auto result = backup_sqlite(dir.file("app.db"), dir.path(), "local", nullptr, options);
    const int during = commits.load() - before;
    stop = true;
    writer.join();

    EXPECT_GT(during, 0) << "the writer committed during the backup";
    if (wal) {
        EXPECT_TRUE(result.copy.wal);
        EXPECT_EQ(result.copy.restarts, 0);
        EXPECT_TRUE(result.copy.finished_in_one_step);
    } else {
        EXPECT_FALSE(result.copy.wal);
        EXPECT_GT(result.copy.steps, 1);
    }
    EXPECT_EQ(result.copy.pages, last_total);
    EXPECT_EQ(result.copy.bytes, static_cast<std::int64_t>(sha256_file(result.path).bytes));
    EXPECT_TRUE(ledger_consistent(result.path));
    EXPECT_EQ(result.parity, sqlite_parity(result.path));
    const std::uint64_t saved = result.parity.at("entries").rows;
    EXPECT_GE(saved, 20u);
    EXPECT_EQ(result.parity.at("totals").rows, 1u);
    const auto drill = drill_sqlite(result.path, result.parity, dir.path());
    EXPECT_TRUE(drill.ok) << drill.error;
    // The source moved on; the backup did not.
    EXPECT_NE(sqlite_parity(dir.file("app.db")), result.parity);
    std::printf("journal %s: %d commits during the backup, %d steps, %d restarts, one final step: %s, %.3f s\n",
                wal ? "WAL" : "rollback", during, result.copy.steps, result.copy.restarts,
                result.copy.finished_in_one_step ? "yes" : "no", result.copy.seconds);
}

TEST(BackupSqlite, ABackupWhileAWriterCommitsIsConsistentRollbackJournal) { backup_while_writing(false); }
TEST(BackupSqlite, ABackupWhileAWriterCommitsIsConsistentWal) { backup_while_writing(true); }

TEST(BackupSqlite, ABackupWhileAWriterProcessCommits) {
    TempDir dir;
    make_app_db(dir.file("app.db"), 2000, true);
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        // Another process: its own SQLite connection, committing until killed.
        sqlite3* db = nullptr;
        sqlite3_open(dir.file("app.db").c_str(), &db);
        sqlite3_busy_timeout(db, 10000);
        for (int i = 1;; ++i) {
            const std::string sql = "BEGIN IMMEDIATE; INSERT INTO entries VALUES (" + std::to_string(i) +
                                    "); UPDATE totals SET n = n + 1, sum = sum + " + std::to_string(i) + "; COMMIT;";
            sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
        }
    }
    auto wait_for_rows = [&](std::int64_t n) {
        Conn c(dir.file("app.db"));
        for (int i = 0; i < 5000 && c.scalar("SELECT n FROM totals") < n; ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        return c.scalar("SELECT n FROM totals");
    };
    const auto before = wait_for_rows(10);
    SqliteCopyOptions options;
    options.pages_per_step = 8;
    options.sleep_ms_between_steps = 2;
    const auto result = backup_sqlite(dir.file("app.db"), dir.path(), "local", nullptr, options);
    const auto after = wait_for_rows(0);
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);

    EXPECT_GT(after, before);
    EXPECT_TRUE(ledger_consistent(result.path));
    const auto drill = drill_sqlite(result.path, result.parity, dir.path());
    EXPECT_TRUE(drill.ok) << drill.error;
}

TEST(BackupSqlite, AWalDatabaseClosedCleanlyIsBackedUpWithoutWritingIt) {
    TempDir dir;
    make_app_db(dir.file("app.db"), 50, true);  // closed: -wal and -shm removed
    ASSERT_NE(::access(dir.file("app.db-wal").c_str(), F_OK), 0);
    const std::string before = read_all(dir.file("app.db"));
    const auto result = backup_sqlite(dir.file("app.db"), dir.path(), "local");
    EXPECT_EQ(read_all(dir.file("app.db")), before);
    EXPECT_EQ(result.parity.at("items").rows, 50u);
    // The copy is in rollback mode: one self-contained file.
    EXPECT_EQ(read_all(result.path).substr(18, 2), std::string("\x01\x01", 2));
}

TEST(BackupSqlite, AFlippedByteInTheCopyFailsTheDrill) {
    TempDir dir;
    make_app_db(dir.file("app.db"), 300, false);
    const auto result = backup_sqlite(dir.file("app.db"), dir.path(), "local");
    const std::string good = read_all(result.path);

    // A byte of a value that no index holds: the b-tree is intact, the parity is not.
    std::string bad = good;
    auto at = bad.find("DOC-BODY-00042");
    ASSERT_NE(at, std::string::npos);
    bad[at + 13] = '3';
    write_all(dir.file("flipped-value.sqlite"), bad);
    auto drill = drill_sqlite(dir.file("flipped-value.sqlite"), result.parity, dir.path());
    EXPECT_FALSE(drill.ok);
    EXPECT_EQ(drill.error, "the restored copy differs from the backup's parity:\ndocs: content differs (2 rows)");

    // A byte of an indexed value: the table and its index disagree, integrity_check says so.
    bad = good;
    at = bad.find("MARKER-ROW-100123");
    ASSERT_NE(at, std::string::npos);
    bad[at + 16] = '4';
    write_all(dir.file("flipped-indexed.sqlite"), bad);
    drill = drill_sqlite(dir.file("flipped-indexed.sqlite"), result.parity, dir.path());
    EXPECT_FALSE(drill.ok);
    EXPECT_NE(drill.error.find("integrity_check failed: "), std::string::npos) << drill.error;
    std::printf("flipped indexed value: %s\n", drill.error.c_str());

    // A b-tree page's type byte (page 2): the structure is broken.
    bad = good;
    const std::size_t page_size = (static_cast<unsigned char>(good[16]) << 8) | static_cast<unsigned char>(good[17]);
    bad[page_size] = static_cast<char>(bad[page_size] ^ 0x55);
    write_all(dir.file("flipped-page.sqlite"), bad);
    drill = drill_sqlite(dir.file("flipped-page.sqlite"), result.parity, dir.path());
    EXPECT_FALSE(drill.ok);
    EXPECT_FALSE(drill.error.empty());
    std::printf("flipped page type byte: %s\n", drill.error.c_str());

    // Either way the file no longer matches the sha256 of the manifest.
    EXPECT_NE(sha256_file(dir.file("flipped-page.sqlite")).sha256, result.sha256);
}

TEST(BackupSqlite, AChangedRowInAScratchCopyIsFoundAndDescribed) {
    TempDir dir;
    make_app_db(dir.file("app.db"), 100, false);
    const auto result = backup_sqlite(dir.file("app.db"), dir.path(), "local");
    std::system(("cp " + result.path + " " + dir.file("scratch.db")).c_str());
    Conn(dir.file("scratch.db")).exec("UPDATE items SET price = price + 0.25 WHERE id = 42");
    const Parity changed = sqlite_parity(dir.file("scratch.db"));
    EXPECT_EQ(describe_mismatch(result.parity, changed), "items: content differs (100 rows)");
    Conn(dir.file("scratch.db")).exec("DELETE FROM entries; INSERT INTO entries VALUES (1); CREATE TABLE extra(x)");
    EXPECT_EQ(describe_mismatch(result.parity, sqlite_parity(dir.file("scratch.db"))),
              "entries: 0 rows expected, 1 restored\nitems: content differs (100 rows)\nextra: not in the backup");
    EXPECT_EQ(describe_mismatch(result.parity, sqlite_parity(dir.file("scratch.db")), 1),
              "entries: 0 rows expected, 1 restored\n... and 2 more");
    Parity missing = result.parity;
    missing["gone"] = {1, std::string(64, '0')};
    EXPECT_EQ(describe_mismatch(missing, result.parity), "gone: missing in the restore");
    EXPECT_EQ(describe_mismatch(result.parity, result.parity), "");
}

TEST(BackupSqlite, EncryptedBackupDrillsAndRestoresOnlyWithTheKey) {
    TempDir dir;
    make_app_db(dir.file("app.db"), 100, false);
    const auto key = read_key_file(dir.write("key", std::string(64, 'a'), 0600));
    const auto result = backup_sqlite(dir.file("app.db"), dir.path(), "local", &key);
    EXPECT_EQ(result.path, dir.file("local.sqlite.enc"));
    EXPECT_NE(::access(dir.file("local.sqlite").c_str(), F_OK), 0) << "no plaintext copy left";
    EXPECT_TRUE(looks_encrypted(result.path));
    EXPECT_EQ(read_all(result.path).find("MARKER-ROW"), std::string::npos);
    EXPECT_EQ(result.sha256, sha256_file(result.path).sha256);

    auto drill = drill_sqlite(result.path, result.parity, dir.path(), &key);
    EXPECT_TRUE(drill.ok) << drill.error;
    drill = drill_sqlite(result.path, result.parity, dir.path());
    EXPECT_FALSE(drill.ok);
    EXPECT_NE(drill.error.find("is encrypted and no encryption key file is configured"), std::string::npos);
    const auto other = read_key_file(dir.write("other", std::string(64, 'b'), 0600));
    drill = drill_sqlite(result.path, result.parity, dir.path(), &other);
    EXPECT_NE(drill.error.find("failed authentication"), std::string::npos) << drill.error;

    restore_sqlite(result.path, dir.file("restored.db"), false, &key);
    EXPECT_EQ(sqlite_parity(dir.file("restored.db")), result.parity);
}

TEST(BackupSqlite, RestoreGoesIntoANewFileAndRefusesAnExistingOneWithoutForce) {
    TempDir dir;
    make_app_db(dir.file("app.db"), 100, false);
    const auto result = backup_sqlite(dir.file("app.db"), dir.path(), "local");

    const double seconds = restore_sqlite(result.path, dir.file("new.db"), false);
    EXPECT_GE(seconds, 0);
    EXPECT_EQ(sqlite_parity(dir.file("new.db")), result.parity);
    struct stat st {};
    ASSERT_EQ(::stat(dir.file("new.db").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);

    // An existing empty file is as good as none.
    dir.write("empty.db", "");
    restore_sqlite(result.path, dir.file("empty.db"), false);
    EXPECT_EQ(sqlite_parity(dir.file("empty.db")), result.parity);

    // An existing database: 409 material, untouched.
    {
        Conn c(dir.file("other.db"));
        c.exec("CREATE TABLE mine(x); INSERT INTO mine VALUES (1)");
    }
    const std::string before = read_all(dir.file("other.db"));
    try {
        restore_sqlite(result.path, dir.file("other.db"), false);
        ADD_FAILURE() << "restored over an existing database";
    } catch (const RestoreTargetExists& e) {
        EXPECT_NE(std::string(e.what()).find("exists and is not empty"), std::string::npos) << e.what();
    }
    EXPECT_EQ(read_all(dir.file("other.db")), before);

    // With force it is replaced, stale journal files of the old one removed.
    dir.write("other.db-journal", "stale");
    restore_sqlite(result.path, dir.file("other.db"), true);
    EXPECT_EQ(sqlite_parity(dir.file("other.db")), result.parity);
    EXPECT_NE(::access(dir.file("other.db-journal").c_str(), F_OK), 0);
    // No temporary files left beside the targets.
    EXPECT_EQ(std::system(("! ls " + dir.path() + " | grep -q levqor-restore").c_str()), 0);
}

TEST(BackupSqlite, ATruncatedBackupFailsToRestoreAndIsReported) {
    TempDir dir;
    make_app_db(dir.file("app.db"), 300, false);
    const auto result = backup_sqlite(dir.file("app.db"), dir.path(), "local");
    const std::string good = read_all(result.path);
    write_all(dir.file("cut.sqlite"), good.substr(0, good.size() / 2));
    const auto drill = drill_sqlite(dir.file("cut.sqlite"), result.parity, dir.path());
    EXPECT_FALSE(drill.ok);
    EXPECT_FALSE(drill.error.empty());
    std::printf("truncated copy: %s\n", drill.error.c_str());
    EXPECT_THROW(restore_sqlite(dir.file("cut.sqlite"), dir.file("new.db"), false), SqliteBackupError);
    EXPECT_NE(::access(dir.file("new.db").c_str(), F_OK), 0);
}

TEST(BackupSqlite, ErrorsNameTheFile) {
    TempDir dir;
    try {
        backup_sqlite(dir.file("absent.db"), dir.path(), "local");
        ADD_FAILURE() << "backed up a missing file";
    } catch (const SqliteBackupError& e) {
        EXPECT_NE(std::string(e.what()).find(dir.file("absent.db")), std::string::npos) << e.what();
    }
    EXPECT_NE(::access(dir.file("absent.db").c_str(), F_OK), 0) << "the source is never created";
    EXPECT_NE(::access(dir.file("local.sqlite").c_str(), F_OK), 0) << "no partial copy left";

    make_app_db(dir.file("app.db"), 1, false);
    dir.write("local.sqlite", "an earlier file");
    EXPECT_THROW(backup_sqlite(dir.file("app.db"), dir.path(), "local"), SqliteBackupError);
    EXPECT_EQ(dir.read("local.sqlite"), "an earlier file") << "an existing file is not ours to remove";
    EXPECT_THROW(backup_sqlite(dir.file("app.db"), dir.path(), "../x"), SqliteBackupError);
}

}  // namespace
}  // namespace levqor::controld::backup
