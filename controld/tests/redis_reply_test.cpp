// SPDX-License-Identifier: Apache-2.0
// L14: every Redis reply controld reads is shape-checked. A real
// redis-server cannot send odd shapes, so these tests build replies with
// hiredis's own RESP reader, and run the Redis backend against FakeRedis, a
// tiny RESP server that answers what each test scripts (a misbehaving peer:
// a proxy, another RESP server). Before the checks, the odd XREADGROUP and
// XRANGE replies below made controld dereference null (SIGSEGV).
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "levqor/controld/queue/redis_backend.h"
#include "levqor/controld/queue/redis_reply.h"
#include "test_support.h"

namespace levqor::controld::queue {
namespace {

using namespace std::chrono_literals;
using testing::CapturedLog;
using testing::TempDir;

// ---- replies built from RESP text ------------------------------------------------

net::RedisReply resp(const std::string& raw) {
    redisReader* reader = redisReaderCreate();
    redisReaderFeed(reader, raw.data(), raw.size());
    void* reply = nullptr;
    const int status = redisReaderGetReply(reader, &reply);
    redisReaderFree(reader);
    EXPECT_EQ(status, REDIS_OK) << raw;
    EXPECT_NE(reply, nullptr) << "incomplete RESP: " << raw;
    return net::RedisReply(static_cast<redisReply*>(reply));
}

std::string bulk(const std::string& s) { return "$" + std::to_string(s.size()) + "\r\n" + s + "\r\n"; }

std::string array(const std::vector<std::string>& items) {
    std::string out = "*" + std::to_string(items.size()) + "\r\n";
    for (const auto& item : items) out += item;
    return out;
}

std::string entry(const std::string& sid, const std::vector<std::string>& fields) {
    std::vector<std::string> items;
    for (const auto& f : fields) items.push_back(bulk(f));
    return array({bulk(sid), array(items)});
}

std::string read_reply(const std::vector<std::string>& entries) {
    return array({array({bulk("levqor:jobs"), array(entries)})});
}

std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const BackendError& e) {
        return e.what();
    }
    return "no error";
}

TEST(RedisReplies, AWellFormedReadGivesTheDeliveries) {
    const auto reply = resp(
        read_reply({entry("1-1", {"id", "a1", "type", "noop", "payload", "{}", "attempt", "2", "redeliveries", "1"}),
                    entry("1-2", {"id", "a2", "type", "http", "payload", "{\"u\":1}", "attempt", "1"})}));
    const auto got = parse_stream_read(reply.get());
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0].token, "1-1");
    EXPECT_EQ(got[0].id, "a1");
    EXPECT_EQ(got[0].attempt, 2);
    EXPECT_EQ(got[0].redeliveries, 1);
    EXPECT_EQ(got[1].payload, "{\"u\":1}");
    EXPECT_EQ(got[1].redeliveries, 0);
    EXPECT_TRUE(parse_stream_read(resp("*-1\r\n").get()).empty());  // BLOCK ran out
    EXPECT_TRUE(parse_stream_read(resp("$-1\r\n").get()).empty());
}

TEST(RedisReplies, OddReadRepliesAreErrorsThatSayWhatCame) {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {":1\r\n", "expected an array of 1, got an integer"},
        {"*1\r\n$3\r\nfoo\r\n", "expected an array of 2, got a string"},
        {"*1\r\n*1\r\n$11\r\nlevqor:jobs\r\n", "expected an array of 2, got an array of 1"},
        {"*2\r\n*0\r\n*0\r\n", "expected an array of 1, got an array of 2"},
        {array({array({bulk("levqor:jobs"), ":7\r\n"})}), "expected an array, got an integer"},
        {read_reply({bulk("1-1")}), "expected an array of 2, got a string"},
        {read_reply({array({bulk("1-1")})}), "expected an array of 2, got an array of 1"},
        {read_reply({array({":1\r\n", array({})})}), "expected a string, got an integer"},
        {read_reply({array({bulk("1-1"), "$-1\r\n"})}), "expected an array, got nil"},
        {read_reply({entry("1-1", {"id", "a", "type"})}), "field, value pairs"},
        {read_reply({array({bulk("1-1"), array({bulk("id"), "$-1\r\n"})})}), "string fields and values, got nil"},
        {read_reply({entry("1-1", {"id", "a", "type", "noop", "payload", "{}"})}), "lacks one of the fields"},
        {read_reply({entry("1-1", {"id", "a", "type", "noop", "payload", "{}", "attempt", "x"})}),
         "\"attempt\" is not a count"},
        {"-ERR something broke\r\n", "got an error (ERR something broke)"},
    };
    for (const auto& [raw, expected] : cases) {
        const auto reply = resp(raw);
        const auto why = error_of([&] { parse_stream_read(reply.get()); });
        EXPECT_NE(why.find("XREADGROUP"), std::string::npos) << raw << " -> " << why;
        EXPECT_NE(why.find(expected), std::string::npos) << raw << " -> " << why;
    }
    EXPECT_NE(error_of([] { parse_stream_read(nullptr); }).find("got nothing"), std::string::npos);
}

TEST(RedisReplies, ScalarsMapsAndElements) {
    EXPECT_EQ(expect_integer(resp(":42\r\n").get(), "X"), 42);
    EXPECT_EQ(expect_integer(resp("$2\r\n42\r\n").get(), "X"), 42);  // Lua's tostring()
    EXPECT_NE(
        error_of([] { expect_integer(resp("$3\r\n4x2\r\n").get(), "X"); }).find("X: expected an integer, got a string"),
        std::string::npos);
    EXPECT_NE(error_of([] { expect_integer(resp("*0\r\n").get(), "X"); }).find("an array of 0"), std::string::npos);
    EXPECT_EQ(expect_string(resp("+OK\r\n").get(), "X"), "OK");
    const auto map = expect_map(
        resp(array({bulk("name"), bulk("workers"), bulk("lag"), "$-1\r\n", bulk("pending"), ":3\r\n"})).get(),
        "XINFO GROUPS");
    EXPECT_EQ(map.at("name"), "workers");
    EXPECT_EQ(map.at("lag"), "");
    EXPECT_EQ(map.at("pending"), "3");
    EXPECT_NE(error_of([] {
                  expect_map(resp(array({bulk("a")})).get(), "HGETALL");
              }).find("HGETALL: expected an array of field, value pairs"),
              std::string::npos);
    EXPECT_NE(error_of([] {
                  expect_map(resp(array({":1\r\n", bulk("v")})).get(), "HGETALL");
              }).find("expected a string, got an integer"),
              std::string::npos);
    const auto two = resp(array({":1\r\n", ":2\r\n"}));
    EXPECT_NE(error_of([&] { element_of(*two, 2, "X"); }).find("element 2 missing"), std::string::npos);
}

// ---- the backend against a misbehaving RESP server ------------------------------

// Listens on 127.0.0.1 (port 0), one thread per connection; answers each
// command with answer(command) (raw RESP), or "+OK" for connection set-up
// commands (XGROUP, AUTH, SELECT, PING) when answer() returns "".
class FakeRedis {
public:
    using Answer = std::function<std::string(const std::vector<std::string>&)>;

    explicit FakeRedis(Answer answer) : answer_(std::move(answer)) {
        listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof addr;
        if (::bind(listener_, reinterpret_cast<sockaddr*>(&addr), len) != 0 || ::listen(listener_, 16) != 0 ||
            ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
            ADD_FAILURE() << "FakeRedis: cannot listen";
        }
        port_ = ntohs(addr.sin_port);
        acceptor_ = std::thread([this] { accept_loop(); });
    }
    ~FakeRedis() {
        stopping_ = true;
        acceptor_.join();
        {
            std::lock_guard<std::mutex> lock(mutex_);
            for (int fd : clients_) ::shutdown(fd, SHUT_RDWR);
        }
        for (auto& t : connections_) t.join();
        for (int fd : clients_) ::close(fd);
        ::close(listener_);
    }
    FakeRedis(const FakeRedis&) = delete;
    FakeRedis& operator=(const FakeRedis&) = delete;

    RedisUrl url() const {
        RedisUrl u;
        u.hosts = {{"127.0.0.1", port_}};
        return u;
    }

private:
    void accept_loop() {
        while (!stopping_) {
            pollfd p{listener_, POLLIN, 0};
            if (::poll(&p, 1, 20) <= 0) continue;
            const int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
            if (fd < 0) continue;
            std::lock_guard<std::mutex> lock(mutex_);
            clients_.push_back(fd);
            connections_.emplace_back([this, fd] { serve(fd); });
        }
    }

    void serve(int fd) {
        std::string in;
        char buf[4096];
        for (;;) {
            std::vector<std::string> command;
            std::size_t used = 0;
            while (!parse(in, command, used)) {
                const auto n = ::recv(fd, buf, sizeof buf, 0);
                if (n <= 0) return;
                in.append(buf, static_cast<std::size_t>(n));
            }
            in.erase(0, used);
            auto reply = answer_(command);
            if (reply.empty()) reply = "+OK\r\n";
            if (::send(fd, reply.data(), reply.size(), MSG_NOSIGNAL) < 0) return;
        }
    }

    // One RESP array of bulk strings (what hiredis sends) from `in`.
    static bool parse(const std::string& in, std::vector<std::string>& out, std::size_t& used) {
        out.clear();
        std::size_t pos = 0;
        const auto line = [&](std::string& text) {
            const auto end = in.find("\r\n", pos);
            if (end == std::string::npos) return false;
            text = in.substr(pos, end - pos);
            pos = end + 2;
            return true;
        };
        std::string header;
        if (!line(header) || header.empty() || header[0] != '*') return false;
        const auto count = std::stoul(header.substr(1));
        for (std::size_t i = 0; i < count; ++i) {
            std::string size;
            if (!line(size)) return false;
            const auto n = std::stoul(size.substr(1));
            if (in.size() < pos + n + 2) return false;
            out.push_back(in.substr(pos, n));
            pos += n + 2;
        }
        used = pos;
        return true;
    }

    Answer answer_;
    int listener_ = -1;
    int port_ = 0;
    std::atomic<bool> stopping_{false};
    std::thread acceptor_;
    std::mutex mutex_;
    std::vector<int> clients_;
    std::vector<std::thread> connections_;
};

class RedisAgainstOddServer : public ::testing::Test {
protected:
    std::unique_ptr<RedisBackend> backend(FakeRedis& server) {
        return std::make_unique<RedisBackend>(server.url(), dir_.file("spool.sqlite"), BackendSettings{}, log_.logger);
    }
    TempDir dir_;
    CapturedLog log_;
};

TEST_F(RedisAgainstOddServer, FetchRefusesOddReadRepliesInsteadOfCrashing) {
    // Each of these crashed controld before the checks (a null element
    // dereferenced, or atoi(NULL)).
    const std::vector<std::string> odd = {
        "*1\r\n$3\r\nfoo\r\n",
        "*1\r\n*1\r\n$11\r\nlevqor:jobs\r\n",
        read_reply({bulk("1-1")}),
        read_reply({array({bulk("1-1"), array({bulk("attempt"), "$-1\r\n"})})}),
    };
    for (const auto& raw : odd) {
        FakeRedis server([&](const std::vector<std::string>& command) -> std::string {
            if (command[0] == "EVALSHA") return "*3\r\n:0\r\n:0\r\n:0\r\n";  // took back nothing
            return command[0] == "XREADGROUP" ? raw : "";
        });
        auto redis = backend(server);
        auto consumer = redis->consumer(0);
        const auto why = error_of([&] { consumer->fetch(10, 10ms); });
        EXPECT_NE(why.find("redis: XREADGROUP"), std::string::npos) << raw << " -> " << why;
    }
}

TEST_F(RedisAgainstOddServer, StatsReportOddRepliesAsDown) {
    // XLEN says 5 waiting, so stats look at the oldest entry: an XRANGE entry
    // that is a string crashed controld before the checks.
    FakeRedis server([](const std::vector<std::string>& command) -> std::string {
        if (command[0] == "XLEN") return ":5\r\n";
        if (command[0] == "XPENDING") return "*4\r\n:0\r\n$-1\r\n$-1\r\n*-1\r\n";
        if (command[0] == "ZCARD") return ":0\r\n";
        if (command[0] == "XINFO") return "*0\r\n";
        if (command[0] == "GET") return "$-1\r\n";
        if (command[0] == "XRANGE") return "*1\r\n$3\r\n1-1\r\n";
        return "";
    });
    auto redis = backend(server);
    const auto stats = redis->stats(now_ms());
    EXPECT_FALSE(stats.up);
    EXPECT_NE(stats.error.find("XRANGE entry: expected an array of 2, got a string"), std::string::npos) << stats.error;
}

TEST_F(RedisAgainstOddServer, ScriptAndLookupRepliesOfAnotherShapeAreErrors) {
    FakeRedis server([](const std::vector<std::string>& command) -> std::string {
        if (command[0] == "EVALSHA") return "*1\r\n:1\r\n";  // every script: a wrong shape
        if (command[0] == "HGETALL") return "*1\r\n$2\r\nid\r\n";
        if (command[0] == "ZREVRANGE") return "*1\r\n*0\r\n";
        return "";
    });
    auto redis = backend(server);
    EXPECT_NE(error_of([&] { redis->maintain(now_ms()); }).find("expected an integer, got an array"),
              std::string::npos);
    EXPECT_NE(
        error_of([&] { redis->recover(now_ms()); }).find("recover script: expected an array of 3, got an array of 1"),
        std::string::npos);
    EXPECT_NE(error_of([&] {
                  redis->get("0123456789abcdef0123456789abcdef");
              }).find("HGETALL: expected an array of field, value pairs"),
              std::string::npos);
    EXPECT_NE(error_of([&] { redis->dead(10); }).find("ZREVRANGE: expected a string, got an array"), std::string::npos);
    EXPECT_NE(error_of([&] { redis->retry_dead({}, true, now_ms()); }).find("DLQ retry script: expected an integer"),
              std::string::npos);
    // An enqueue whose reply makes no sense is not taken for stored: spooled.
    EnqueueRequest request;
    request.jobs.push_back({new_job_id(now_ms()), "noop", "{}"});
    request.now = now_ms();
    EXPECT_TRUE(redis->enqueue(request).spooled);
}

}  // namespace
}  // namespace levqor::controld::queue
