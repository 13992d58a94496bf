// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/backup/sqlite.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <future>
#include <memory>
#include <thread>

#include "levqor/controld/core/elapsed.h"
#include "levqor/controld/backup/manifest.h"
#include "levqor/controld/core/unique_fd.h"
#include "levqor/hex.h"

namespace levqor::controld::backup {
namespace {

using Clock = std::chrono::steady_clock;

struct DbClose {
    void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using Db = std::unique_ptr<sqlite3, DbClose>;

struct StmtFinalize {
    void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};
using Stmt = std::unique_ptr<sqlite3_stmt, StmtFinalize>;

Db open_db(const std::string& path, int flags) {
    sqlite3* raw = nullptr;
    const int rc = sqlite3_open_v2(path.c_str(), &raw, flags | SQLITE_OPEN_NOMUTEX, nullptr);
    Db db(raw);
    if (rc != SQLITE_OK) {
        throw SqliteBackupError("cannot open SQLite database " + path + ": " +
                                (raw != nullptr ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
    }
    sqlite3_extended_result_codes(db.get(), 1);
    return db;
}

std::string errmsg(sqlite3* db) { return sqlite3_errmsg(db); }

Stmt prepare(sqlite3* db, const std::string& sql, const std::string& path) {
    sqlite3_stmt* raw = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), static_cast<int>(sql.size()), &raw, nullptr) != SQLITE_OK) {
        throw SqliteBackupError(path + ": " + errmsg(db));
    }
    return Stmt(raw);
}

void exec(sqlite3* db, const std::string& sql, const std::string& path) {
    char* error = nullptr;
    if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
        std::string message = error != nullptr ? error : errmsg(db);
        sqlite3_free(error);
        throw SqliteBackupError(path + ": " + sql + ": " + message);
    }
}

std::string quote_identifier(const std::string& name) {
    std::string out = "\"";
    for (char c : name) {
        if (c == '"') out += '"';
        out += c;
    }
    return out + "\"";
}

bool exists(const std::string& path) {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0;
}

void remove_database_files(const std::string& path) {
    for (const char* suffix : {"", "-journal", "-wal", "-shm"}) ::unlink((path + suffix).c_str());
}

// Removes the listed database files unless released (the failure path of a backup or restore).
class RemoveOnFailure {
public:
    explicit RemoveOnFailure(std::string path) : path_(std::move(path)) {}
    ~RemoveOnFailure() {
        if (!path_.empty()) remove_database_files(path_);
    }
    RemoveOnFailure(const RemoveOnFailure&) = delete;
    RemoveOnFailure& operator=(const RemoveOnFailure&) = delete;
    void release() { path_.clear(); }

private:
    std::string path_;
};

std::string parent_of(const std::string& path) {
    const auto slash = path.rfind('/');
    if (slash == std::string::npos) return ".";
    return slash == 0 ? "/" : path.substr(0, slash);
}

void fsync_path(const std::string& path, int flags) {
    UniqueFd fd(::open(path.c_str(), flags | O_CLOEXEC));
    if (fd.valid()) ::fsync(fd.get());
}

// A plain byte copy into a new file (O_EXCL, 0600), fsynced.
void copy_file(const std::string& from, const std::string& to) {
    UniqueFd in(::open(from.c_str(), O_RDONLY | O_CLOEXEC));
    if (!in.valid()) throw SqliteBackupError("cannot read " + from + ": " + std::strerror(errno));
    UniqueFd out(::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (!out.valid()) throw SqliteBackupError("cannot create " + to + ": " + std::strerror(errno));
    std::vector<char> buf(1 << 20);
    for (;;) {
        const ssize_t n = ::read(in.get(), buf.data(), buf.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            throw SqliteBackupError("cannot read " + from + ": " + std::strerror(errno));
        }
        if (n == 0) break;
        for (ssize_t done = 0; done < n;) {
            const ssize_t w = ::write(out.get(), buf.data() + done, static_cast<std::size_t>(n - done));
            if (w < 0) {
                if (errno == EINTR) continue;
                throw SqliteBackupError("cannot write " + to + ": " + std::strerror(errno));
            }
            done += w;
        }
    }
    if (::fsync(out.get()) != 0) throw SqliteBackupError("cannot write " + to + ": fsync: " + std::strerror(errno));
}

// The backup file materialised as a plain database at `to`: decrypted with
// the key when it is encrypted, copied otherwise.
void materialise(const std::string& backup_file, const std::string& to, const EncryptionKey* key) {
    if (looks_encrypted(backup_file)) {
        if (key == nullptr) {
            throw SqliteBackupError(backup_file + " is encrypted and no encryption key file is configured");
        }
        try {
            decrypt_file(backup_file, to, *key);
        } catch (const EncryptionError& e) {
            throw SqliteBackupError(e.what());
        }
    } else {
        copy_file(backup_file, to);
    }
}

// 256-bit unsigned sum (big-endian limbs), the order-independent combination of row digests.
struct Sum256 {
    std::array<std::uint64_t, 4> limbs{};
    void add(const unsigned char* digest) {
        unsigned carry = 0;
        for (int i = 3; i >= 0; --i) {
            std::uint64_t v = 0;
            for (int b = 0; b < 8; ++b) v = (v << 8) | digest[i * 8 + b];
            const std::uint64_t s = limbs[i] + v;
            const unsigned c1 = s < v ? 1 : 0;
            const std::uint64_t t = s + carry;
            const unsigned c2 = t < s ? 1 : 0;
            limbs[i] = t;
            carry = c1 | c2;
        }
    }
    std::string hex() const {
        unsigned char bytes[32];
        for (int i = 0; i < 4; ++i) {
            for (int b = 0; b < 8; ++b) bytes[i * 8 + b] = static_cast<unsigned char>(limbs[i] >> (56 - 8 * b));
        }
        std::string out(64, '0');
        hex_into(out.data(), bytes, sizeof bytes);
        return out;
    }
};

struct MdFree {
    void operator()(EVP_MD* md) const { EVP_MD_free(md); }
};
struct MdCtxFree {
    void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};

// Hashes rows: one fetched SHA-256 and one context reused for every row.
class RowHasher {
public:
    RowHasher() : md_(EVP_MD_fetch(nullptr, "SHA256", nullptr)), ctx_(EVP_MD_CTX_new()) {
        if (!md_ || !ctx_) throw SqliteBackupError("OpenSSL SHA-256 is unavailable");
    }
    // The row's columns, each as a type tag, then its value: integers and
    // reals as 8 big-endian bytes, text and blobs as an 8-byte length and the
    // bytes, NULL as the tag alone (so 1, 1.0, '1' and x'31' all differ).
    void row_digest(sqlite3_stmt* stmt, unsigned char* out) {
        buf_.clear();
        const int columns = sqlite3_column_count(stmt);
        for (int i = 0; i < columns; ++i) {
            const int type = sqlite3_column_type(stmt, i);
            buf_.push_back(static_cast<unsigned char>(type));
            switch (type) {
                case SQLITE_INTEGER:
                    put64(static_cast<std::uint64_t>(sqlite3_column_int64(stmt, i)));
                    break;
                case SQLITE_FLOAT: {
                    const double d = sqlite3_column_double(stmt, i);
                    std::uint64_t bits = 0;
                    std::memcpy(&bits, &d, sizeof bits);
                    put64(bits);
                    break;
                }
                case SQLITE_TEXT:
                case SQLITE_BLOB: {
                    const auto* p = static_cast<const unsigned char*>(
                        type == SQLITE_TEXT ? sqlite3_column_text(stmt, i) : sqlite3_column_blob(stmt, i));
                    const int n = sqlite3_column_bytes(stmt, i);
                    put64(static_cast<std::uint64_t>(n));
                    if (n > 0) buf_.insert(buf_.end(), p, p + n);
                    break;
                }
                default:
                    break;  // NULL
            }
        }
        unsigned int len = 0;
        if (EVP_DigestInit_ex2(ctx_.get(), md_.get(), nullptr) != 1 ||
            EVP_DigestUpdate(ctx_.get(), buf_.data(), buf_.size()) != 1 ||
            EVP_DigestFinal_ex(ctx_.get(), out, &len) != 1) {
            throw SqliteBackupError("OpenSSL SHA-256 failed");
        }
    }

private:
    void put64(std::uint64_t v) {
        for (int b = 7; b >= 0; --b) buf_.push_back(static_cast<unsigned char>(v >> (8 * b)));
    }
    std::unique_ptr<EVP_MD, MdFree> md_;
    std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx_;
    std::vector<unsigned char> buf_;
};

TableParity table_parity(sqlite3* db, const std::string& table, const std::string& path, RowHasher& hasher) {
    const std::string quoted = quote_identifier(table);
    sqlite3_stmt* raw = nullptr;
    // A WITHOUT ROWID table has no rowid: its primary key identifies a row.
    std::string sql = "SELECT rowid, * FROM " + quoted;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &raw, nullptr) != SQLITE_OK) {
        sql = "SELECT * FROM " + quoted;
        if (sqlite3_prepare_v2(db, sql.c_str(), -1, &raw, nullptr) != SQLITE_OK) {
            throw SqliteBackupError(path + ": table " + table + ": " + errmsg(db));
        }
    }
    Stmt stmt(raw);
    TableParity parity;
    Sum256 sum;
    unsigned char digest[EVP_MAX_MD_SIZE];
    int rc;
    while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
        hasher.row_digest(stmt.get(), digest);
        sum.add(digest);
        ++parity.rows;
    }
    if (rc != SQLITE_DONE) throw SqliteBackupError(path + ": table " + table + ": " + errmsg(db));
    parity.digest = sum.hex();
    return parity;
}

bool source_is_wal(sqlite3* db, const std::string& path) {
    Stmt stmt = prepare(db, "PRAGMA journal_mode", path);
    if (sqlite3_step(stmt.get()) != SQLITE_ROW) throw SqliteBackupError(path + ": PRAGMA journal_mode: " + errmsg(db));
    const auto* mode = reinterpret_cast<const char*>(sqlite3_column_text(stmt.get(), 0));
    return mode != nullptr && std::strcmp(mode, "wal") == 0;
}

// integrity_check and sqlite_parity of one file, side by side on two
// connections (both read-only): the check takes the longer of the two, not
// their sum. `error` is the first exception's message (integrity's first).
struct CopyCheck {
    std::vector<std::string> problems;
    Parity parity;
    std::string error;
    double integrity_seconds = 0;
    double parity_seconds = 0;
};

CopyCheck check_copy(const std::string& path) {
    CopyCheck check;
    std::string parity_error;
    auto parity = std::async(std::launch::async, [&] {
        const auto start = Clock::now();
        try {
            check.parity = sqlite_parity(path);
        } catch (const std::exception& e) {
            parity_error = e.what();
        }
        check.parity_seconds = seconds_since(start);
    });
    const auto start = Clock::now();
    try {
        check.problems = integrity_check(path);
    } catch (const std::exception& e) {
        check.error = e.what();
    }
    check.integrity_seconds = seconds_since(start);
    parity.get();
    if (check.error.empty()) check.error = parity_error;
    return check;
}

}  // namespace

SqliteCopyStats copy_live_database(const std::string& source, const std::string& dest,
                                   const SqliteCopyOptions& options) {
    const auto start = Clock::now();
    if (exists(dest)) throw SqliteBackupError("cannot back up into " + dest + ": the file exists");
    Db src = open_db(source, SQLITE_OPEN_READONLY);
    sqlite3_busy_timeout(src.get(), options.busy_timeout_ms);
    RemoveOnFailure cleanup(dest);
    Db dst = open_db(dest, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    ::chmod(dest.c_str(), 0600);

    sqlite3_backup* backup = sqlite3_backup_init(dst.get(), "main", src.get(), "main");
    if (backup == nullptr) throw SqliteBackupError("cannot back up " + source + ": " + errmsg(dst.get()));
    struct Finish {
        sqlite3_backup*& b;
        ~Finish() {
            if (b != nullptr) sqlite3_backup_finish(b);
        }
    } finish{backup};

    // In WAL mode a reader never blocks the writer, and a copy in steps would
    // restart at every commit: the whole copy is one step, one read snapshot.
    const bool wal = source_is_wal(src.get(), source);
    SqliteCopyStats stats;
    stats.wal = wal;
    int remaining_before = -1;
    int busy_waits = 0;
    const int max_busy_waits = options.busy_timeout_ms / 10 + 1;
    for (;;) {
        const bool one_step = wal || stats.restarts >= options.max_restarts;
        const int rc = sqlite3_backup_step(backup, one_step ? -1 : options.pages_per_step);
        ++stats.steps;
        const int remaining = sqlite3_backup_remaining(backup);
        const int total = sqlite3_backup_pagecount(backup);
        if (options.progress) options.progress(total - remaining, total);
        if (rc == SQLITE_DONE) {
            stats.pages = total;
            stats.finished_in_one_step = one_step;
            break;
        }
        if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED) {
            if (++busy_waits > max_busy_waits) {
                throw SqliteBackupError("cannot back up " + source + ": the database stayed locked for " +
                                        std::to_string(options.busy_timeout_ms) + " ms");
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
            continue;
        }
        busy_waits = 0;  // the limit is for one wait, not the sum over a long copy
        if (rc != SQLITE_OK) {
            // The step's error is not the destination's errmsg (that said "not an error");
            // the OS error behind it is added when SQLite kept one (on a full disk it
            // does not: "database or disk is full" / "disk I/O error" alone).
            const int os_errno = sqlite3_system_errno(dst.get());
            throw SqliteBackupError("cannot back up " + source + ": " + sqlite3_errstr(rc) +
                                    (os_errno != 0 ? " (" + std::string(std::strerror(os_errno)) + ")" : ""));
        }
        // A commit by another connection restarted the copy from page 1.
        if (remaining_before >= 0 && remaining >= remaining_before) ++stats.restarts;
        remaining_before = remaining;
        if (options.sleep_ms_between_steps > 0) {
            std::this_thread::sleep_for(std::chrono::milliseconds(options.sleep_ms_between_steps));
        }
    }
    const int rc = sqlite3_backup_finish(backup);
    backup = nullptr;
    if (rc != SQLITE_OK) throw SqliteBackupError("cannot back up " + source + ": " + errmsg(dst.get()));
    {
        Stmt page_size = prepare(dst.get(), "PRAGMA page_size", dest);
        if (sqlite3_step(page_size.get()) == SQLITE_ROW) {
            stats.bytes = stats.pages * sqlite3_column_int64(page_size.get(), 0);
        }
    }
    // The copy carries the source's journal mode; DELETE makes it one self-contained file.
    exec(dst.get(), "PRAGMA journal_mode=DELETE", dest);
    dst.reset();
    fsync_path(dest, O_RDONLY);
    fsync_path(parent_of(dest), O_RDONLY | O_DIRECTORY);
    cleanup.release();
    stats.seconds = seconds_since(start);
    return stats;
}

std::vector<std::string> integrity_check(const std::string& path) {
    if (!exists(path)) throw SqliteBackupError("cannot check " + path + ": no such file");
    Db db = open_db(path, SQLITE_OPEN_READONLY);
    Stmt stmt = prepare(db.get(), "PRAGMA integrity_check(100)", path);
    std::vector<std::string> messages;
    int rc;
    while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
        const auto* text = sqlite3_column_text(stmt.get(), 0);
        messages.emplace_back(text != nullptr ? reinterpret_cast<const char*>(text) : "");
    }
    if (rc != SQLITE_DONE) throw SqliteBackupError(path + ": integrity_check: " + errmsg(db.get()));
    if (messages.size() == 1 && messages[0] == "ok") messages.clear();
    return messages;
}

Parity sqlite_parity(const std::string& path) {
    if (!exists(path)) throw SqliteBackupError("cannot read " + path + ": no such file");
    Db db = open_db(path, SQLITE_OPEN_READONLY);
    sqlite3_busy_timeout(db.get(), 5000);
    exec(db.get(), "BEGIN", path);  // one read transaction: every table from one snapshot
    std::vector<std::string> tables;
    {
        Stmt stmt = prepare(db.get(),
                            "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_stat%' "
                            "ESCAPE '\\' AND upper(substr(ltrim(sql), 1, 20)) <> 'CREATE VIRTUAL TABLE' ORDER BY name",
                            path);
        int rc;
        while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
            tables.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(stmt.get(), 0)));
        }
        if (rc != SQLITE_DONE) throw SqliteBackupError(path + ": " + errmsg(db.get()));
    }
    RowHasher hasher;
    Parity parity;
    for (const auto& table : tables) parity[table] = table_parity(db.get(), table, path, hasher);
    exec(db.get(), "COMMIT", path);
    return parity;
}

SqliteBackupResult backup_sqlite(const std::string& source, const std::string& dir, const std::string& name,
                                 const EncryptionKey* key, const SqliteCopyOptions& options) {
    if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..") {
        throw SqliteBackupError("backup file name \"" + name + "\" is not a plain file name");
    }
    SqliteBackupResult result;
    result.sqlite_version = sqlite3_libversion();
    const std::string copy = dir + "/" + name + ".sqlite";
    result.copy = copy_live_database(source, copy, options);
    RemoveOnFailure remove_copy(copy);  // only now: a file that was there before is not ours to remove

    const CopyCheck check = check_copy(copy);
    result.integrity_seconds = check.integrity_seconds;
    result.parity_seconds = check.parity_seconds;
    if (!check.error.empty()) throw SqliteBackupError(check.error);
    if (!check.problems.empty()) {
        throw SqliteBackupError("the copy of " + source + " fails PRAGMA integrity_check: " + check.problems.front());
    }
    result.parity = check.parity;

    result.path = copy;
    if (key != nullptr) {
        const std::string sealed = copy + ".enc";
        RemoveOnFailure remove_sealed(sealed);
        const auto start = Clock::now();
        try {
            encrypt_file(copy, sealed, *key);
        } catch (const EncryptionError& e) {
            throw SqliteBackupError(e.what());
        }
        result.encrypt_seconds = seconds_since(start);
        remove_sealed.release();
        remove_database_files(copy);
        result.path = sealed;
    }
    try {
        const FileDigest digest = sha256_file(result.path);
        result.bytes = digest.bytes;
        result.sha256 = digest.sha256;
    } catch (const std::exception& e) {
        ::unlink(result.path.c_str());
        throw SqliteBackupError(e.what());
    }
    remove_copy.release();
    return result;
}

SqliteDrillResult drill_sqlite(const std::string& backup_file, const Parity& expected, const std::string& scratch_dir,
                               const EncryptionKey* key) {
    SqliteDrillResult result;
    const auto start = Clock::now();
    std::string folder = scratch_dir + "/levqor_verify_XXXXXX";
    if (::mkdtemp(folder.data()) == nullptr) {
        result.error = "cannot create a scratch folder in " + scratch_dir + ": " + std::strerror(errno);
        return result;
    }
    const std::string scratch = folder + "/scratch.sqlite";
    struct Scratch {
        const std::string& folder;
        const std::string& file;
        ~Scratch() {
            remove_database_files(file);
            ::rmdir(folder.c_str());  // decrypt_file removes its own temporary file
        }
    } scratch_guard{folder, scratch};
    try {
        materialise(backup_file, scratch, key);
        result.copy_seconds = seconds_since(start);
        const CopyCheck check = check_copy(scratch);
        result.integrity_seconds = check.integrity_seconds;
        result.parity_seconds = check.parity_seconds;
        result.parity = check.parity;
        if (!check.error.empty()) {
            result.error = check.error;
        } else if (!check.problems.empty()) {
            result.error = "integrity_check failed: " + check.problems.front();
            if (check.problems.size() > 1) {
                result.error += " (and " + std::to_string(check.problems.size() - 1) + " more)";
            }
        } else {
            const std::string mismatch = describe_mismatch(expected, result.parity);
            if (mismatch.empty()) {
                result.ok = true;
            } else {
                result.error = "the restored copy differs from the backup's parity:\n" + mismatch;
            }
        }
    } catch (const std::exception& e) {
        result.error = e.what();
    }
    result.restore_seconds = seconds_since(start);
    return result;
}

double restore_sqlite(const std::string& backup_file, const std::string& into, bool force, const EncryptionKey* key) {
    const auto start = Clock::now();
    struct stat st {};
    if (::stat(into.c_str(), &st) == 0) {
        if (!S_ISREG(st.st_mode)) throw SqliteBackupError("cannot restore into " + into + ": not a regular file");
        if (st.st_size > 0 && !force) {
            throw RestoreTargetExists("cannot restore into " + into + ": the file exists and is not empty (" +
                                      std::to_string(st.st_size) + " bytes); choose a new file or use force");
        }
    }
    std::string pending = into + ".levqor-restore-XXXXXX";
    UniqueFd fd(::mkstemp(pending.data()));
    if (!fd.valid()) throw SqliteBackupError("cannot create a file beside " + into + ": " + std::strerror(errno));
    fd.reset();
    ::unlink(pending.c_str());  // materialise creates it afresh (O_EXCL); the name stays ours
    RemoveOnFailure cleanup(pending);
    materialise(backup_file, pending, key);
    const auto problems = integrity_check(pending);
    if (!problems.empty()) {
        throw SqliteBackupError("cannot restore " + backup_file +
                                ": the restored copy fails integrity_check: " + problems.front());
    }
    // The replaced database's journal files would be applied to the new one.
    for (const char* suffix : {"-wal", "-shm", "-journal"}) ::unlink((into + suffix).c_str());
    if (::rename(pending.c_str(), into.c_str()) != 0) {
        throw SqliteBackupError("cannot restore into " + into + ": rename: " + std::strerror(errno));
    }
    cleanup.release();
    fsync_path(parent_of(into), O_RDONLY | O_DIRECTORY);
    return seconds_since(start);
}

}  // namespace levqor::controld::backup
