// SPDX-License-Identifier: Apache-2.0
#include "levqor/file_access.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace levqor::files {
namespace {

std::string describe(const char* what, const std::string& path, const struct stat& st, const char* verdict) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    std::string out = what;
    if (!path.empty()) out += " \"" + path + "\"";
    return out + " (mode " + mode + ", owner " + std::to_string(st.st_uid) + ":" + std::to_string(st.st_gid) + ") is " +
           verdict + " by it";
}

// The canonical form of path or, when it does not exist, of its deepest
// existing directory plus the rest; "" when not even "/" resolves.
std::string canonical(const std::string& path, bool& file_exists) {
    char buf[PATH_MAX];
    if (::realpath(path.c_str(), buf) != nullptr) {
        file_exists = true;
        return buf;
    }
    file_exists = false;
    const auto slash = path.find_last_of('/');
    if (errno != ENOENT || slash == std::string::npos) return "";
    const std::string dir = slash == 0 ? "/" : path.substr(0, slash);
    bool dir_exists = false;
    const std::string parent = canonical(dir, dir_exists);
    if (parent.empty() || !dir_exists) return "";
    return parent + (parent == "/" ? "" : "/") + path.substr(slash + 1);
}

}  // namespace

bool permits(mode_t mode, uid_t owner, gid_t group, const User& who, unsigned want) {
    if (who.uid == 0) return true;
    unsigned granted;
    if (who.uid == owner) {
        granted = (mode >> 6) & 7;
    } else if (std::find(who.groups.begin(), who.groups.end(), group) != who.groups.end()) {
        granted = (mode >> 3) & 7;
    } else {
        granted = mode & 7;
    }
    return (granted & want) == want;
}

std::string unreadable_by(const std::string& path, const User& who) {
    bool file_exists = false;
    const std::string real = canonical(path, file_exists);
    if (real.empty() || real.front() != '/') return "";
    // Every directory from "/" down to the file's own must be searchable.
    std::vector<std::string> dirs{"/"};
    for (auto slash = real.find('/', 1); slash != std::string::npos; slash = real.find('/', slash + 1)) {
        dirs.push_back(real.substr(0, slash));
    }
    for (const std::string& dir : dirs) {
        struct stat st;
        if (::stat(dir.c_str(), &st) != 0) return "";  // gone meanwhile: nothing to judge
        if (!permits(st.st_mode, st.st_uid, st.st_gid, who, kSearch)) {
            return describe("the directory", dir, st, "not searchable");
        }
    }
    if (!file_exists) return "";
    struct stat st;
    if (::stat(real.c_str(), &st) != 0) return "";
    if (!permits(st.st_mode, st.st_uid, st.st_gid, who, kRead)) return describe("the file", "", st, "not readable");
    return "";
}

}  // namespace levqor::files
