// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/core/unique_fd.h"

#include <unistd.h>

#include <utility>

namespace levqor::controld {

UniqueFd::~UniqueFd() { reset(); }

UniqueFd::UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
    if (this != &other) reset(std::exchange(other.fd_, -1));
    return *this;
}

void UniqueFd::reset(int fd) noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
}

int UniqueFd::release() noexcept { return std::exchange(fd_, -1); }

}  // namespace levqor::controld
