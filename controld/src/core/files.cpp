// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/core/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <vector>

#include "levqor/controld/core/unique_fd.h"

namespace levqor::controld {
namespace {

[[noreturn]] void fail(const std::string& what, const std::string& path, const char* op, int err) {
    throw FileError("cannot " + what + " " + path + ": " + op + ": " + std::strerror(err));
}

void write_all(int fd, std::string_view data, const std::string& path) {
    while (!data.empty()) {
        const auto n = ::write(fd, data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            fail("write", path, "write", errno);
        }
        data.remove_prefix(static_cast<std::size_t>(n));
    }
}

}  // namespace

void write_file_atomically(const std::string& path, std::string_view content, mode_t mode) {
    const std::filesystem::path target(path);
    const auto dir = target.has_parent_path() ? target.parent_path().string() : std::string(".");
    std::string temp = dir + "/." + target.filename().string() + ".tmp.XXXXXX";
    std::vector<char> name(temp.begin(), temp.end());
    name.push_back('\0');
    UniqueFd fd(::mkostemp(name.data(), O_CLOEXEC));  // no exec'd program inherits it
    if (!fd.valid()) fail("write", path, "create temporary file", errno);
    temp.assign(name.data());
    try {
        if (::fchmod(fd.get(), mode) != 0) fail("write", path, "fchmod", errno);
        write_all(fd.get(), content, path);
        if (::fsync(fd.get()) != 0) fail("write", path, "fsync", errno);
        // close() releases the descriptor even when it fails.
        if (::close(fd.release()) != 0) fail("write", path, "close", errno);
        if (::rename(temp.c_str(), path.c_str()) != 0) fail("write", path, "rename", errno);
    } catch (...) {
        ::unlink(temp.c_str());
        throw;
    }
    // The rename is durable once the directory entry is on disk.
    UniqueFd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (dir_fd.valid()) ::fsync(dir_fd.get());
}

void ensure_directory(const std::string& path, mode_t mode) {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0) {
        if (!S_ISDIR(st.st_mode)) {
            throw FileError("cannot use " + path + " as a directory: it is a file");
        }
        return;
    }
    std::error_code ec;
    std::filesystem::create_directories(path, ec);
    if (ec) throw FileError("cannot create directory " + path + ": " + ec.message());
    ::chmod(path.c_str(), mode);
}

std::optional<std::string> read_file_if_exists(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) {
        if (errno == ENOENT) return std::nullopt;
        fail("read", path, "open", errno);
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) == 0 && S_ISDIR(st.st_mode)) {
        throw FileError("cannot read " + path + ": it is a directory");
    }
    std::string out;
    char buf[4096];
    for (;;) {
        const auto n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            fail("read", path, "read", errno);
        }
        if (n == 0) break;
        out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
}

std::string shared_mode_problem(const struct stat& st, const std::string& path, gid_t own_group) {
    const mode_t mode = st.st_mode;
    if ((mode & 0077) == 0) return "";
    const bool group_read_only = (mode & 0077) == 0040;
    if (group_read_only && st.st_uid == 0 && own_group != 0 && st.st_gid == own_group) return "";
    char text[8];
    std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
    return std::string(" is readable or writable by group or others (mode ") + text + "); run: chmod 600 " + path;
}

}  // namespace levqor::controld
