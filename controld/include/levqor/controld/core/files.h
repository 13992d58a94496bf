// SPDX-License-Identifier: Apache-2.0
// File helpers whose errors name the path: replacing a file atomically
// (temporary file, fsync, rename, directory fsync), creating a directory, and
// reading a file that may be absent. Free functions; safe to call concurrently
// for different paths.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace levqor::controld {

// A file operation that failed; what() names the path, the operation and
// the system's reason ("cannot write /x/flags: rename: No such file or directory").
class FileError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Replaces `path` with `content` so that readers see either the old or the
// new file, never a partial one, even across a crash: writes a temporary file
// in the same directory, fsyncs it, renames it over `path`, then fsyncs the
// directory. The file gets `mode` (not subject to the umask). Throws FileError.
// Thread-safety: safe to call concurrently for different paths; concurrent
// calls for one path leave one of the contents (callers serialise).
void write_file_atomically(const std::string& path, std::string_view content, mode_t mode);

// Creates `path` (and missing parents) with `mode` if it does not exist.
// Throws FileError if it cannot, or if `path` exists and is not a directory.
void ensure_directory(const std::string& path, mode_t mode);

// The whole file, or nullopt if it does not exist. Throws FileError for any
// other failure (permissions, a directory, an I/O error).
std::optional<std::string> read_file_if_exists(const std::string& path);

// For a secret's file (tokens, the abuse pepper, the backup key): "" when
// its mode gives group and others nothing, else what to say after the file's
// name: " is readable or writable by group or others (mode 0644); run: chmod
// 600 <path>". A secret others can read is no secret: callers refuse it.
// One exception, the Debian package's layout (docs/OPERATIONS.md,
// "Installing"): group read alone (0640, 0440) on a file owned by root whose
// group is `own_group`, the daemon's own group, and not root's (root:levqor
// 0640 read by the levqor user): only root can change it, only the daemon
// (and root) can read it.
std::string shared_mode_problem(const struct stat& st, const std::string& path, gid_t own_group = ::getegid());

}  // namespace levqor::controld
