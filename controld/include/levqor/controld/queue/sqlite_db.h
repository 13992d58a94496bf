// SPDX-License-Identifier: Apache-2.0
// A thin RAII layer over one SQLite connection (statements, transactions,
// failures as BackendError), used by the SQLite backend and the spool. Not
// thread-safe: its owner guards it with a mutex.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

struct sqlite3;
struct sqlite3_stmt;

namespace levqor::controld::queue {

// A thin RAII layer over one SQLite connection. Every failure throws
// BackendError naming the file and SQLite's message.
// Thread-safety: none; one connection belongs to one thread at a time (the
// backends guard theirs with a mutex).
class SqliteDb {
public:
    class Statement {
    public:
        Statement(SqliteDb& db, sqlite3_stmt* stmt) : db_(&db), stmt_(stmt) {}
        Statement(Statement&& other) noexcept : db_(other.db_), stmt_(other.stmt_) { other.stmt_ = nullptr; }
        Statement& operator=(Statement&&) = delete;
        ~Statement();

        Statement& bind(int index, std::int64_t value);
        Statement& bind(int index, std::string_view value);
        Statement& bind_null(int index);
        // true while there is a row; false when done.
        bool step();
        void run() { reset_after(step()); }
        std::int64_t integer(int column) const;
        std::string text(int column) const;
        bool is_null(int column) const;
        void reset();

    private:
        void reset_after(bool) { reset(); }
        SqliteDb* db_;
        sqlite3_stmt* stmt_;
    };

    // Opens (creating) the file in WAL mode with a busy timeout and
    // synchronous=NORMAL: a committed transaction survives a crash of the
    // process (kill -9); a power loss may lose the last ones. The file and its
    // -wal/-shm files are mode 0600 whatever the umask (job payloads may hold
    // credentials).
    explicit SqliteDb(const std::string& path);
    ~SqliteDb();
    SqliteDb(const SqliteDb&) = delete;
    SqliteDb& operator=(const SqliteDb&) = delete;

    void exec(const std::string& sql);
    Statement prepare(const std::string& sql);
    std::int64_t changes() const;
    [[noreturn]] void fail(const std::string& what) const;
    const std::string& path() const { return path_; }

    // BEGIN IMMEDIATE ... COMMIT; rolls back if not committed.
    class Transaction {
    public:
        explicit Transaction(SqliteDb& db);
        ~Transaction();
        void commit();

    private:
        SqliteDb& db_;
        bool done_ = false;
    };

private:
    std::string path_;
    sqlite3* db_ = nullptr;
};

}  // namespace levqor::controld::queue
