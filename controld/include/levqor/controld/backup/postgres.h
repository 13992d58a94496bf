// SPDX-License-Identifier: Apache-2.0
// PostgreSQL backups (issue 13): a dump and its parity taken in ONE snapshot,
// and the restore drill that proves the dump restores to exactly that state.
//
// dump_postgres(): one REPEATABLE READ, READ ONLY transaction exports its
// snapshot (pg_export_snapshot()); `pg_dump -Fc --snapshot=<id>` (the
// pg_dump of the server's major version) writes <dir>/dump.pgc while the
// same transaction computes the parity, so both describe one state even
// while the database is written to.
//
// drill_postgres(): restores a dump into a scratch database
// `levqor_verify_<id>` (pg_restore), recomputes the parity there, compares
// it with the dump's and drops the scratch database, also on failure. The
// restore's duration is the backup's measured RTO.
//
// restore_postgres(): a dump into a NEW database (or, with force, replacing
// a non-empty one).
//
// Parity of a table (schema-qualified, identifiers quoted as in SQL when
// they need it: `public.t`, `"Odd schema"."x.y"`): its row count and the sum
// modulo 2^64 of a 64-bit hash of each row. On PostgreSQL 14+ the hash is
// hash_record_extended (each column's own extended hash function: values
// its type considers equal hash alike, e.g. numeric 1.0 and 1.00) when
// every column is a built-in base type other than oid/reg* (or a domain over
// or an array of one); a table with another column type (enums hash by
// their OIDs, new in a restored copy; composites, ranges, extension types) or
// one without an extended hash (json, point, xml), and servers 11-13, use
// hashtextextended of the row's text, read with fixed output settings (UTC,
// ISO dates, hex bytea, shortest-exact floats). Order-independent, one
// sequential scan per table (parallel in the drill), no sort. Large objects are one entry, `pg_catalog.pg_largeobject`:
// their count and the same sum over (oid, md5 of the content).
// User tables are ordinary tables and partitions (relkind 'r') outside the
// system schemas, not temporary and not owned by an extension; materialized
// views are not compared (pg_restore rebuilds them), nor are sequences (not
// transactional: their value is read outside any snapshot, by pg_dump too).
// Large objects are read whole by lo_get() (up to 1 GB each). pg_dump does
// not dump roles (pg_dumpall --globals-only would).
// Cost (pgbench scale 70, 1054 MB, 2 cores): the drill's parity scan
// (hash_record_extended, 2 parallel workers) adds ~0.18 x a raw
// `pg_restore -j2` (7.0 s + 1.25 s); the row-text hash ~0.29 x; a naive
// ordered md5 ~1.3 x (scripts/bench/backup_parity.pl).
//
// Child processes: pg_dump and pg_restore are run with fork+execve
// (queue::run_command: no shell, no inherited descriptors), the connection
// in --dbname without the password, the password in PGPASSWORD only.
//
// Errors: PostgresError; every message (libpq's, pg_dump's, pg_restore's)
// has the connection's password and URL credentials redacted.
// Thread-safety: free functions; concurrent calls on different targets are
// independent (the drill's scratch database is per backup id).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>

#include "levqor/controld/backup/parity.h"

namespace levqor::controld::backup {

class PostgresError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct PostgresOptions {
    std::string url;      // libpq URL or key=value conninfo; may hold a password
    std::string bin_dir;  // holds pg_dump and pg_restore; empty: /usr/lib/postgresql/<server major>/bin
    std::chrono::seconds timeout{6 * 3600};  // per pg_dump / pg_restore run
    int restore_jobs = 2;                    // pg_restore -j (1..16)
    int connect_timeout_seconds = 10;
};

struct PostgresDump {
    std::string file;             // <dir>/dump.pgc
    std::uint64_t bytes = 0;      // its size
    Parity parity;                // at the dump's snapshot
    std::string server_version;   // server_version, e.g. "15.18 (Debian 15.18-0+deb12u1)"
    std::string pg_dump_version;  // `pg_dump --version`, e.g. "pg_dump (PostgreSQL) 15.18"
    double dump_seconds = 0;      // pg_dump's run
    double parity_seconds = 0;    // the parity queries (they run while pg_dump runs)
};

// Dumps the database into <dir>/dump.pgc (dir must exist; a dump.pgc left by
// a failed run is removed). Throws PostgresError: cannot connect, server
// older than 11, no pg_dump of the server's major version (both versions
// named), pg_dump failed (its stderr), a parity query failed.
PostgresDump dump_postgres(const PostgresOptions& options, const std::string& dir);

struct DrillResult {
    bool ok = false;             // restored and the parity matches
    std::string error;           // why not (redacted); empty when ok
    std::string database;        // the scratch database's name
    double restore_seconds = 0;  // pg_restore's run: the RTO
    double parity_seconds = 0;   // the parity of the restored copy
    Parity parity;               // of the restored copy (empty if the restore failed)
};

// Test hook: runs after the restore, before the parity is computed, with the
// scratch database's conninfo (password included). Production passes none.
using BeforeCompare = std::function<void(const std::string& scratch_conninfo)>;

// Restores dump_file into the scratch database levqor_verify_<id> (id:
// 1..40 of [A-Za-z0-9_-]; an old one of that name is dropped first) with
// pg_restore --no-owner --no-acl --exit-on-error -j <restore_jobs>, compares
// the parity with `expected`, and always drops the scratch database. The
// role of options.url needs CREATEDB. Never throws for the database's or
// pg_restore's failures: they are `error`; throws PostgresError only for a
// bad id.
DrillResult drill_postgres(const PostgresOptions& options, const std::string& dump_file, const Parity& expected,
                           const std::string& id, const BeforeCompare& before_compare = {});

struct RestoreResult {
    bool ok = false;
    bool conflict = false;       // `into` exists and is not empty, no force (the route's 409)
    std::string error;           // why not (redacted); empty when ok
    double restore_seconds = 0;  // pg_restore's run
};

// Restores dump_file into the database `into` on the server of options.url
// (`POST /ops/backups/{id}/restore`): created like the source (encoding,
// locale, from template0) when absent; an existing empty one is used; an
// existing one with any relation is a conflict unless force, which drops
// (WITH (FORCE) on 13+) and recreates it. Refused: the URL's own database,
// postgres, template0/1. pg_restore --no-owner --exit-on-error -j: objects
// belong to the restoring role, grants are restored. A database created here
// is dropped again if the restore fails. Never throws: `error`.
RestoreResult restore_postgres(const PostgresOptions& options, const std::string& dump_file, const std::string& into,
                               bool force);

// The size on disk of `database` on the server of options.url
// (pg_database_size), for the progress of a restore or drill: nullopt when
// it cannot be read (not created yet, unreachable). At most 2 s to connect;
// never throws.
std::optional<std::uint64_t> postgres_database_size(const PostgresOptions& options, const std::string& database);

}  // namespace levqor::controld::backup
