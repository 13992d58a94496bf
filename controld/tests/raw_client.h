// SPDX-License-Identifier: Apache-2.0
// A raw TCP client for the HTTP front's tests: it sends what a well-behaved
// client library would not (half lines, floods, slow bytes) and sees
// exactly what comes back and when the server closes.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "levqor/controld/core/unique_fd.h"

namespace levqor::controld::testing {

class RawClient {
public:
    using Clock = std::chrono::steady_clock;

    explicit RawClient(std::uint16_t port) {
        fd_.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(port);
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        connected_ = ::connect(fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    }

    bool connected() const { return connected_; }
    int fd() const { return fd_.get(); }
    // Everything received so far.
    const std::string& received() const { return received_; }
    // True once the server closed (EOF or reset).
    bool closed() const { return closed_; }

    // Sends all of `data`; false if the connection broke.
    bool send(std::string_view data) {
        while (!data.empty()) {
            const ssize_t n = ::send(fd_.get(), data.data(), data.size(), MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EINTR) continue;
                return false;
            }
            data.remove_prefix(static_cast<std::size_t>(n));
        }
        return true;
    }

    // Receives until `done(received())`, the server closes, or `timeout`.
    // Returns whether done() became true.
    template <typename Done>
    bool receive_until_done(Done&& done, std::chrono::milliseconds timeout) {
        const auto deadline = Clock::now() + timeout;
        while (!done(received_)) {
            if (closed_ || !wait(POLLIN, deadline)) return false;
            read_some();
        }
        return true;
    }
    bool receive_until(std::string_view marker, std::chrono::milliseconds timeout) {
        return receive_until_done([&](const std::string& got) { return got.find(marker) != std::string::npos; },
                                  timeout);
    }
    // Receives until the server closes; false on timeout.
    bool receive_until_closed(std::chrono::milliseconds timeout) {
        receive_until_done([](const std::string&) { return false; }, timeout);
        return closed_;
    }

    // Sends `chunk` again and again (up to `limit` bytes) while reading what
    // comes back, until the server closes or stops reading for `stall`; then
    // reads what is still queued. Returns the bytes sent.
    std::size_t flood(std::string_view chunk, std::size_t limit, std::chrono::milliseconds stall) {
        std::size_t sent = 0;
        std::size_t offset = 0;
        auto last_progress = Clock::now();
        while (sent < limit && !closed_ && Clock::now() - last_progress < stall) {
            pollfd p{fd_.get(), POLLIN | POLLOUT, 0};
            if (::poll(&p, 1, 50) <= 0) continue;
            if (p.revents & (POLLIN | POLLHUP | POLLERR)) read_some();
            if (closed_ || !(p.revents & POLLOUT)) continue;
            const ssize_t n =
                ::send(fd_.get(), chunk.data() + offset, chunk.size() - offset, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n < 0) {
                if (errno == EAGAIN || errno == EINTR) continue;
                break;  // EPIPE / ECONNRESET: the server closed; its answer may be queued
            }
            sent += static_cast<std::size_t>(n);
            offset = (offset + static_cast<std::size_t>(n)) % chunk.size();
            last_progress = Clock::now();
        }
        receive_until_closed(std::chrono::seconds(2));
        return sent;
    }

private:
    bool wait(short events, Clock::time_point deadline) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0) return false;
        pollfd p{fd_.get(), events, 0};
        return ::poll(&p, 1, static_cast<int>(left.count())) > 0;
    }

    void read_some() {
        char buf[16384];
        const ssize_t n = ::recv(fd_.get(), buf, sizeof buf, MSG_DONTWAIT);
        if (n > 0) {
            received_.append(buf, static_cast<std::size_t>(n));
        } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
            closed_ = true;
        }
    }

    UniqueFd fd_;
    bool connected_ = false;
    bool closed_ = false;
    std::string received_;
};

}  // namespace levqor::controld::testing
