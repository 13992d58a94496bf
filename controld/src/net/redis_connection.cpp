// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/net/redis_connection.h"

#include <fcntl.h>

#include <hiredis/hiredis.h>

#include <stdexcept>

#include "levqor/controld/core/dependency_error.h"
#include "levqor/hex.h"

namespace levqor::controld::net {
namespace {

timeval to_timeval(std::chrono::milliseconds ms) {
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
    return tv;
}

}  // namespace

void ReplyDeleter::operator()(redisReply* reply) const { freeReplyObject(reply); }

RedisScript::RedisScript(std::string text) : source(std::move(text)), sha1(sha1_hex(source)) {}

RedisConnection::RedisConnection(RedisUrl url, std::chrono::milliseconds connect_timeout,
                                 std::chrono::milliseconds command_timeout)
    : url_(std::move(url)), connect_timeout_(connect_timeout), command_timeout_(command_timeout) {
    if (url_.kind != RedisUrl::Kind::server || url_.hosts.size() != 1) {
        throw std::invalid_argument("a RedisConnection is to one server (redis://host:port)");
    }
}

RedisConnection::~RedisConnection() { close(); }

void RedisConnection::close() {
    if (ctx_ != nullptr) redisFree(ctx_);
    ctx_ = nullptr;
}

void RedisConnection::fail(const std::string& what) {
    std::string why = what;
    if (ctx_ != nullptr && ctx_->err != 0) why += ": " + std::string(ctx_->errstr);
    close();
    const RedisHost& server = url_.hosts.front();
    throw DependencyError("redis " + server.host + ":" + std::to_string(server.port) + ": " + why);
}

void RedisConnection::ensure_connected() {
    if (ctx_ != nullptr) return;
    const RedisHost& server = url_.hosts.front();
    ctx_ = redisConnectWithTimeout(server.host.c_str(), server.port, to_timeval(connect_timeout_));
    if (ctx_ == nullptr) throw DependencyError("redis: cannot allocate a context");
    if (ctx_->err != 0) fail("connect");
    // hiredis 0.14 has no close-on-exec option; exec jobs close it anyway.
    ::fcntl(ctx_->fd, F_SETFD, FD_CLOEXEC);
    redisSetTimeout(ctx_, to_timeval(command_timeout_));
    if (!url_.password.empty()) {
        auto auth = url_.user.empty() ? command({"AUTH", url_.password}) : command({"AUTH", url_.user, url_.password});
        if (reply_is_error(auth.get())) fail("AUTH failed: " + reply_string(auth.get()));
    }
    if (url_.db != 0) {
        const auto db = std::to_string(url_.db);
        auto select = command({"SELECT", db});
        if (reply_is_error(select.get())) fail("SELECT failed: " + reply_string(select.get()));
    }
}

void RedisConnection::append(const std::vector<std::string_view>& argv) {
    argv_.clear();
    argvlen_.clear();
    for (const auto& a : argv) {
        argv_.push_back(a.data());
        argvlen_.push_back(a.size());
    }
    if (redisAppendCommandArgv(ctx_, static_cast<int>(argv_.size()), argv_.data(), argvlen_.data()) != REDIS_OK) {
        fail("cannot format a command");
    }
}

RedisReply RedisConnection::read_reply() {
    void* raw = nullptr;
    if (redisGetReply(ctx_, &raw) != REDIS_OK || raw == nullptr) fail("connection lost");
    return RedisReply(static_cast<redisReply*>(raw));
}

RedisReply RedisConnection::command(const std::vector<std::string_view>& argv) {
    ensure_connected();
    append(argv);
    return read_reply();
}

std::vector<RedisReply> RedisConnection::pipeline(const std::vector<std::vector<std::string_view>>& commands) {
    ensure_connected();
    for (const auto& argv : commands) append(argv);
    std::vector<RedisReply> replies;
    replies.reserve(commands.size());
    for (std::size_t i = 0; i < commands.size(); ++i) replies.push_back(read_reply());
    return replies;
}

RedisReply RedisConnection::eval(const RedisScript& script, const std::vector<std::string_view>& args) {
    std::vector<std::string_view> argv;
    argv.reserve(args.size() + 3);
    argv.push_back("EVALSHA");
    argv.push_back(script.sha1);
    argv.push_back("0");
    argv.insert(argv.end(), args.begin(), args.end());
    auto reply = command(argv);
    if (reply_is_error(reply.get()) && reply_string(reply.get()).rfind("NOSCRIPT", 0) == 0) {
        argv[0] = "EVAL";
        argv[1] = script.source;
        reply = command(argv);
    }
    if (reply_is_error(reply.get())) {
        throw DependencyError("redis script failed: " + reply_string(reply.get()));
    }
    return reply;
}

std::string reply_string(const redisReply* reply) {
    if (reply == nullptr) return {};
    switch (reply->type) {
        case REDIS_REPLY_STRING:
        case REDIS_REPLY_STATUS:
        case REDIS_REPLY_ERROR:
            return std::string(reply->str, reply->len);
        case REDIS_REPLY_INTEGER:
            return std::to_string(reply->integer);
        default:
            return {};
    }
}

long long reply_integer(const redisReply* reply) {
    if (reply == nullptr) return 0;
    if (reply->type == REDIS_REPLY_INTEGER) return reply->integer;
    if (reply->type == REDIS_REPLY_STRING) return std::atoll(reply->str);
    return 0;
}

bool reply_is_error(const redisReply* reply) { return reply != nullptr && reply->type == REDIS_REPLY_ERROR; }

}  // namespace levqor::controld::net
