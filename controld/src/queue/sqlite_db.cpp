// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/queue/sqlite_db.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "levqor/controld/core/unique_fd.h"
#include "levqor/controld/queue/backend.h"

namespace levqor::controld::queue {

namespace {

// The databases hold job payloads (which may carry credentials for their
// targets): owner only, whatever the umask. The file is created 0600 before
// SQLite opens it; SQLite gives its -wal, -shm and -journal files the mode of
// the database file. Files an older controld left to the umask are fixed.
void restrict_to_owner(const std::string& path) {
    if (path.empty() || path == ":memory:") return;
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!fd.valid()) return;  // SQLite's open says why
    struct stat st {};
    if (::fstat(fd.get(), &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 07777) != 0600) {
        if (::fchmod(fd.get(), 0600) != 0) {
            throw BackendError("cannot make " + path + " private (chmod 600): " + std::strerror(errno));
        }
    }
    for (const char* suffix : {"-wal", "-shm", "-journal"}) {
        ::chmod((path + suffix).c_str(), 0600);  // only when it exists
    }
}

}  // namespace

SqliteDb::SqliteDb(const std::string& path) : path_(path) {
    restrict_to_owner(path);
    const int rc =
        sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) {
        const std::string why = db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
        sqlite3_close(db_);
        db_ = nullptr;
        throw BackendError("cannot open " + path + ": " + why);
    }
    sqlite3_busy_timeout(db_, 5000);
    exec("PRAGMA journal_mode=WAL");
    exec("PRAGMA synchronous=NORMAL");
    exec("PRAGMA foreign_keys=ON");
}

SqliteDb::~SqliteDb() { sqlite3_close(db_); }

void SqliteDb::fail(const std::string& what) const {
    throw BackendError(path_ + ": " + what + ": " + sqlite3_errmsg(db_));
}

void SqliteDb::exec(const std::string& sql) {
    char* error = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
        const std::string why = error != nullptr ? error : "unknown error";
        sqlite3_free(error);
        throw BackendError(path_ + ": " + why + " (in: " + sql.substr(0, 60) + ")");
    }
}

SqliteDb::Statement SqliteDb::prepare(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &stmt, nullptr) !=
        SQLITE_OK) {
        fail("prepare " + sql.substr(0, 60));
    }
    return Statement(*this, stmt);
}

std::int64_t SqliteDb::changes() const { return sqlite3_changes64(db_); }

SqliteDb::Statement::~Statement() { sqlite3_finalize(stmt_); }

SqliteDb::Statement& SqliteDb::Statement::bind(int index, std::int64_t value) {
    if (sqlite3_bind_int64(stmt_, index, value) != SQLITE_OK) db_->fail("bind");
    return *this;
}

SqliteDb::Statement& SqliteDb::Statement::bind(int index, std::string_view value) {
    if (sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT, SQLITE_UTF8) != SQLITE_OK) {
        db_->fail("bind");
    }
    return *this;
}

SqliteDb::Statement& SqliteDb::Statement::bind_null(int index) {
    if (sqlite3_bind_null(stmt_, index) != SQLITE_OK) db_->fail("bind");
    return *this;
}

bool SqliteDb::Statement::step() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    sqlite3_reset(stmt_);
    db_->fail("step");
}

std::int64_t SqliteDb::Statement::integer(int column) const { return sqlite3_column_int64(stmt_, column); }

std::string SqliteDb::Statement::text(int column) const {
    const auto* p = sqlite3_column_text(stmt_, column);
    if (p == nullptr) return {};
    return std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column)));
}

bool SqliteDb::Statement::is_null(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }

void SqliteDb::Statement::reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
}

SqliteDb::Transaction::Transaction(SqliteDb& db) : db_(db) { db_.exec("BEGIN IMMEDIATE"); }

SqliteDb::Transaction::~Transaction() {
    if (!done_) {
        try {
            db_.exec("ROLLBACK");
        } catch (const BackendError&) {}
    }
}

void SqliteDb::Transaction::commit() {
    db_.exec("COMMIT");
    done_ = true;
}

}  // namespace levqor::controld::queue
