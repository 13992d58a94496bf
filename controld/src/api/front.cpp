// SPDX-License-Identifier: Apache-2.0
#include "front.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>

#include "wire.h"

namespace levqor::controld::api {
namespace {

constexpr std::uint64_t kListenerKey = 0;
constexpr std::uint64_t kWakeKey = 1;
constexpr std::uint64_t kFirstConnectionId = 2;

constexpr std::size_t kReadChunk = 16 * 1024;
// Reads per readiness event: enough for a body to flow, few enough that one
// busy client cannot hold the loop.
constexpr int kReadsPerEvent = 4;
constexpr int kAcceptsPerEvent = 64;
constexpr int kEventsPerWait = 64;
// After refusing a request whose bytes may still be arriving, keep reading
// (and discarding) for a moment before closing: closing with unread data
// makes the kernel send a reset, which can destroy the answer before the
// client reads it.
constexpr auto kLingerTime = std::chrono::seconds(1);
constexpr std::size_t kLingerMaxBytes = 1024 * 1024;
// Out of descriptors with nothing to evict: try accepting again after this.
constexpr auto kAcceptPause = std::chrono::milliseconds(100);
constexpr auto kCapWarningEvery = std::chrono::seconds(10);

[[noreturn]] void fail_system(const char* what) { throw std::system_error(errno, std::generic_category(), what); }

// "address", port of a socket's own (local) or peer end.
std::pair<std::string, int> socket_address(int fd, bool peer) {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    const int rc = peer ? ::getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len)
                        : ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    if (rc != 0) return {"", -1};
    char text[INET6_ADDRSTRLEN] = {};
    if (addr.ss_family == AF_INET) {
        const auto* in = reinterpret_cast<const sockaddr_in*>(&addr);
        ::inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
        return {text, ntohs(in->sin_port)};
    }
    if (addr.ss_family == AF_INET6) {
        const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&addr);
        ::inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
        return {text, ntohs(in6->sin6_port)};
    }
    return {"", -1};
}

std::string ms(std::chrono::milliseconds value) { return std::to_string(value.count()) + " ms"; }

}  // namespace

struct Front::Connection {
    enum class Phase {
        idle,       // waiting for the first byte of a request
        headers,    // reading the request line and headers
        body,       // reading the body
        handling,   // a worker has the request
        writing,    // writing the response
        lingering,  // answered and half-closed; discarding what still arrives
    };

    Connection(std::uint64_t id_, UniqueFd fd_, const RequestLimits& limits)
        : id(id_), fd(std::move(fd_)), parser(limits) {}

    const std::uint64_t id;
    UniqueFd fd;
    RequestParser parser;
    Phase phase = Phase::idle;
    bool fresh = true;  // no request answered yet on this connection
    bool authenticated = false;
    Caller caller = Caller::anonymous;  // of the current request
    std::string remote_addr;
    int remote_port = -1;
    std::string local_addr;
    int local_port = -1;
    std::string in;  // read, not yet consumed by the parser
    std::string out;
    std::size_t written = 0;
    bool keep_alive = false;  // after `out` is written
    bool linger_after_write = false;
    std::size_t lingered = 0;
    Clock::time_point deadline = Clock::time_point::max();
    Clock::time_point body_deadline{};
    std::uint32_t events = 0;
};

Front::Front(const Router& router, const Logger& log, const HttpServer::Options& options, UniqueFd listener,
             const std::string& listen_host)
    : log_(log),
      options_(options),
      responder_(router, log, options),
      hosts_([&] {
          std::vector<std::string> names = {"localhost", "127.0.0.1", "::1", listen_host};
          names.insert(names.end(), options.allowed_hosts.begin(), options.allowed_hosts.end());
          return names;
      }()),
      epoll_(::epoll_create1(EPOLL_CLOEXEC)),
      wake_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)),
      listener_(std::move(listener)),
      next_id_(kFirstConnectionId),
      general_pool_(std::max(1u, options.worker_threads)),
      admin_pool_(std::max(1u, options.admin_threads)) {
    if (!epoll_.valid()) fail_system("epoll_create1");
    if (!wake_.valid()) fail_system("eventfd");
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kWakeKey;
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, wake_.get(), &ev) != 0) fail_system("epoll_ctl");
    ev.data.u64 = kListenerKey;
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, listener_.get(), &ev) != 0) fail_system("epoll_ctl");
}

Front::~Front() = default;

// ---- the loop ----------------------------------------------------------------

void Front::run() {
    epoll_event events[kEventsPerWait];
    // A handler whose client went away still finishes before run() returns.
    while (!(stopping_ && connections_.empty() && in_flight_ == 0)) {
        const int n = ::epoll_wait(epoll_.get(), events, kEventsPerWait, wait_ms());
        if (n < 0) {
            if (errno == EINTR) continue;
            log_.error("HTTP event loop failed", {{"error", std::strerror(errno)}});
            break;
        }
        for (int i = 0; i < n; ++i) on_event(events[i].data.u64, events[i].events);
        if (stop_requested_.load() && !stopping_) begin_stop();
        expire_deadlines();
        if (accept_paused_ && !stopping_ && Clock::now() >= accept_resume_) resume_accepting();
    }
    deadlines_.clear();
    connections_.clear();
    {
        std::lock_guard<std::mutex> lock(mutex_);
        listener_.reset();
        listener_closed_ = true;
    }
    listener_closed_cv_.notify_all();
}

int Front::wait_ms() const {
    auto next = deadlines_.empty() ? Clock::time_point::max() : deadlines_.begin()->first;
    if (accept_paused_) next = std::min(next, accept_resume_);
    if (next == Clock::time_point::max()) return -1;
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(next - Clock::now()).count();
    return static_cast<int>(std::clamp<long long>(left, 0, 60000));
}

void Front::on_event(std::uint64_t key, std::uint32_t events) {
    if (key == kListenerKey) {
        accept_connections();
        return;
    }
    if (key == kWakeKey) {
        std::uint64_t count = 0;
        while (::read(wake_.get(), &count, sizeof count) > 0) {}
        take_completions();
        return;
    }
    const auto alive = [&]() -> Connection* {
        auto it = connections_.find(key);
        return it == connections_.end() ? nullptr : it->second.get();
    };
    Connection* c = alive();
    if (c == nullptr) return;
    if (events & EPOLLIN) on_readable(*c);
    if ((events & EPOLLOUT) && (c = alive()) != nullptr && c->phase == Connection::Phase::writing) {
        write_some(*c);
    }
    // The peer is gone in both directions (or the socket failed): nothing
    // more can be read or written.
    if ((events & (EPOLLERR | EPOLLHUP)) && (c = alive()) != nullptr) close(*c);
}

void Front::request_stop() {
    stop_requested_.store(true);
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto n = ::write(wake_.get(), &one, sizeof one);
}

bool Front::wait_listener_closed(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mutex_);
    return listener_closed_cv_.wait_for(lock, timeout, [this] { return listener_closed_; });
}

void Front::begin_stop() {
    stopping_ = true;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        listener_.reset();  // close() also takes it out of the epoll set
        listener_closed_ = true;
    }
    listener_closed_cv_.notify_all();
    // Connections not being answered have nothing to finish.
    std::vector<Connection*> idle;
    for (auto& [id, c] : connections_) {
        if (c->phase != Connection::Phase::handling && c->phase != Connection::Phase::writing) {
            idle.push_back(c.get());
        }
    }
    for (auto* c : idle) close(*c);
}

// ---- accepting ---------------------------------------------------------------

void Front::accept_connections() {
    for (int i = 0; i < kAcceptsPerEvent && !stopping_ && !accept_paused_; ++i) {
        const int fd = ::accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            admit(UniqueFd(fd));
            continue;
        }
        switch (errno) {
            case EINTR:
            case ECONNABORTED:
                continue;
            case EAGAIN:
                return;
            case EMFILE:
            case ENFILE:
            case ENOBUFS:
            case ENOMEM:
                if (evict_oldest_unauthenticated()) continue;
                note_capped("out of file descriptors");
                pause_accepting();
                return;
            default:
                log_.error("accept failed", {{"error", std::strerror(errno)}});
                pause_accepting();
                return;
        }
    }
}

void Front::admit(UniqueFd fd) {
    while (connections_.size() >= options_.max_connections ||
           unauthenticated_ >= options_.max_unauthenticated_connections) {
        if (!evict_oldest_unauthenticated()) {
            if (options_.on_dropped) options_.on_dropped("refused");
            note_capped("connection limit reached, nothing to evict");
            return;  // fd closes here
        }
    }
    const int one = 1;
    ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    auto c = std::make_unique<Connection>(next_id_++, std::move(fd), options_.limits);
    std::tie(c->remote_addr, c->remote_port) = socket_address(c->fd.get(), /*peer=*/true);
    std::tie(c->local_addr, c->local_port) = socket_address(c->fd.get(), /*peer=*/false);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = c->id;
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, c->fd.get(), &ev) != 0) {
        log_.error("cannot watch a new connection", {{"error", std::strerror(errno)}});
        return;
    }
    c->events = EPOLLIN;
    ++unauthenticated_;
    auto& added = *connections_.emplace(c->id, std::move(c)).first->second;
    // A new connection has header_timeout for its first request, counted from
    // now: connecting and then saying nothing is no way to hold a slot.
    set_deadline(added, Clock::now() + options_.header_timeout);
}

// The oldest connection that has not authenticated and is not waiting for a
// handler: a slow or idle client, or one being answered or lingering.
bool Front::evict_oldest_unauthenticated() {
    for (auto& [id, c] : connections_) {
        if (c->authenticated || c->phase == Connection::Phase::handling) continue;
        drop(*c, "evicted");
        note_capped("connection limit reached, closed the oldest unauthenticated connection");
        return true;
    }
    return false;
}

void Front::pause_accepting() {
    if (accept_paused_ || !listener_.valid()) return;
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, listener_.get(), nullptr);
    accept_paused_ = true;
    accept_resume_ = Clock::now() + kAcceptPause;
}

void Front::resume_accepting() {
    accept_paused_ = false;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kListenerKey;
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, listener_.get(), &ev);
}

// One warning per kCapWarningEvery while connections are being evicted or
// refused, with how many since the last: an attack must not flood the log.
void Front::note_capped(std::string_view reason) {
    ++capped_since_warning_;
    const auto now = Clock::now();
    if (now - last_cap_warning_ < kCapWarningEvery) return;
    log_.warn("HTTP connection limit", {{"reason", std::string(reason)},
                                        {"connections_affected", capped_since_warning_},
                                        {"connections", connections_.size()},
                                        {"unauthenticated", unauthenticated_},
                                        {"max_connections", options_.max_connections},
                                        {"max_unauthenticated_connections", options_.max_unauthenticated_connections}});
    last_cap_warning_ = now;
    capped_since_warning_ = 0;
}

// ---- reading -----------------------------------------------------------------

void Front::on_readable(Connection& c) {
    char buf[kReadChunk];
    for (int i = 0; i < kReadsPerEvent; ++i) {
        using Phase = Connection::Phase;
        if (c.phase == Phase::handling || c.phase == Phase::writing) return;
        const ssize_t n = ::recv(c.fd.get(), buf, sizeof buf, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) close(c);
            return;
        }
        if (n == 0) {  // the client is done; an unfinished request has no one to answer to
            close(c);
            return;
        }
        if (c.phase == Phase::lingering) {
            c.lingered += static_cast<std::size_t>(n);
            if (c.lingered > kLingerMaxBytes) {
                close(c);
                return;
            }
            continue;
        }
        c.in.append(buf, static_cast<std::size_t>(n));
        if (!process(c)) return;
    }
}

// Feeds what was read to the parser and acts on where it stops. Returns
// false once the connection no longer reads (dispatched, refused, closed).
bool Front::process(Connection& c) {
    using State = RequestParser::State;
    for (;;) {
        const auto used = c.parser.feed(c.in);
        c.in.erase(0, used);
        switch (c.parser.state()) {
            case State::request_line:
            case State::headers:
                if (c.phase == Connection::Phase::idle && c.parser.started()) {
                    c.phase = Connection::Phase::headers;
                    if (!c.fresh) set_deadline(c, Clock::now() + options_.header_timeout);
                }
                return true;
            case State::body:
                set_deadline(c, std::min(c.body_deadline, Clock::now() + options_.read_timeout));
                return true;
            case State::headers_done:
                if (!on_headers(c)) return false;
                c.parser.read_body();
                if (c.parser.state() == State::body) {
                    c.phase = Connection::Phase::body;
                    c.body_deadline = Clock::now() + options_.body_timeout;
                }
                continue;
            case State::complete:
                dispatch(c);
                return false;
            case State::failed:
                refuse(c, c.parser.error());
                return false;
        }
    }
}

// The headers are in: who is asking, and may the body be read?
bool Front::on_headers(Connection& c) {
    const auto& req = c.parser.request();
    if (req.has_header("Host") && !hosts_.allows(req.get_header_value("Host"), c.local_addr)) {
        refuse(c, {421, "misdirected_request",
                   "this controld does not answer to the Host name in the request; add it to "
                   "http.allowed_hosts if it is really yours"});
        return false;
    }
    c.caller = Caller::authenticated;
    if (options_.classify) {
        try {
            c.caller = options_.classify(req);
        } catch (...) {
            c.caller = Caller::anonymous;
        }
    }
    if (c.caller != Caller::anonymous) mark_authenticated(c);
    if (!c.parser.expects_body()) return true;
    if (c.caller == Caller::anonymous) {
        refuse(c, {401, "unauthorized",
                   req.has_header("Authorization")
                       ? "the bearer token is not valid; a request with a body needs a valid token"
                       : "a request with a body needs Authorization: Bearer <token>"});
        return false;
    }
    if (c.parser.expects_continue()) {
        static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
        // Nothing else is in flight on the connection, so the send buffer has room.
        if (::send(c.fd.get(), kContinue.data(), kContinue.size(), MSG_NOSIGNAL) !=
            static_cast<ssize_t>(kContinue.size())) {
            close(c);
            return false;
        }
    }
    return true;
}

// ---- handling ----------------------------------------------------------------

httplib::Request Front::take_request(Connection& c) {
    auto req = c.parser.take_request();
    req.remote_addr = c.remote_addr;
    req.remote_port = c.remote_port;
    req.local_addr = c.local_addr;
    req.local_port = c.local_port;
    return req;
}

void Front::dispatch(Connection& c) {
    c.phase = Connection::Phase::handling;
    set_deadline(c, Clock::time_point::max());
    set_events(c, 0);
    auto req = std::make_shared<httplib::Request>(take_request(c));
    const bool keep_alive = c.parser.keep_alive();
    auto& pool = c.caller == Caller::admin ? admin_pool_ : general_pool_;
    ++in_flight_;
    pool.post([this, id = c.id, req, keep_alive] {
        std::string bytes;
        bool keep = false;
        try {
            auto res = responder_.answer(*req);
            // Decided after the handler: a stop meanwhile closes the connection.
            keep = keep_alive && !stop_requested_.load();
            bytes = serialize_response(*req, res, keep);
        } catch (...) {
            // Serialising failed (out of memory): the client still gets an answer.
            bytes = "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
            complete(id, std::move(bytes), false);
            return;
        }
        complete(id, std::move(bytes), keep);
    });
}

void Front::complete(std::uint64_t id, std::string bytes, bool keep_alive) {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        completions_.push_back({id, std::move(bytes), keep_alive});
    }
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto n = ::write(wake_.get(), &one, sizeof one);
}

void Front::take_completions() {
    std::vector<Completion> done;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        done.swap(completions_);
    }
    for (auto& completion : done) {
        --in_flight_;
        auto it = connections_.find(completion.id);
        if (it == connections_.end()) continue;  // the client went away meanwhile
        begin_write(*it->second, std::move(completion.bytes), completion.keep_alive);
    }
}

void Front::refuse(Connection& c, const RequestError& error) {
    auto req = take_request(c);
    c.linger_after_write = true;
    begin_write(c, responder_.refuse(req, error), /*keep_alive=*/false);
}

// ---- writing -----------------------------------------------------------------

void Front::begin_write(Connection& c, std::string bytes, bool keep_alive) {
    c.phase = Connection::Phase::writing;
    c.out = std::move(bytes);
    c.written = 0;
    c.keep_alive = keep_alive && !stopping_;
    set_events(c, 0);
    set_deadline(c, Clock::now() + options_.write_timeout);
    write_some(c);
}

void Front::write_some(Connection& c) {
    while (c.written < c.out.size()) {
        const ssize_t n = ::send(c.fd.get(), c.out.data() + c.written, c.out.size() - c.written, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                set_events(c, EPOLLOUT);
                return;
            }
            close(c);
            return;
        }
        c.written += static_cast<std::size_t>(n);
    }
    std::string().swap(c.out);  // a /metrics answer can be large; do not keep it
    response_written(c);
}

void Front::response_written(Connection& c) {
    if (c.linger_after_write || (!c.keep_alive && !c.in.empty())) {
        linger(c);
        return;
    }
    if (!c.keep_alive || stopping_) {
        close(c);
        return;
    }
    c.parser.reset();
    c.fresh = false;
    c.phase = Connection::Phase::idle;
    set_events(c, EPOLLIN);
    set_deadline(c, Clock::now() + options_.keep_alive_timeout);
    if (!c.in.empty()) process(c);  // a pipelined request
}

void Front::linger(Connection& c) {
    ::shutdown(c.fd.get(), SHUT_WR);
    c.phase = Connection::Phase::lingering;
    c.in.clear();
    set_events(c, EPOLLIN);
    set_deadline(c, Clock::now() + kLingerTime);
}

// ---- deadlines ---------------------------------------------------------------

void Front::set_deadline(Connection& c, Clock::time_point when) {
    if (c.deadline == when) return;
    if (c.deadline != Clock::time_point::max()) deadlines_.erase({c.deadline, c.id});
    c.deadline = when;
    if (when != Clock::time_point::max()) deadlines_.emplace(when, c.id);
}

void Front::expire_deadlines() {
    const auto now = Clock::now();
    while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
        const auto id = deadlines_.begin()->second;
        auto it = connections_.find(id);
        if (it == connections_.end()) {
            deadlines_.erase(deadlines_.begin());
            continue;
        }
        set_deadline(*it->second, Clock::time_point::max());
        on_deadline(*it->second);
    }
}

void Front::on_deadline(Connection& c) {
    using Phase = Connection::Phase;
    switch (c.phase) {
        case Phase::idle:
            // A keep-alive connection that stayed idle: the normal end. A new one
            // that never sent a byte held a slot for header_timeout.
            if (c.fresh) {
                drop(c, "timeout");
            } else {
                close(c);
            }
            return;
        case Phase::headers:
            refuse(c, {408, "request_timeout",
                       "the request line and headers did not arrive within " + ms(options_.header_timeout) +
                           " (http.header_timeout_ms)"});
            return;
        case Phase::body:
            refuse(c, {408, "request_timeout",
                       "the request body did not arrive in time (http.body_timeout_ms " + ms(options_.body_timeout) +
                           ", no pause over http.read_timeout_ms " + ms(options_.read_timeout) + ")"});
            return;
        case Phase::writing:
            drop(c, "timeout");
            return;
        case Phase::lingering:
            close(c);
            return;
        case Phase::handling:
            return;
    }
}

// ---- connection state ----------------------------------------------------------

void Front::set_events(Connection& c, std::uint32_t events) {
    if (c.events == events) return;
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = c.id;
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, c.fd.get(), &ev);
    c.events = events;
}

void Front::mark_authenticated(Connection& c) {
    if (c.authenticated) return;
    c.authenticated = true;
    --unauthenticated_;
}

void Front::drop(Connection& c, std::string_view reason) {
    if (options_.on_dropped) options_.on_dropped(reason);
    close(c);
}

void Front::close(Connection& c) {
    set_deadline(c, Clock::time_point::max());
    if (!c.authenticated) --unauthenticated_;
    const auto id = c.id;    // c dies in erase()
    connections_.erase(id);  // closes the socket, which leaves the epoll set
}

}  // namespace levqor::controld::api
