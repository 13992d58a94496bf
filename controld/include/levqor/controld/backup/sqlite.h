// SPDX-License-Identifier: Apache-2.0
// The SQLite engine of the backups (issue 13): an online copy of a live
// database file, its integrity check and parity, the restore drill, and the
// restore into a new file. Free functions over file paths; each opens its own
// connections, so calls for different files may run concurrently.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "levqor/controld/backup/encryption.h"
#include "levqor/controld/backup/parity.h"

namespace levqor::controld::backup {

// Any failure of the engine; what() names the file and SQLite's message.
class SqliteBackupError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// restore_sqlite into an existing, non-empty file without force (a 409 for the route).
class RestoreTargetExists : public SqliteBackupError {
public:
    using SqliteBackupError::SqliteBackupError;
};

struct SqliteCopyOptions {
    // Pages copied per sqlite3_backup_step in rollback-journal mode: the
    // source's read lock is held only for one step, so a writer waits at most
    // that long. A source in WAL mode is copied in one step (one read
    // snapshot): there readers never block the writer, and a copy in steps
    // would restart at each of its commits.
    int pages_per_step = 1024;
    // Pause between steps, letting writers in.
    int sleep_ms_between_steps = 1;
    // A commit by another connection restarts the copy at the next step. After
    // this many restarts the rest is copied in one step (-1), which holds the
    // read lock until done: a busy database is still backed up, in bounded time.
    int max_restarts = 20;
    // How long a step waits for a lock held by a writer.
    int busy_timeout_ms = 5000;
    // Called after each step: (pages copied, pages in total), for a progress
    // bar (the page size is SqliteCopyStats::bytes / pages once done).
    std::function<void(std::int64_t done, std::int64_t total)> progress;
};

struct SqliteCopyStats {
    std::int64_t pages = 0;
    std::int64_t bytes = 0;  // pages x page size: the database copied
    int steps = 0;
    int restarts = 0;
    bool wal = false;                   // the source was in WAL mode: copied in one step
    bool finished_in_one_step = false;  // WAL, or max_restarts was reached
    double seconds = 0;
};

// Copies the live database `source` into `dest` (which must not exist) with
// the online backup API, then sets the copy's journal mode to DELETE so it is
// one self-contained file. The source is opened without SQLITE_OPEN_CREATE
// and never written. Throws SqliteBackupError; no `dest` is left on failure.
SqliteCopyStats copy_live_database(const std::string& source, const std::string& dest,
                                   const SqliteCopyOptions& options = {});

// PRAGMA integrity_check on `path` (read-only): empty when "ok", otherwise
// SQLite's messages (at most 100). Throws SqliteBackupError when the file
// cannot be opened or is not a database at all.
std::vector<std::string> integrity_check(const std::string& path);

// Parity of every table of `path`, read in one transaction (one snapshot).
// Tables: every ordinary table of sqlite_schema, internal sqlite_sequence
// included, sqlite_stat* (ANALYZE's statistics) and virtual tables excluded
// (a virtual table's module may be absent; its shadow tables are ordinary
// tables and are included).
// Row digest: SHA-256 over the rowid (for rowid tables) and each column's
// type and value; the table digest is the sum of the row digests modulo
// 2^256 (order-independent; a sum, not a XOR, so two equal rows do not cancel).
// The rowid is included because the backup API and the restore copy pages,
// so rowids are preserved exactly, and they are state an application sees
// (implicit rowids are referenced, and they tell equal rows apart). A
// logical re-import (.dump, VACUUM of a table without INTEGER PRIMARY KEY)
// may renumber them; such a copy is not what this engine produces.
Parity sqlite_parity(const std::string& path);

struct SqliteBackupResult {
    std::string path;  // the file written: <dir>/<name>.sqlite, or .sqlite.enc when encrypted
    std::uint64_t bytes = 0;
    std::string sha256;
    Parity parity;
    std::string sqlite_version;  // "3.40.1"
    SqliteCopyStats copy;
    double integrity_seconds = 0;
    double parity_seconds = 0;
    double encrypt_seconds = 0;
};

// The whole backup of one SQLite target into the folder `dir` (which must
// exist): copy_live_database into <dir>/<name>.sqlite, integrity_check
// (any message is an error), sqlite_parity of the copy, then, with a key,
// encryption into <dir>/<name>.sqlite.enc (the plaintext copy removed). The
// parity is computed on the copy, so it describes exactly what was saved
// even while the source is written to. Throws SqliteBackupError; on failure
// no partial file is left in `dir`.
SqliteBackupResult backup_sqlite(const std::string& source, const std::string& dir, const std::string& name,
                                 const EncryptionKey* key = nullptr, const SqliteCopyOptions& options = {});

struct SqliteDrillResult {
    bool ok = false;
    double restore_seconds = 0;    // the measured RTO: copy/decrypt + integrity check + parity
    double copy_seconds = 0;       // the copy (or decryption) into the scratch file
    double integrity_seconds = 0;  // integrity_check and the parity run side by side:
    double parity_seconds = 0;     // the check takes the longer of the two
    std::string error;             // empty when ok
    Parity parity;                 // recomputed on the scratch copy
};

// The restore drill: `backup_file` copied (or, when encrypted, decrypted
// with `key`) to a scratch file in `scratch_dir`, integrity_check, parity
// recomputed and compared with `expected`, scratch file deleted (always).
// Failures are reported in the result, not thrown.
SqliteDrillResult drill_sqlite(const std::string& backup_file, const Parity& expected, const std::string& scratch_dir,
                               const EncryptionKey* key = nullptr);

// Restores `backup_file` into `into`, a NEW file: an existing non-empty file
// is refused (RestoreTargetExists) unless `force`. The copy is written beside
// `into`, checked (integrity_check), and renamed over it; with force, the
// replaced database's -wal, -shm and -journal files are removed first (they
// belong to the old database). Nothing may have `into` open while it is
// replaced. Throws SqliteBackupError. Returns the seconds taken.
double restore_sqlite(const std::string& backup_file, const std::string& into, bool force,
                      const EncryptionKey* key = nullptr);

}  // namespace levqor::controld::backup
