// SPDX-License-Identifier: Apache-2.0
// HttpServer and App in-process: each test binds 127.0.0.1 port 0 and asks
// which port it got, so tests can run in parallel.
#include "levqor/controld/api/http_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "levqor/controld/api/errors.h"
#include "levqor/controld/app.h"
#include "levqor/controld/core/unique_fd.h"
#include "levqor/controld/version.h"
#include "raw_client.h"
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
    if (::send(fd.get(), request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) {
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
        EXPECT_EQ(body["message"], std::string(method) + " is not allowed on /healthz; allowed: GET, HEAD, OPTIONS");
    }
}

TEST_F(AppTest, BodylessPostWithoutContentLengthIsAnsweredAtOnce) {
    // curl -X POST sends neither Content-Length nor Transfer-Encoding.
    const auto begin = std::chrono::steady_clock::now();
    const auto response =
        raw_exchange(bound_.port, "POST /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
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
        EXPECT_NE(message.find("cannot listen on " + taken.to_string()), std::string::npos) << message;
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
        EXPECT_NE(std::string(e.what()).find("cannot resolve \"no-such-host.invalid\""), std::string::npos) << e.what();
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

    auto response =
        std::async(std::launch::async, [&] { return httplib::Client(bound.host, bound.port).Get("/slow"); });
    entered.get_future().wait();
    server.stop();
    EXPECT_FALSE(server.wait_stopped(50ms)) << "stopped before the request finished";
    EXPECT_FALSE(httplib::Client(bound.host, bound.port).Get("/slow")) << "still accepting after stop()";
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
    const auto response = raw_exchange(bound.port, "POST /in HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
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
    router.add(api::Method::post, "/in",
               [](const httplib::Request&, httplib::Response& res) { api::set_json(res, 200, "{}"); });
    api::HttpServer::Options options;
    options.limits.max_body_bytes = 16;
    api::HttpServer server(router, log.logger, options);
    const auto bound = server.start({"127.0.0.1", 0});
    auto res = httplib::Client(bound.host, bound.port).Post("/in", std::string(1024, 'x'), "application/octet-stream");
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
    for (const auto& [accept, expected] : std::vector<std::pair<std::string, std::string>>{
             {"br", ""}, {"br, gzip", "gzip"}, {"gzip;q=1.0, br;q=0.9", "gzip"}, {"deflate, br", ""}}) {
        httplib::Client client(bound.host, bound.port);
        client.set_decompress(false);
        auto res = client.Get("/text", {{"Accept-Encoding", accept}});
        ASSERT_TRUE(res) << accept;
        EXPECT_EQ(res->get_header_value("Content-Encoding"), expected) << accept;
    }
}

}  // namespace
}  // namespace levqor::controld

// ---- the front: limits, deadlines, caps (M1) ----------------------------------
// Each test runs a real HttpServer on 127.0.0.1 port 0 and talks to it over
// a raw socket, so it sees exactly what the front sends and when it closes.

namespace levqor::controld {
namespace {

using testing::RawClient;

constexpr auto kPrompt = 2s;  // generous bound for "answered at once"

// Routes for the front's tests; `calls` counts handler runs.
struct FrontRoutes {
    std::atomic<int> calls{0};
    std::atomic<bool> release{false};
    std::atomic<int> waiting{0};
    api::Router router() {
        api::Router r;
        r.add(api::Method::post, "/echo", [this](const httplib::Request& req, httplib::Response& res) {
            ++calls;
            api::set_json(res, 200, json{{"body", req.body}}.dump());
        });
        r.add(api::Method::get, "/hello", [this](const httplib::Request& req, httplib::Response& res) {
            ++calls;
            api::set_json(res, 200, json{{"hello", req.get_param_value("who")}}.dump());
        });
        r.add(api::Method::get, "/big", [this](const httplib::Request&, httplib::Response& res) {
            ++calls;
            res.set_content(std::string(8 * 1024 * 1024, 'x'), "application/octet-stream");
        });
        r.add(api::Method::get, "/block", [this](const httplib::Request&, httplib::Response& res) {
            ++calls;
            ++waiting;
            while (!release) std::this_thread::sleep_for(1ms);
            api::set_json(res, 200, "{}");
        });
        return r;
    }
};

// Only "Bearer admin-token" is the admin; "Bearer producer-token" is
// authenticated; everything else is anonymous.
api::Caller test_classifier(const httplib::Request& req) {
    const auto auth = req.get_header_value("Authorization");
    if (auth == "Bearer admin-token") return api::Caller::admin;
    if (auth == "Bearer producer-token") return api::Caller::authenticated;
    return api::Caller::anonymous;
}

class Front : public ::testing::Test {
protected:
    void start(api::HttpServer::Options options = {}) {
        server_ = std::make_unique<api::HttpServer>(routes_.router(), log_.logger, std::move(options));
        port_ = server_->start({"127.0.0.1", 0}).port;
    }
    void TearDown() override {
        routes_.release = true;
        if (server_) {
            server_->stop();
            EXPECT_TRUE(server_->wait_stopped(5s));
        }
    }
    static std::string status_line(const std::string& response) { return response.substr(0, response.find("\r\n")); }
    static json body_of(const std::string& response) {
        const auto start = response.find("\r\n\r\n");
        return start == std::string::npos ? json() : json::parse(response.substr(start + 4), nullptr, false);
    }

    CapturedLog log_;
    FrontRoutes routes_;
    std::unique_ptr<api::HttpServer> server_;
    std::uint16_t port_ = 0;
};

TEST_F(Front, ChunkedBodyPastTheLimitIs413AndClosedWithoutReadingOn) {
    api::HttpServer::Options options;
    options.limits.max_body_bytes = 64 * 1024;
    start(options);
    RawClient client(port_);
    ASSERT_TRUE(
        client.send("POST /echo HTTP/1.1\r\nHost: localhost\r\n"
                    "Transfer-Encoding: chunked\r\n\r\n"));
    // 4 KiB chunks, each within the limit, without end: the decoded total
    // passes 64 KiB after 17 of them.
    const std::string chunk = "1000\r\n" + std::string(4096, 'A') + "\r\n";
    const std::size_t sent = client.flood(chunk, 256 * 1024 * 1024, 5s);
    EXPECT_TRUE(client.closed()) << "still reading after " << sent << " bytes";
    // The front stops reading at the limit; what the kernel buffers and the
    // linger discards (at most 1 MiB) is all a client gets to send.
    EXPECT_LT(sent, 32u * 1024 * 1024);
    EXPECT_EQ(status_line(client.received()), "HTTP/1.1 413 Payload Too Large") << client.received();
    EXPECT_EQ(body_of(client.received())["error"], "payload_too_large");
    EXPECT_EQ(routes_.calls, 0);
}

TEST_F(Front, OneChunkDeclaredPastTheLimitIs413BeforeItsData) {
    api::HttpServer::Options options;
    options.limits.max_body_bytes = 1024;
    start(options);
    RawClient client(port_);
    ASSERT_TRUE(
        client.send("POST /echo HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "401\r\n"));  // 1025 bytes announced, none sent
    ASSERT_TRUE(client.receive_until_closed(kPrompt));
    EXPECT_EQ(status_line(client.received()), "HTTP/1.1 413 Payload Too Large");
    EXPECT_NE(client.received().find("Connection: close\r\n"), std::string::npos);
}

TEST_F(Front, ContentLengthPastTheLimitIs413WithoutContinue) {
    api::HttpServer::Options options;
    options.limits.max_body_bytes = 1024;
    start(options);
    RawClient client(port_);
    ASSERT_TRUE(
        client.send("POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1025\r\n"
                    "Expect: 100-continue\r\n\r\n"));
    ASSERT_TRUE(client.receive_until_closed(kPrompt));
    EXPECT_EQ(status_line(client.received()), "HTTP/1.1 413 Payload Too Large");
    EXPECT_EQ(client.received().find("100 Continue"), std::string::npos);
}

TEST_F(Front, ChunkedBodyWithinTheLimitIsDecoded) {
    start();
    RawClient client(port_);
    ASSERT_TRUE(
        client.send("POST /echo HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n"
                    "Connection: close\r\n\r\n"
                    "5;ext=1\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nX-Trailer: t\r\n\r\n"));
    ASSERT_TRUE(client.receive_until_closed(kPrompt));
    EXPECT_EQ(status_line(client.received()), "HTTP/1.1 200 OK");
    EXPECT_EQ(body_of(client.received())["body"], "hello world");
}

TEST_F(Front, ExpectContinueIsAnsweredThenTheBodyRead) {
    start();
    RawClient client(port_);
    ASSERT_TRUE(
        client.send("POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\n"
                    "Expect: 100-continue\r\nConnection: close\r\n\r\n"));
    ASSERT_TRUE(client.receive_until("HTTP/1.1 100 Continue\r\n\r\n", kPrompt));
    ASSERT_TRUE(client.send("ok"));
    ASSERT_TRUE(client.receive_until_closed(kPrompt));
    EXPECT_NE(client.received().find("HTTP/1.1 200 OK"), std::string::npos);
    EXPECT_NE(client.received().find(R"({"body":"ok"})"), std::string::npos);
}

TEST_F(Front, CompressedBodiesAre415) {
    start();
    for (const char* coding : {"gzip", "br", "deflate", "identity, gzip"}) {
        RawClient client(port_);
        ASSERT_TRUE(client.send(std::string("POST /echo HTTP/1.1\r\nHost: localhost\r\n") +
                                "Content-Encoding: " + coding + "\r\nContent-Length: 4\r\n\r\nabcd"));
        ASSERT_TRUE(client.receive_until_closed(kPrompt)) << coding;
        EXPECT_EQ(status_line(client.received()), "HTTP/1.1 415 Unsupported Media Type") << coding;
        EXPECT_EQ(body_of(client.received())["error"], "unsupported_media_type") << coding;
    }
    EXPECT_EQ(routes_.calls, 0);
}

TEST_F(Front, HugeRequestLineIs414AtOnce) {
    start();
    RawClient client(port_);
    const auto begin = std::chrono::steady_clock::now();
    // 100 KB of request line and no line end: the front answers once 8 KiB
    // have arrived, without waiting for the rest.
    ASSERT_TRUE(client.send("GET /" + std::string(100 * 1000, 'a')));
    ASSERT_TRUE(client.receive_until_closed(kPrompt));
    EXPECT_LT(std::chrono::steady_clock::now() - begin, kPrompt);
    EXPECT_EQ(status_line(client.received()), "HTTP/1.1 414 URI Too Long");
    EXPECT_EQ(body_of(client.received())["error"], "uri_too_long");
}

TEST_F(Front, ThousandHeadersAre431) {
    start();
    RawClient client(port_);
    std::string request = "GET /hello HTTP/1.1\r\nHost: localhost\r\n";
    for (int i = 0; i < 1000; ++i) request += "X-H" + std::to_string(i) + ": v\r\n";
    ASSERT_TRUE(client.send(request + "\r\n"));
    ASSERT_TRUE(client.receive_until_closed(kPrompt));
    EXPECT_EQ(status_line(client.received()), "HTTP/1.1 431 Request Header Fields Too Large");
    EXPECT_EQ(body_of(client.received())["error"], "request_header_fields_too_large");
    EXPECT_EQ(routes_.calls, 0);
}

TEST_F(Front, OneEndlessHeaderLineIs431) {
    start();
    RawClient client(port_);
    ASSERT_TRUE(client.send("GET /hello HTTP/1.1\r\nHost: localhost\r\nX-Big: " + std::string(100 * 1000, 'b')));
    ASSERT_TRUE(client.receive_until_closed(kPrompt));
    EXPECT_EQ(status_line(client.received()), "HTTP/1.1 431 Request Header Fields Too Large");
}

TEST_F(Front, HalfAHeaderLineIsCutOffAtTheHeaderDeadline) {
    api::HttpServer::Options options;
    options.header_timeout = 300ms;
    start(options);
    RawClient client(port_);
    const auto begin = std::chrono::steady_clock::now();
    ASSERT_TRUE(client.send("GET /hello HTTP/1.1\r\nHost: loc"));
    ASSERT_TRUE(client.receive_until_closed(5s));
    const auto took = std::chrono::steady_clock::now() - begin;
    EXPECT_GE(took, 250ms);
    EXPECT_LT(took, 3s);
    EXPECT_EQ(status_line(client.received()), "HTTP/1.1 408 Request Timeout");
}

TEST_F(Front, TricklingBytesDoesNotExtendTheHeaderDeadline) {
    api::HttpServer::Options options;
    options.header_timeout = 400ms;
    start(options);
    RawClient client(port_);
    const auto begin = std::chrono::steady_clock::now();
    ASSERT_TRUE(client.send("GET /hello HTTP/1.1\r\n"));
    for (int i = 0; i < 30 && !client.closed(); ++i) {
        client.send("X");  // one byte every 50 ms, never a line end
        client.receive_until_closed(50ms);
    }
    EXPECT_TRUE(client.closed());
    EXPECT_LT(std::chrono::steady_clock::now() - begin, 1200ms);
    EXPECT_EQ(status_line(client.received()), "HTTP/1.1 408 Request Timeout");
}

TEST_F(Front, ASilentConnectionIsClosedAtTheHeaderDeadline) {
    api::HttpServer::Options options;
    options.header_timeout = 200ms;
    start(options);
    RawClient client(port_);
    ASSERT_TRUE(client.receive_until_closed(3s));
    EXPECT_EQ(client.received(), "");
}

TEST_F(Front, StalledBodyIs408) {
    api::HttpServer::Options options;
    options.read_timeout = 200ms;
    start(options);
    RawClient client(port_);
    ASSERT_TRUE(client.send("POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10\r\n\r\nabc"));
    ASSERT_TRUE(client.receive_until_closed(3s));
    EXPECT_EQ(status_line(client.received()), "HTTP/1.1 408 Request Timeout");
    EXPECT_EQ(routes_.calls, 0);
}

TEST_F(Front, AmbiguousFramingIsRefused) {
    start();
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"Content-Length: 3\r\nTransfer-Encoding: chunked\r\n", "HTTP/1.1 400 Bad Request"},
        {"Transfer-Encoding: gzip, chunked\r\n", "HTTP/1.1 501 Not Implemented"},
        {"Content-Length: 3\r\nContent-Length: 4\r\n", "HTTP/1.1 400 Bad Request"},
        {"Content-Length: -1\r\n", "HTTP/1.1 400 Bad Request"},
        {"X-Folded: a\r\n b\r\n", "HTTP/1.1 400 Bad Request"},
        {"Bad Name: x\r\n", "HTTP/1.1 400 Bad Request"},
        {"Expect: something\r\n", "HTTP/1.1 417 Expectation Failed"},
    };
    for (const auto& [headers, expected] : cases) {
        RawClient client(port_);
        ASSERT_TRUE(client.send("POST /echo HTTP/1.1\r\nHost: localhost\r\n" + headers + "\r\nabc"));
        ASSERT_TRUE(client.receive_until_closed(kPrompt)) << headers;
        EXPECT_EQ(status_line(client.received()), expected) << headers;
    }
    RawClient no_host(port_);
    ASSERT_TRUE(no_host.send("GET /hello HTTP/1.1\r\n\r\n"));
    ASSERT_TRUE(no_host.receive_until_closed(kPrompt));
    EXPECT_EQ(status_line(no_host.received()), "HTTP/1.1 400 Bad Request");
    RawClient http2(port_);
    ASSERT_TRUE(http2.send("GET /hello HTTP/2.0\r\nHost: localhost\r\n\r\n"));
    ASSERT_TRUE(http2.receive_until_closed(kPrompt));
    EXPECT_EQ(status_line(http2.received()), "HTTP/1.1 505 HTTP Version Not Supported");
    EXPECT_EQ(routes_.calls, 0);
}

TEST_F(Front, KeepAliveAnswersSeveralRequestsOnOneConnection) {
    start();
    RawClient client(port_);
    // Two pipelined requests, then a third after the answers.
    ASSERT_TRUE(
        client.send("GET /hello?who=a HTTP/1.1\r\nHost: localhost\r\n\r\n"
                    "GET /hello?who=b+c HTTP/1.1\r\nHost: localhost\r\n\r\n"));
    ASSERT_TRUE(client.receive_until(R"({"hello":"b c"})", kPrompt)) << client.received();
    EXPECT_NE(client.received().find(R"({"hello":"a"})"), std::string::npos);
    EXPECT_NE(client.received().find("Connection: keep-alive\r\n"), std::string::npos);
    ASSERT_TRUE(client.send("GET /hello?who=%64 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"));
    ASSERT_TRUE(client.receive_until_closed(kPrompt));
    EXPECT_NE(client.received().find(R"({"hello":"d"})"), std::string::npos);
    EXPECT_EQ(routes_.calls, 3);
}

TEST_F(Front, Http10ClosesUnlessAskedToKeepAlive) {
    start();
    RawClient client(port_);
    ASSERT_TRUE(client.send("GET /hello HTTP/1.0\r\n\r\n"));  // no Host needed in 1.0
    ASSERT_TRUE(client.receive_until_closed(kPrompt));
    EXPECT_EQ(status_line(client.received()), "HTTP/1.1 200 OK");
    EXPECT_NE(client.received().find("Connection: close\r\n"), std::string::npos);

    RawClient kept(port_);
    ASSERT_TRUE(kept.send("GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
    ASSERT_TRUE(kept.receive_until(R"({"hello":""})", kPrompt));
    EXPECT_NE(kept.received().find("Connection: keep-alive\r\n"), std::string::npos);
    EXPECT_FALSE(kept.closed());
}

TEST_F(Front, IdleKeepAliveConnectionIsClosed) {
    api::HttpServer::Options options;
    options.keep_alive_timeout = 200ms;
    start(options);
    RawClient client(port_);
    ASSERT_TRUE(client.send("GET /hello HTTP/1.1\r\nHost: localhost\r\n\r\n"));
    ASSERT_TRUE(client.receive_until(R"({"hello":""})", kPrompt));
    EXPECT_TRUE(client.receive_until_closed(3s));
}

TEST_F(Front, UnknownHostIs421AndAllowedHostsAreServed) {
    api::HttpServer::Options options;
    options.allowed_hosts = {"controld.internal", "[fd00::1]"};
    start(options);
    const auto status_for = [&](const std::string& host) {
        RawClient client(port_);
        client.send("GET /hello HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n");
        client.receive_until_closed(kPrompt);
        return status_line(client.received());
    };
    for (const char* host :
         {"attacker.example", "attacker.example:", "localhost.evil", "127.0.0.2", "[::2]:80", "a b"}) {
        EXPECT_EQ(status_for(host), "HTTP/1.1 421 Misdirected Request") << host;
    }
    for (const std::string& host : std::vector<std::string>{
             "localhost", "LOCALHOST:8089", "localhost.", "127.0.0.1", "127.0.0.1:" + std::to_string(port_), "[::1]:1",
             "controld.internal", "Controld.Internal:443", "[fd00::1]"}) {
        EXPECT_EQ(status_for(host), "HTTP/1.1 200 OK") << host;
    }
    RawClient client(port_);
    client.send("GET /hello HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n");
    client.receive_until_closed(kPrompt);
    EXPECT_EQ(body_of(client.received())["error"], "misdirected_request");
}

TEST_F(Front, AnonymousBodyIs401BeforeItIsRead) {
    api::HttpServer::Options options;
    options.classify = test_classifier;
    start(options);
    RawClient anonymous(port_);
    ASSERT_TRUE(anonymous.send("POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100000\r\n\r\n"));
    ASSERT_TRUE(anonymous.receive_until_closed(kPrompt));
    EXPECT_EQ(status_line(anonymous.received()), "HTTP/1.1 401 Unauthorized");
    EXPECT_NE(anonymous.received().find("WWW-Authenticate: Bearer"), std::string::npos);
    EXPECT_EQ(routes_.calls, 0);

    RawClient producer(port_);
    ASSERT_TRUE(
        producer.send("POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\n"
                      "Authorization: Bearer producer-token\r\nConnection: close\r\n\r\nhi"));
    ASSERT_TRUE(producer.receive_until_closed(kPrompt));
    EXPECT_EQ(status_line(producer.received()), "HTTP/1.1 200 OK");
    // Without a body, an anonymous request goes on to the route (whose guard
    // decides).
    RawClient get(port_);
    ASSERT_TRUE(get.send("GET /hello HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"));
    ASSERT_TRUE(get.receive_until_closed(kPrompt));
    EXPECT_EQ(status_line(get.received()), "HTTP/1.1 200 OK");
}

TEST_F(Front, SlowClientsAreEvictedOldestFirstSoTheAdminGetsIn) {
    api::HttpServer::Options options;
    options.classify = test_classifier;
    options.max_unauthenticated_connections = 4;
    std::atomic<int> evicted{0};
    options.on_dropped = [&](std::string_view reason) { evicted += reason == "evicted"; };
    start(options);
    std::vector<std::unique_ptr<RawClient>> slow;
    for (int i = 0; i < 4; ++i) {
        slow.push_back(std::make_unique<RawClient>(port_));
        ASSERT_TRUE(slow.back()->send("GET /hello HTTP/1.1\r\nHost: loc"));  // and never more
    }
    // Let the front see all four before the admin connects.
    ASSERT_FALSE(slow.back()->receive_until_closed(100ms));
    RawClient admin(port_);
    ASSERT_TRUE(
        admin.send("GET /hello HTTP/1.1\r\nHost: localhost\r\n"
                   "Authorization: Bearer admin-token\r\nConnection: close\r\n\r\n"));
    ASSERT_TRUE(admin.receive_until_closed(kPrompt));
    EXPECT_EQ(status_line(admin.received()), "HTTP/1.1 200 OK");
    EXPECT_TRUE(slow.front()->receive_until_closed(kPrompt)) << "the oldest slow client is closed";
    EXPECT_FALSE(slow.back()->receive_until_closed(50ms)) << "the newest slow client stays";
    EXPECT_EQ(evicted, 1);
}

TEST_F(Front, NoRoomAndNothingToEvictRefusesTheNewConnection) {
    api::HttpServer::Options options;
    options.classify = test_classifier;
    options.max_connections = 16;
    options.max_unauthenticated_connections = 16;
    start(options);
    // Sixteen authenticated keep-alive connections fill the server.
    std::vector<std::unique_ptr<RawClient>> kept;
    for (int i = 0; i < 16; ++i) {
        kept.push_back(std::make_unique<RawClient>(port_));
        ASSERT_TRUE(
            kept.back()->send("GET /hello HTTP/1.1\r\nHost: localhost\r\n"
                              "Authorization: Bearer producer-token\r\n\r\n"));
        ASSERT_TRUE(kept.back()->receive_until(R"({"hello":""})", kPrompt));
    }
    RawClient extra(port_);
    ASSERT_TRUE(extra.receive_until_closed(kPrompt));
    EXPECT_EQ(extra.received(), "");
    EXPECT_FALSE(kept.front()->receive_until_closed(50ms));
}

TEST_F(Front, AdminRequestsHaveTheirOwnThreads) {
    api::HttpServer::Options options;
    options.classify = test_classifier;
    options.worker_threads = 1;
    start(options);
    RawClient busy(port_);  // takes the only general worker
    ASSERT_TRUE(busy.send("GET /block HTTP/1.1\r\nHost: localhost\r\n\r\n"));
    while (routes_.waiting == 0) std::this_thread::sleep_for(1ms);
    RawClient admin(port_);
    ASSERT_TRUE(
        admin.send("GET /hello HTTP/1.1\r\nHost: localhost\r\n"
                   "Authorization: Bearer admin-token\r\nConnection: close\r\n\r\n"));
    ASSERT_TRUE(admin.receive_until_closed(kPrompt));
    EXPECT_EQ(status_line(admin.received()), "HTTP/1.1 200 OK");
    routes_.release = true;
    ASSERT_TRUE(busy.receive_until("{}", kPrompt));
}

TEST_F(Front, AClientThatDoesNotReadHoldsNoThread) {
    api::HttpServer::Options options;
    options.worker_threads = 1;
    start(options);
    RawClient stuck(port_);  // asks for 8 MiB and never reads
    ASSERT_TRUE(stuck.send("GET /big HTTP/1.1\r\nHost: localhost\r\n\r\n"));
    RawClient next(port_);
    ASSERT_TRUE(next.send("GET /hello HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"));
    ASSERT_TRUE(next.receive_until_closed(kPrompt));
    EXPECT_EQ(status_line(next.received()), "HTTP/1.1 200 OK");
}

TEST_F(Front, SocketsAreCloseOnExec) {
    start();
    RawClient client(port_);
    ASSERT_TRUE(client.send("GET /hello HTTP/1.1\r\nHost: localhost\r\n\r\n"));
    ASSERT_TRUE(client.receive_until(R"({"hello":""})", kPrompt));
    // Every socket of this process whose own port is the server's: the
    // listener and the accepted connection.
    int checked = 0;
    for (int fd = 0; fd < 4096; ++fd) {
        sockaddr_in addr{};
        socklen_t len = sizeof addr;
        if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0 || addr.sin_family != AF_INET ||
            ntohs(addr.sin_port) != port_) {
            continue;
        }
        ++checked;
        EXPECT_TRUE(::fcntl(fd, F_GETFD) & FD_CLOEXEC) << "fd " << fd;
    }
    EXPECT_EQ(checked, 2);
}

TEST_F(Front, StopAnswersTheRequestInFlightWithConnectionClose) {
    start();
    RawClient client(port_);
    ASSERT_TRUE(client.send("GET /block HTTP/1.1\r\nHost: localhost\r\n\r\n"));
    while (routes_.waiting == 0) std::this_thread::sleep_for(1ms);
    RawClient idle(port_);
    ASSERT_TRUE(idle.send("GET /hello HTTP/1.1\r\nHost: localhost\r\n\r\n"));
    ASSERT_TRUE(idle.receive_until(R"({"hello":""})", kPrompt));
    server_->stop();
    EXPECT_TRUE(idle.receive_until_closed(kPrompt)) << "idle keep-alive connections are closed";
    EXPECT_FALSE(server_->stopped());
    routes_.release = true;
    ASSERT_TRUE(client.receive_until_closed(kPrompt));
    EXPECT_EQ(status_line(client.received()), "HTTP/1.1 200 OK");
    EXPECT_NE(client.received().find("Connection: close\r\n"), std::string::npos);
    EXPECT_TRUE(server_->wait_stopped(kPrompt));
}

TEST_F(Front, StopWaitsForAHandlerWhoseClientLeft) {
    start();
    {
        RawClient client(port_);
        ASSERT_TRUE(client.send("GET /block HTTP/1.1\r\nHost: localhost\r\n\r\n"));
        while (routes_.waiting == 0) std::this_thread::sleep_for(1ms);
        const linger reset{1, 0};  // close with a reset: the front sees the client go
        ::setsockopt(client.fd(), SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
    }
    std::this_thread::sleep_for(50ms);
    server_->stop();
    EXPECT_FALSE(server_->wait_stopped(100ms)) << "stopped while a handler still ran";
    routes_.release = true;
    EXPECT_TRUE(server_->wait_stopped(kPrompt));
}

TEST_F(Front, RefusalsAreLoggedAndReported) {
    api::HttpServer::Options options;
    std::vector<int> statuses;
    std::mutex mutex;
    options.on_response = [&](const httplib::Request&, const httplib::Response& res) {
        std::lock_guard<std::mutex> lock(mutex);
        statuses.push_back(res.status);
    };
    start(options);
    RawClient client(port_);
    ASSERT_TRUE(client.send("GET /" + std::string(9000, 'a') + " HTTP/1.1\r\n"));
    ASSERT_TRUE(client.receive_until_closed(kPrompt));
    server_->stop();
    ASSERT_TRUE(server_->wait_stopped(kPrompt));
    EXPECT_EQ(statuses, std::vector<int>{414});
    bool logged = false;
    for (const auto& line : log_.snapshot()) logged |= line["msg"] == "request" && line["status"] == 414;
    EXPECT_TRUE(logged);
}

}  // namespace
}  // namespace levqor::controld
