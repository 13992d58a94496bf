#include "levqor/controld/api/http_server.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>

#include "levqor/controld/api/errors.h"
#include "levqor/controld/core/text.h"
#include "levqor/controld/core/unique_fd.h"

namespace levqor::controld::api {
namespace {

// httplib's default socket options set SO_REUSEPORT, which lets a second
// daemon bind the same port and silently share its traffic. SO_REUSEADDR
// alone still allows a quick restart over TIME_WAIT connections.
void set_listen_socket_options(int fd) {
  int yes = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
}

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

// httplib reports only that binding failed. Repeat the bind ourselves to
// learn why; the answer is for the error message, so a race that makes
// this bind succeed only costs precision.
std::string describe_bind_failure(const ListenAddress& where) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  const auto port = std::to_string(where.port);
  if (int rc = ::getaddrinfo(where.host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    return std::string("cannot resolve \"") + where.host + "\": " + ::gai_strerror(rc);
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> list(found, &::freeaddrinfo);
  UniqueFd fd(::socket(found->ai_family, found->ai_socktype, found->ai_protocol));
  if (!fd.valid()) return std::string("socket: ") + std::strerror(errno);
  set_listen_socket_options(fd.get());
  if (::bind(fd.get(), found->ai_addr, found->ai_addrlen) != 0) {
    const int err = errno;
    return std::strerror(err) + hint_for(err);
  }
  if (::listen(fd.get(), 1) != 0) return std::string("listen: ") + std::strerror(errno);
  return "bind failed for an unknown reason (it succeeds when retried)";
}

std::optional<ListenAddress> local_address(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (fd < 0 || ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return std::nullopt;
  }
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

std::string default_error_message(const httplib::Request& req, int status,
                                   std::size_t max_body_bytes) {
  switch (status) {
    case 404: return "no route for " + req.method + " " + req.path;
    case 400: return "malformed HTTP request";
    case 413:
      return "request body exceeds " + std::to_string(max_body_bytes) + " bytes";
    case 414: return "request URI too long";
    default: return "request failed with HTTP status " + std::to_string(status);
  }
}

// A request with neither Content-Length nor Transfer-Encoding has an empty
// body (RFC 9112, 6.3), but httplib 0.11 reads the body of POST/PUT/PATCH/
// DELETE until the client closes, so `curl -X POST` without data would hang
// for the read timeout and get a 400. Saying Content-Length: 0 makes httplib
// read nothing. httplib hands pre-routing hooks a const reference to a
// Request it owns as a non-const object, so the const_cast is well-defined.
void declare_empty_body(const httplib::Request& req) {
  if (!req.has_header("Content-Length") && !req.has_header("Transfer-Encoding")) {
    const_cast<httplib::Request&>(req).set_header("Content-Length", "0");
  }
}

// httplib compresses a text or JSON answer with brotli when the client
// accepts "br", at brotli's highest quality: close to a second for a /metrics
// of a few hundred kilobytes. Removing "br" from Accept-Encoding leaves gzip
// (a few milliseconds), which is what Prometheus asks for anyway.
void refuse_brotli(const httplib::Request& req) {
  auto& headers = const_cast<httplib::Headers&>(req.headers);
  auto found = headers.find("Accept-Encoding");
  if (found == headers.end() || found->second.find("br") == std::string::npos) return;
  std::string kept;
  const std::string value = found->second;
  std::size_t start = 0;
  while (start <= value.size()) {
    auto end = value.find(',', start);
    if (end == std::string::npos) end = value.size();
    const auto token = trim(std::string_view(value).substr(start, end - start));
    const auto name = token.substr(0, token.find_first_of(" \t;"));
    if (!token.empty() && name != "br") {
      kept += (kept.empty() ? "" : ", ") + std::string(token);
    }
    start = end + 1;
  }
  headers.erase(found);
  if (!kept.empty()) headers.emplace("Accept-Encoding", kept);
}

std::string describe(std::exception_ptr ep) {
  try {
    if (ep) std::rethrow_exception(ep);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
  }
  return "unknown exception";
}

}  // namespace

HttpServer::HttpServer(const Router& router, const Logger& log, Options options)
    : log_(log), options_(std::move(options)) {
  server_.set_keep_alive_timeout(options_.keep_alive_timeout.count());
  server_.set_read_timeout(options_.read_timeout);
  server_.set_write_timeout(options_.write_timeout);
  server_.set_payload_max_length(options_.max_body_bytes);
  // Runs right before bind() for each candidate address; the last socket
  // seen is the one that got bound.
  server_.set_socket_options([this](socket_t fd) {
    set_listen_socket_options(fd);
    listening_fd_ = fd;
  });
  install_handlers(router);
}

HttpServer::~HttpServer() {
  stop();
  if (thread_.joinable()) thread_.join();
}

void HttpServer::install_handlers(const Router& router) {
  router.install(server_);

  server_.set_pre_routing_handler([](const httplib::Request& req, httplib::Response&) {
    declare_empty_body(req);
    refuse_brotli(req);
    return httplib::Server::HandlerResponse::Unhandled;
  });

  // httplib calls this for every status >= 400; only fill in bodies it left empty.
  server_.set_error_handler(httplib::Server::HandlerWithResponse(
      [this](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        set_error(res, res.status, error_code_for_status(res.status),
                  default_error_message(req, res.status, options_.max_body_bytes));
        return httplib::Server::HandlerResponse::Handled;
      }));

  server_.set_exception_handler(
      [this](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
        const auto error = describe(ep);
        if (options_.on_exception) {
          options_.on_exception(req, error);
        } else {
          log_.error("request handler failed",
                     {{"method", req.method}, {"path", req.path}, {"error", error}});
        }
        res.headers.clear();  // whatever the handler set before it threw
        set_error(res, 500, "internal_error", "internal error; see the levqor-controld log");
      });

  server_.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
    access_log(req, res);
    if (options_.on_response) options_.on_response(req, res);
  });
}

void HttpServer::access_log(const httplib::Request& req, const httplib::Response& res) const {
  const bool quiet = res.status < 400 && options_.quiet_paths.count(req.path) != 0;
  log_.log(quiet ? LogLevel::debug : LogLevel::info, "request",
           {{"method", req.method},
            {"path", req.path},
            {"status", res.status},
            {"remote", req.remote_addr}});
}

ListenAddress HttpServer::start(const ListenAddress& where, const std::function<void()>& before_serving) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (started_) throw std::logic_error("HttpServer::start called twice");
    started_ = true;
  }
  const bool bound = where.port == 0 ? server_.bind_to_any_port(where.host) >= 0
                                     : server_.bind_to_port(where.host, where.port);
  if (!bound) {
    std::lock_guard<std::mutex> lock(mutex_);
    finished_ = true;
    throw ListenError("cannot listen on " + where.to_string() + ": " +
                      describe_bind_failure(where));
  }
  auto actual = local_address(listening_fd_).value_or(where);
  if (before_serving) {
    try {
      before_serving();
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      finished_ = true;  // never served; the process is about to exit
      throw;
    }
  }
  thread_ = std::thread([this] { serve(); });
  return actual;
}

void HttpServer::serve() {
  const bool clean = server_.listen_after_bind();
  if (!clean) log_.error("HTTP accept loop failed", {{"error", std::strerror(errno)}});
  {
    std::lock_guard<std::mutex> lock(mutex_);
    finished_ = true;
  }
  stopped_cv_.notify_all();
}

void HttpServer::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stop_requested_ || !started_ || finished_) {
      stop_requested_ = true;
      return;
    }
    stop_requested_ = true;
  }
  // httplib's stop() does nothing until the serving thread has entered its
  // accept loop, and must not be called twice (it asserts). So wait for the
  // loop to be running, then call it exactly once.
  while (!server_.is_running()) {
    if (wait_stopped(std::chrono::milliseconds(1))) return;
  }
  server_.stop();
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
