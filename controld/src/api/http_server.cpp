// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/api/http_server.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>

#include "front.h"
#include "levqor/controld/core/unique_fd.h"

namespace levqor::controld::api {
namespace {

// Descriptors controld needs besides its HTTP connections: logs, SQLite,
// Redis, scrapes, exec pipes.
constexpr rlim_t kSpareDescriptors = 128;

std::string hint_for(int err) {
    switch (err) {
        case EADDRINUSE:
            return " (another process is listening there; stop it or choose another "
                   "port with LEVQOR_LISTEN)";
        case EACCES:
            return " (ports below 1024 need root or CAP_NET_BIND_SERVICE)";
        case EADDRNOTAVAIL:
            return " (the address is not assigned to any local interface)";
        default:
            return "";
    }
}

// A listening, non-blocking, close-on-exec socket on the first address of
// `where` that binds. SO_REUSEADDR allows a quick restart over TIME_WAIT
// connections; SO_REUSEPORT is deliberately not set, so a second daemon
// cannot bind the same port and share its traffic.
UniqueFd listen_on(const ListenAddress& where) {
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    addrinfo* found = nullptr;
    const auto port = std::to_string(where.port);
    if (int rc = ::getaddrinfo(where.host.c_str(), port.c_str(), &hints, &found); rc != 0) {
        throw ListenError("cannot listen on " + where.to_string() + ": cannot resolve \"" + where.host +
                          "\": " + ::gai_strerror(rc));
    }
    std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> list(found, &::freeaddrinfo);
    std::string why = "no usable address";
    for (const addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
        UniqueFd fd(::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol));
        if (!fd.valid()) {
            why = std::string("socket: ") + std::strerror(errno);
            continue;
        }
        const int yes = 1;
        ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
        if (::bind(fd.get(), ai->ai_addr, ai->ai_addrlen) != 0) {
            const int err = errno;
            why = std::strerror(err) + hint_for(err);
            continue;
        }
        if (::listen(fd.get(), SOMAXCONN) != 0) {
            why = std::string("listen: ") + std::strerror(errno);
            continue;
        }
        return fd;
    }
    throw ListenError("cannot listen on " + where.to_string() + ": " + why);
}

std::optional<ListenAddress> local_address(int fd) {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return std::nullopt;
    char text[INET6_ADDRSTRLEN] = {};
    if (addr.ss_family == AF_INET) {
        const auto* in = reinterpret_cast<const sockaddr_in*>(&addr);
        ::inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
        return ListenAddress{text, ntohs(in->sin_port)};
    }
    if (addr.ss_family == AF_INET6) {
        const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&addr);
        ::inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
        return ListenAddress{text, ntohs(in6->sin6_port)};
    }
    return std::nullopt;
}

// Raises the soft descriptor limit (up to the hard one) so max_connections
// fit; says so when they cannot.
void make_room_for(std::size_t connections, const Logger& log) {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
    const rlim_t needed = static_cast<rlim_t>(connections) + kSpareDescriptors;
    if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < needed) {
        rlimit raised = limit;
        raised.rlim_cur = limit.rlim_max == RLIM_INFINITY ? needed : std::min(needed, limit.rlim_max);
        if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
    }
    if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < needed) {
        log.warn(
            "the descriptor limit is below http.max_connections plus spare; connections past it "
            "are refused (raise LimitNOFILE or lower http.max_connections)",
            {{"limit", static_cast<std::uint64_t>(limit.rlim_cur)}, {"max_connections", connections}});
    }
}

}  // namespace

HttpServer::HttpServer(const Router& router, const Logger& log, Options options)
    : log_(log), options_(std::move(options)), router_(router) {}

HttpServer::~HttpServer() {
    stop();
    if (thread_.joinable()) thread_.join();
}

ListenAddress HttpServer::start(const ListenAddress& where, const std::function<void()>& before_serving) {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (started_) throw std::logic_error("HttpServer::start called twice");
        started_ = true;
    }
    try {
        auto listener = listen_on(where);
        const auto actual = local_address(listener.get()).value_or(where);
        make_room_for(options_.max_connections, log_);
        auto front = std::make_unique<Front>(router_, log_, options_, std::move(listener), where.host);
        if (before_serving) before_serving();
        {
            std::lock_guard<std::mutex> lock(mutex_);
            front_ = std::move(front);
        }
        thread_ = std::thread([this] { serve(); });
        return actual;
    } catch (...) {
        std::lock_guard<std::mutex> lock(mutex_);
        finished_ = true;  // never served
        throw;
    }
}

void HttpServer::serve() {
    front_->run();
    {
        std::lock_guard<std::mutex> lock(mutex_);
        finished_ = true;
    }
    stopped_cv_.notify_all();
}

void HttpServer::stop() {
    Front* front = nullptr;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!started_ || finished_ || !front_) return;
        front = front_.get();
    }
    front->request_stop();
    // Once stop() returns, no new connection is accepted.
    front->wait_listener_closed(std::chrono::seconds(2));
}

bool HttpServer::stopped() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return !started_ || finished_;
}

bool HttpServer::wait_stopped(std::chrono::milliseconds timeout) const {
    std::unique_lock<std::mutex> lock(mutex_);
    return stopped_cv_.wait_for(lock, timeout, [this] { return !started_ || finished_; });
}

}  // namespace levqor::controld::api
