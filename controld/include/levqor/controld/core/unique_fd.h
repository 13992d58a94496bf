// SPDX-License-Identifier: Apache-2.0
// UniqueFd: RAII ownership of a file descriptor, closed on destruction,
// move-only. Not thread-safe: one owner at a time, like any value.
#pragma once

namespace levqor::controld {

// Owns a file descriptor and closes it on destruction. Move-only.
// Thread-safety: none; like any value type, one owner at a time.
class UniqueFd {
public:
    UniqueFd() noexcept = default;
    explicit UniqueFd(int fd) noexcept : fd_(fd) {}
    ~UniqueFd();

    UniqueFd(UniqueFd&& other) noexcept;
    UniqueFd& operator=(UniqueFd&& other) noexcept;
    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;

    int get() const noexcept { return fd_; }
    bool valid() const noexcept { return fd_ >= 0; }
    void reset(int fd = -1) noexcept;
    // Gives up ownership without closing; returns the descriptor.
    int release() noexcept;

private:
    int fd_ = -1;
};

}  // namespace levqor::controld
