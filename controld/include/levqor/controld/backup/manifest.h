// SPDX-License-Identifier: Apache-2.0
// The manifest of one backup (<dir>/<target>/<id>/manifest.json, design.md
// "Backups"): what was dumped, by which server and tool, each file's size and
// SHA-256, the parity of its contents and the last restore drill's outcome.
// Plain values and free functions; safe to call concurrently for different
// backups (callers serialise writes to one manifest).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "levqor/controld/backup/parity.h"

namespace levqor::controld::backup {

// A manifest that cannot be read or is not a manifest; what() names the
// field and what was expected ("manifest: files[1].bytes: expected an unsigned integer").
class ManifestError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// running: being dumped or drilled; verified: the last drill passed;
// failed: the dump or the drill failed; corrupt: a file no longer matches its sha256.
enum class BackupStatus { running, verified, failed, corrupt };

std::string_view to_string(BackupStatus status);
std::optional<BackupStatus> parse_backup_status(std::string_view text);

// One file of a backup. `path` is relative to the backup's folder (a plain
// file name: from_json refuses '/', "." and ".."), `name` its role ("database").
struct ManifestFile {
    std::string name;
    std::string path;
    std::uint64_t bytes = 0;
    std::string sha256;  // lowercase hex, 64 characters
};

// The last restore drill. restore_seconds is the measured RTO of this backup.
struct VerifyResult {
    bool ok = false;
    std::int64_t checked_at = 0;  // Unix seconds, UTC (RFC 3339 text in the JSON)
    double restore_seconds = 0;
    std::string error;  // empty when ok
};

struct Manifest {
    std::string id;
    std::string target;
    std::string kind;             // "sqlite" | "postgres"
    std::int64_t started_at = 0;  // Unix seconds, UTC (RFC 3339 text in the JSON)
    std::optional<std::int64_t> finished_at;
    BackupStatus status = BackupStatus::running;
    std::vector<ManifestFile> files;
    Parity parity;
    std::optional<VerifyResult> verify;
    bool encrypted = false;                 // files are AES-256-GCM (backup/encryption.h)
    std::string server_version;             // "SQLite 3.40.1", "PostgreSQL 15.5"
    std::string tool_version;               // "pg_dump (PostgreSQL) 15.5", or the SQLite library's
    std::string levqor_version;             // controld's
    std::map<std::string, double> timings;  // seconds per phase: "dump", "parity", "drill"...
};

// The largest manifest.json read back (parity of many tables stays far below).
inline constexpr std::size_t kMaxManifestBytes = 16 * 1024 * 1024;

nlohmann::json to_json(const Manifest& manifest);
// Throws ManifestError naming the field.
Manifest manifest_from_json(const nlohmann::json& json);
// Bounded (kMaxManifestBytes, core/json.h), then manifest_from_json. Throws ManifestError.
Manifest parse_manifest(std::string_view text);

// <folder>/manifest.json replaced atomically (temporary file, fsync, rename,
// directory fsync; mode 0600). Throws FileError.
void write_manifest(const std::string& folder, const Manifest& manifest);
// Throws FileError (cannot read; absent) or ManifestError (not a manifest).
Manifest read_manifest(const std::string& folder);

// RFC 3339 UTC text ("2026-11-29T10:52:07Z") and back; parse returns nullopt
// for anything else.
std::string format_utc(std::int64_t unix_seconds);
std::optional<std::int64_t> parse_utc(std::string_view text);

struct FileDigest {
    std::uint64_t bytes = 0;
    std::string sha256;  // lowercase hex
};

// Streams the file through SHA-256 (OpenSSL EVP, 1 MiB at a time; any size).
// Throws FileError naming the path.
FileDigest sha256_file(const std::string& path);

// Each of the manifest's files under `folder` re-read: one sentence per file
// that is missing, has another size or another sha256 ("database.sqlite:
// sha256 differs (expected ab12..., found cd34...)"). Empty = intact; any
// sentence means the backup is corrupt.
std::vector<std::string> check_files(const std::string& folder, const Manifest& manifest);

}  // namespace levqor::controld::backup
