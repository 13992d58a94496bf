// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/queue/instance_id.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>
#include <vector>

#include "levqor/controld/core/files.h"
#include "levqor/controld/core/unique_fd.h"

namespace levqor::controld::queue {
namespace {

constexpr const char* kFileName = "queue-instance-id";

[[noreturn]] void fail(const std::string& path, const char* op, int err) {
    throw FileError("cannot create " + path + ": " + op + ": " + std::strerror(err));
}

std::string random_id() {
    static constexpr char kHex[] = "0123456789abcdef";
    std::random_device device;  // getrandom(2)
    std::string id;
    id.reserve(32);
    for (int word = 0; word < 4; ++word) {
        auto bits = static_cast<std::uint32_t>(device());
        for (int i = 0; i < 8; ++i, bits >>= 4) id.push_back(kHex[bits & 0xf]);
    }
    return id;
}

std::string trimmed(std::string text) {
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    return text;
}

std::string checked(const std::string& path, const std::string& content) {
    auto id = trimmed(content);
    if (!is_instance_id(id)) {
        throw FileError(path + " does not hold an instance id (32 hex digits); delete it and " +
                        "start again (a new id is made; jobs the previous process held are then " +
                        "delivered again after the visibility timeout)");
    }
    return id;
}

// Writes `id` to a temporary file and links it to `path`: fails with
// EEXIST instead of replacing a file another process made meanwhile.
bool publish(const std::string& dir, const std::string& path, const std::string& id) {
    std::string temp = dir + "/." + kFileName + ".tmp.XXXXXX";
    std::vector<char> name(temp.begin(), temp.end());
    name.push_back('\0');
    UniqueFd fd(::mkstemp(name.data()));
    if (!fd.valid()) fail(path, "create temporary file", errno);
    temp.assign(name.data());
    const std::string line = id + "\n";
    const bool written = ::fchmod(fd.get(), 0644) == 0 &&
                         ::write(fd.get(), line.data(), line.size()) == static_cast<ssize_t>(line.size()) &&
                         ::fsync(fd.get()) == 0;
    const int write_errno = errno;
    fd.reset();
    if (!written) {
        ::unlink(temp.c_str());
        fail(path, "write", write_errno);
    }
    const int linked = ::link(temp.c_str(), path.c_str());
    const int link_errno = errno;
    ::unlink(temp.c_str());
    if (linked != 0) {
        if (link_errno == EEXIST) return false;
        fail(path, "link", link_errno);
    }
    UniqueFd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (dir_fd.valid()) ::fsync(dir_fd.get());
    return true;
}

}  // namespace

bool is_instance_id(const std::string& text) {
    if (text.size() != 32) return false;
    for (char c : text) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    }
    return true;
}

std::string consumer_prefix(const std::string& instance) { return "controld-" + instance + "-"; }

std::string consumer_name(const std::string& instance, unsigned worker) {
    return consumer_prefix(instance) + std::to_string(worker);
}

std::string load_or_create_instance_id(const std::string& data_dir) {
    const std::string path = data_dir + "/" + kFileName;
    if (auto content = read_file_if_exists(path)) return checked(path, *content);
    const auto id = random_id();
    if (publish(data_dir, path, id)) return id;
    // Another process created it first: use theirs.
    auto content = read_file_if_exists(path);
    if (!content) throw FileError("cannot read " + path + ": it vanished after it was created");
    return checked(path, *content);
}

}  // namespace levqor::controld::queue
