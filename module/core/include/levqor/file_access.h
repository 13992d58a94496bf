// SPDX-License-Identifier: Apache-2.0
// Whether another user (nginx's worker user) could read a file, judged by
// a process that may be root (the nginx master at configuration time): the
// file's read bits and the search bits of every directory on its path,
// against the user's uid, primary group and supplementary groups, as the
// kernel checks them (owner class, else group class, else others). POSIX
// ACLs and mandatory access control (SELinux, AppArmor) are not evaluated.
// Thread-safe (stat and realpath only).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace levqor::files {

struct User {
    uid_t uid;
    std::vector<gid_t> groups;  // primary group first, then supplementary groups
};

inline constexpr unsigned kRead = 4;
inline constexpr unsigned kSearch = 1;

// The permission `want` (kRead, kSearch) that mode bits grant to `who` on a
// file owned by owner:group.
bool permits(mode_t mode, uid_t owner, gid_t group, const User& who, unsigned want);

// Empty when `who` can read path, or when path does not exist (nothing to
// check yet); otherwise why not, e.g.
//   the directory "/root" (mode 0700, owner 0:0) is not searchable by it
//   the file (mode 0600, owner 0:0) is not readable by it
// A directory on the path that exists but cannot be searched is reported even
// when the file itself does not exist yet: a file created there later could
// not be read either.
std::string unreadable_by(const std::string& path, const User& who);

}  // namespace levqor::files
