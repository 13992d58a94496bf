// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/backup/store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

#include "levqor/controld/core/files.h"
#include "levqor/controld/core/unique_fd.h"

namespace levqor::controld::backup {
namespace {

struct DirClose {
    void operator()(DIR* d) const { ::closedir(d); }
};

// The names in directory `path`, sorted, without "." and "..". With
// `absent`, a missing directory is no entries (and sets it) instead of an error.
std::vector<std::string> entries(const std::string& path, bool* absent = nullptr) {
    std::unique_ptr<DIR, DirClose> d(::opendir(path.c_str()));
    if (!d) {
        if (errno == ENOENT && absent != nullptr) {
            *absent = true;
            return {};
        }
        throw FileError("cannot list " + path + ": " + std::strerror(errno));
    }
    std::vector<std::string> out;
    while (const dirent* e = ::readdir(d.get())) {
        const std::string name = e->d_name;
        if (name != "." && name != "..") out.push_back(name);
    }
    std::sort(out.begin(), out.end());
    return out;
}

bool is_directory(const std::string& path) {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

}  // namespace

std::string backup_folder(const std::string& dir, const std::string& target, const std::string& id) {
    return dir + "/" + target + "/" + id;
}

BackupListing list_backups(const std::string& dir, const std::string& target, std::size_t max_backups) {
    BackupListing listing;
    if (!target.empty() && (target.find('/') != std::string::npos || target == "." || target == "..")) {
        throw FileError("cannot list backups of \"" + target + "\": not a target name");
    }
    bool absent = false;
    std::vector<std::string> targets = target.empty() ? entries(dir, &absent) : std::vector<std::string>{target};
    if (absent) return listing;
    std::size_t read = 0;
    for (const auto& t : targets) {
        const std::string target_dir = dir + "/" + t;
        if (!is_directory(target_dir)) continue;
        std::vector<std::string> ids;
        try {
            ids = entries(target_dir);
        } catch (const FileError& e) {
            listing.problems.push_back(e.what());
            continue;
        }
        for (const auto& id : ids) {
            const std::string folder = target_dir + "/" + id;
            if (!is_directory(folder)) continue;
            if (read == max_backups) {
                listing.problems.push_back("more than " + std::to_string(max_backups) + " backups in " + dir +
                                           "; the rest were not read");
                break;
            }
            ++read;
            try {
                Manifest m = read_manifest(folder);
                if (m.target != t || m.id != id) {
                    listing.problems.push_back(folder + "/manifest.json names target \"" + m.target + "\", id \"" +
                                               m.id + "\": not this folder");
                    continue;
                }
                listing.backups.push_back(std::move(m));
            } catch (const std::exception& e) {
                listing.problems.push_back(e.what());
            }
        }
    }
    std::sort(listing.backups.begin(), listing.backups.end(), [](const Manifest& a, const Manifest& b) {
        if (a.started_at != b.started_at) return a.started_at > b.started_at;
        return a.id > b.id;
    });
    return listing;
}

void remove_backup(const std::string& dir, const std::string& target, const std::string& id) {
    const std::string folder = backup_folder(dir, target, id);
    for (const auto& name : entries(folder)) {
        const std::string path = folder + "/" + name;
        if (is_directory(path)) throw FileError("cannot remove " + folder + ": it holds a folder (" + name + ")");
        if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
            throw FileError("cannot remove " + path + ": " + std::strerror(errno));
        }
    }
    if (::rmdir(folder.c_str()) != 0) throw FileError("cannot remove " + folder + ": " + std::strerror(errno));
    UniqueFd parent(::open((dir + "/" + target).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (parent.valid()) ::fsync(parent.get());
}

TargetLock::TargetLock(const std::string& dir, const std::string& target) {
    ensure_directory(dir, 0700);
    ensure_directory(dir + "/" + target, 0700);
    const std::string path = dir + "/" + target + "/.lock";
    fd_.reset(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!fd_.valid()) throw FileError("cannot open " + path + ": " + std::strerror(errno));
    held_ = ::flock(fd_.get(), LOCK_EX | LOCK_NB) == 0;
}

bool target_locked(const std::string& dir, const std::string& target) {
    const std::string path = dir + "/" + target + "/.lock";
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!fd.valid()) return false;
    return ::flock(fd.get(), LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
}

}  // namespace levqor::controld::backup
