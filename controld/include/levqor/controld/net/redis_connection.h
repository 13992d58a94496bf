// SPDX-License-Identifier: Apache-2.0
// controld's one synchronous Redis client: a hiredis connection to one server
// (connect with AUTH and SELECT, commands, pipelines, scripts by SHA-1) and
// helpers to read its replies. The queue's Redis backend and the /healthz
// check both use it. Not thread-safe: one thread at a time.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "levqor/redis_url.h"

struct redisContext;
struct redisReply;

namespace levqor::controld::net {

struct ReplyDeleter {
    void operator()(redisReply* reply) const;
};
using RedisReply = std::unique_ptr<redisReply, ReplyDeleter>;

// A Lua script and its SHA-1, sent with EVALSHA (EVAL when the server does
// not know it yet, e.g. after a restart).
struct RedisScript {
    explicit RedisScript(std::string source);
    std::string source;
    std::string sha1;
};

// One synchronous hiredis connection to one Redis server (a RedisUrl of
// kind server, as core/urls.h's redis_server_url() gives): connect (AUTH
// [user] password, SELECT db), commands, pipelines. The queue and the health
// check both use it. Any I/O or protocol error throws DependencyError and
// closes the connection; the next call connects again. Error replies
// (-ERR ...) are returned, not thrown, except by eval(), which throws them
// too. Thread-safety: none; one thread at a time.
class RedisConnection {
public:
    RedisConnection(RedisUrl url, std::chrono::milliseconds connect_timeout, std::chrono::milliseconds command_timeout);
    ~RedisConnection();
    RedisConnection(const RedisConnection&) = delete;
    RedisConnection& operator=(const RedisConnection&) = delete;

    bool connected() const { return ctx_ != nullptr; }
    void ensure_connected();
    void close();

    RedisReply command(const std::vector<std::string_view>& argv);
    // Sends all commands, then reads all replies: one round trip.
    std::vector<RedisReply> pipeline(const std::vector<std::vector<std::string_view>>& commands);
    RedisReply eval(const RedisScript& script, const std::vector<std::string_view>& args);

private:
    [[noreturn]] void fail(const std::string& what);
    void append(const std::vector<std::string_view>& argv);
    RedisReply read_reply();

    const RedisUrl url_;
    const std::chrono::milliseconds connect_timeout_;
    const std::chrono::milliseconds command_timeout_;
    redisContext* ctx_ = nullptr;
    std::vector<const char*> argv_;
    std::vector<std::size_t> argvlen_;
};

// Reply helpers; all tolerate a null reply pointer.
std::string reply_string(const redisReply* reply);
long long reply_integer(const redisReply* reply);
bool reply_is_error(const redisReply* reply);

}  // namespace levqor::controld::net
