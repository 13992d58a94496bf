// HttpServer and App in-process: each test binds 127.0.0.1 port 0 and asks
// which port it got, so tests can run in parallel.
#include "levqor/controld/api/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <future>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "levqor/controld/api/errors.h"
#include "levqor/controld/app.h"
#include "levqor/controld/core/unique_fd.h"
#include "levqor/controld/version.h"
#include "test_support.h"

namespace levqor::controld {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

using testing::CapturedLog;
using testing::TempDir;

// Sends `request` verbatim to 127.0.0.1:port and returns everything the
// server sends back before closing (the request should say Connection: close).
std::string raw_exchange(std::uint16_t port, const std::string& request) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return "";
  timeval tv{10, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (::send(fd.get(), request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size())) {
    return "";
  }
  std::string response;
  char buf[4096];
  for (ssize_t n; (n = ::recv(fd.get(), buf, sizeof buf, 0)) > 0;) response.append(buf, n);
  return response;
}

// The App writes its flags file into data_dir: one directory per process.
const TempDir& data_dir() {
  static const TempDir dir;
  return dir;
}

Config loopback_port_zero() { return testing::app_config(data_dir()); }

class AppTest : public ::testing::Test {
 protected:
  void SetUp() override {
    bound_ = app_.start();
    ASSERT_EQ(bound_.host, "127.0.0.1");
    ASSERT_NE(bound_.port, 0);
  }
  httplib::Client client() { return httplib::Client(bound_.host, bound_.port); }

  CapturedLog log_;
  App app_{loopback_port_zero(), log_.logger};
  ListenAddress bound_;
};

TEST_F(AppTest, HealthzAnswersOkJson) {
  auto res = client().Get("/healthz");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"), "application/json");
  const auto body = json::parse(res->body);
  EXPECT_EQ(body["status"], "ok");
  EXPECT_EQ(body["version"], std::string(kVersion));
  EXPECT_TRUE(body["uptime_s"].is_number_integer());
  EXPECT_GE(body["uptime_s"].get<int>(), 0);
  app_.stop();
  EXPECT_TRUE(app_.wait_stopped(2s));
}

TEST_F(AppTest, HeadHealthzHasNoBody) {
  auto res = client().Head("/healthz");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_TRUE(res->body.empty());
}

TEST_F(AppTest, UnknownPathIs404JsonError) {
  auto res = client().Get("/nope?x=1");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
  EXPECT_EQ(res->get_header_value("Content-Type"), "application/json");
  const auto body = json::parse(res->body);
  EXPECT_EQ(body.size(), 2u);
  EXPECT_EQ(body["error"], "not_found");
  EXPECT_EQ(body["message"], "no route for GET /nope");
}

TEST_F(AppTest, WrongMethodIs405WithAllow) {
  for (auto method : {"POST", "PUT", "PATCH", "DELETE"}) {
    httplib::Request req;
    req.method = method;
    req.path = "/healthz";
    auto res = client().send(req);
    ASSERT_TRUE(res) << method;
    EXPECT_EQ(res->status, 405) << method;
    EXPECT_EQ(res->get_header_value("Allow"), "GET, HEAD, OPTIONS") << method;
    EXPECT_EQ(res->get_header_value("Content-Type"), "application/json");
    const auto body = json::parse(res->body);
    EXPECT_EQ(body["error"], "method_not_allowed");
    EXPECT_EQ(body["message"], std::string(method) +
                                   " is not allowed on /healthz; allowed: GET, HEAD, OPTIONS");
  }
}

TEST_F(AppTest, BodylessPostWithoutContentLengthIsAnsweredAtOnce) {
  // curl -X POST sends neither Content-Length nor Transfer-Encoding.
  const auto begin = std::chrono::steady_clock::now();
  const auto response = raw_exchange(
      bound_.port, "POST /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 1s);
  EXPECT_EQ(response.rfind("HTTP/1.1 405 ", 0), 0u) << response;
  EXPECT_NE(response.find("Allow: GET, HEAD, OPTIONS\r\n"), std::string::npos) << response;
}

TEST_F(AppTest, OptionsListsAllowedMethods) {
  auto res = client().Options("/healthz");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 204);
  EXPECT_EQ(res->get_header_value("Allow"), "GET, HEAD, OPTIONS");
}

TEST_F(AppTest, RequestsAreAccessLogged) {
  ASSERT_TRUE(client().Get("/nope"));
  ASSERT_TRUE(client().Get("/healthz"));
  app_.stop();
  ASSERT_TRUE(app_.wait_stopped(2s));
  std::vector<json> requests;
  for (const auto& line : log_.snapshot()) {
    if (line["msg"] == "request") requests.push_back(line);
  }
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0]["level"], "info");
  EXPECT_EQ(requests[0]["path"], "/nope");
  EXPECT_EQ(requests[0]["status"], 404);
  EXPECT_EQ(requests[0]["remote"], "127.0.0.1");
  EXPECT_EQ(requests[1]["level"], "debug");  // a health check: quiet path
}

TEST_F(AppTest, StopIsPromptWithAnIdleKeepAliveConnection) {
  auto keep_alive = client();
  keep_alive.set_keep_alive(true);
  ASSERT_TRUE(keep_alive.Get("/healthz"));
  const auto begin = std::chrono::steady_clock::now();
  app_.stop();
  EXPECT_TRUE(app_.wait_stopped(2s));
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 1800ms);
}

TEST(HttpServer, PortInUseIsAClearListenError) {
  CapturedLog log;
  App first(loopback_port_zero(), log.logger);
  const auto taken = first.start();

  Config config = loopback_port_zero();
  config.listen = taken;
  App second(config, log.logger);
  try {
    second.start();
    FAIL() << "bound a port that is in use: " << taken.to_string();
  } catch (const api::ListenError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("cannot listen on " + taken.to_string()), std::string::npos)
        << message;
    EXPECT_NE(message.find("Address already in use"), std::string::npos) << message;
  }
  EXPECT_TRUE(second.stopped());
}

TEST(HttpServer, UnresolvableHostIsAClearListenError) {
  CapturedLog log;
  Config config = loopback_port_zero();
  config.listen = ListenAddress{"no-such-host.invalid", 0};
  App app(config, log.logger);
  try {
    app.start();
    FAIL() << "bound an unresolvable host";
  } catch (const api::ListenError& e) {
    EXPECT_NE(std::string(e.what()).find("cannot resolve \"no-such-host.invalid\""),
              std::string::npos)
        << e.what();
  }
}

TEST(HttpServer, InFlightRequestFinishesAfterStop) {
  CapturedLog log;
  std::promise<void> entered;
  std::atomic<bool> release{false};
  api::Router router;
  router.add(api::Method::get, "/slow", [&](const httplib::Request&, httplib::Response& res) {
    entered.set_value();
    while (!release) std::this_thread::sleep_for(1ms);
    api::set_json(res, 200, R"({"done":true})");
  });
  api::HttpServer server(router, log.logger, {});
  const auto bound = server.start({"127.0.0.1", 0});

  auto response = std::async(std::launch::async, [&] {
    return httplib::Client(bound.host, bound.port).Get("/slow");
  });
  entered.get_future().wait();
  server.stop();
  EXPECT_FALSE(server.wait_stopped(50ms)) << "stopped before the request finished";
  EXPECT_FALSE(httplib::Client(bound.host, bound.port).Get("/slow"))
      << "still accepting after stop()";
  release = true;
  auto res = response.get();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, R"({"done":true})");
  EXPECT_TRUE(server.wait_stopped(2s));
}

TEST(HttpServer, PostHandlerGetsAnEmptyBodyWithoutContentLength) {
  CapturedLog log;
  api::Router router;
  router.add(api::Method::post, "/in", [](const httplib::Request& req, httplib::Response& res) {
    api::set_json(res, 200, json{{"body_bytes", req.body.size()}}.dump());
  });
  api::HttpServer server(router, log.logger, {});
  const auto bound = server.start({"127.0.0.1", 0});
  const auto response = raw_exchange(
      bound.port, "POST /in HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(response.rfind("HTTP/1.1 200 ", 0), 0u) << response;
  EXPECT_NE(response.find(R"({"body_bytes":0})"), std::string::npos) << response;
}

TEST(HttpServer, HandlerExceptionIs500JsonAndLogged) {
  CapturedLog log;
  api::Router router;
  router.add(api::Method::get, "/boom", [](const httplib::Request&, httplib::Response& res) {
    res.set_header("X-Partial", "1");
    throw std::runtime_error("kaboom");
  });
  api::HttpServer server(router, log.logger, {});
  const auto bound = server.start({"127.0.0.1", 0});
  auto res = httplib::Client(bound.host, bound.port).Get("/boom");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 500);
  EXPECT_FALSE(res->has_header("X-Partial"));
  EXPECT_EQ(json::parse(res->body)["error"], "internal_error");
  EXPECT_EQ(res->body.find("kaboom"), std::string::npos) << "internals leaked to the client";
  server.stop();
  ASSERT_TRUE(server.wait_stopped(2s));
  bool logged = false;
  for (const auto& line : log.snapshot()) {
    logged |= line["level"] == "error" && line["error"] == "kaboom";
  }
  EXPECT_TRUE(logged);
}

TEST(HttpServer, OversizedBodyIs413Json) {
  CapturedLog log;
  api::Router router;
  router.add(api::Method::post, "/in", [](const httplib::Request&, httplib::Response& res) {
    api::set_json(res, 200, "{}");
  });
  api::HttpServer::Options options;
  options.max_body_bytes = 16;
  api::HttpServer server(router, log.logger, options);
  const auto bound = server.start({"127.0.0.1", 0});
  auto res = httplib::Client(bound.host, bound.port)
                 .Post("/in", std::string(1024, 'x'), "application/octet-stream");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 413);
  EXPECT_EQ(json::parse(res->body)["error"], "payload_too_large");
}

TEST(HttpServer, StopRightAfterStartDoesNotHang) {
  CapturedLog log;
  for (int i = 0; i < 20; ++i) {
    api::HttpServer server(api::Router{}, log.logger, {});
    server.start({"127.0.0.1", 0});
    server.stop();
    EXPECT_TRUE(server.wait_stopped(2s)) << "iteration " << i;
  }
}

TEST(HttpServer, NeverStartedCountsAsStopped) {
  CapturedLog log;
  api::HttpServer server(api::Router{}, log.logger, {});
  EXPECT_TRUE(server.stopped());
  server.stop();
}

}  // namespace
}  // namespace levqor::controld

namespace levqor::controld {
namespace {

// httplib would answer "br" with brotli at quality 11 (about a second for a
// large /metrics); the server must fall back to gzip or no compression.
TEST(HttpServer, NeverAnswersWithBrotli) {
  testing::CapturedLog log;
  api::Router router;
  router.add(api::Method::get, "/text", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(std::string(100000, 'x'), "text/plain");
  });
  api::HttpServer server(router, log.logger, {});
  const auto bound = server.start({"127.0.0.1", 0});
  for (const auto& [accept, expected] :
       std::vector<std::pair<std::string, std::string>>{{"br", ""},
                                                        {"br, gzip", "gzip"},
                                                        {"gzip;q=1.0, br;q=0.9", "gzip"},
                                                        {"deflate, br", ""}}) {
    httplib::Client client(bound.host, bound.port);
    client.set_decompress(false);
    auto res = client.Get("/text", {{"Accept-Encoding", accept}});
    ASSERT_TRUE(res) << accept;
    EXPECT_EQ(res->get_header_value("Content-Encoding"), expected) << accept;
  }
}

}  // namespace
}  // namespace levqor::controld
