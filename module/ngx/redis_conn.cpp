// SPDX-License-Identifier: Apache-2.0
#include "redis_conn.h"

#include <sys/ioctl.h>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <iterator>

#include "metrics_zone.h"
#include "ngx_util.h"

namespace levqor::ngx {

// A command in flight. Owned by hiredis's callback list (privdata) from
// submit until its reply (or the disconnect that fails it).
struct RedisConn::Pending {
    RedisConn* conn;
    RedisWait* wait;      // null once the request stopped waiting
    std::string command;  // EVALSHA, RESP-encoded
    std::size_t tail_at;  // the arguments after the SHA
    std::size_t tail_args;
    std::size_t buckets;
    bool retried;  // already re-sent as EVAL after NOSCRIPT
};

namespace {

constexpr ngx_msec_t kFirstBackoffMs = 100;
constexpr ngx_msec_t kMaxBackoffMs = 2000;

ngx_msec_t now_ms() { return ngx_current_msec; }

void wake(RedisWait* w, RedisWait::State state, const char* why) {
    w->state = state;
    w->failure = why;
    w->pending = nullptr;
    if (w->deadline.timer_set) ngx_del_timer(&w->deadline);
    ngx_post_event(&w->resume, &ngx_posted_events);  // (the macro skips an event already posted)
}

// The request stops waiting: resumes its phases (our handler runs again).
// The phases may finish the request (a 429, a static file, a fast upstream
// error) and free its pool, which holds r and w: only the connection, saved
// first, may be used afterwards (as ngx_http_request_handler does).
void resume_request(ngx_event_t* ev) noexcept {
    auto* w = static_cast<RedisWait*>(ev->data);
    ngx_http_request_t* r = w->r;
    ngx_connection_t* c = r->connection;
    r->write_event_handler = ngx_http_core_run_phases;
    ngx_http_core_run_phases(r);
    ngx_http_run_posted_requests(c);
}

void wait_cleanup(void* data) noexcept {
    auto* w = static_cast<RedisWait*>(data);
    if (w->pending != nullptr) {
        // The reply may still come: it finds no request.
        *static_cast<RedisWait**>(w->pending) = nullptr;
        w->pending = nullptr;
    }
    if (w->deadline.timer_set) ngx_del_timer(&w->deadline);
    if (w->resume.posted) {
        ngx_delete_posted_event(&w->resume);  // a multi-statement macro: keep the braces
    }
}

// The deadline: the request decides locally at once; a late reply is ignored.
void on_deadline(ngx_event_t* ev) noexcept {
    auto* w = static_cast<RedisWait*>(ev->data);
    if (w->pending != nullptr) {
        *static_cast<RedisWait**>(w->pending) = nullptr;
        w->pending = nullptr;
    }
    w->state = RedisWait::State::Failed;
    w->failure = "timeout";
    resume_request(&w->resume);
}

}  // namespace

RedisWait* redis_wait_create(ngx_http_request_t* r, ngx_msec_t timeout) noexcept {
    ngx_pool_cleanup_t* cln = ngx_pool_cleanup_add(r->pool, sizeof(RedisWait));
    if (cln == nullptr) return nullptr;
    auto* w = static_cast<RedisWait*>(cln->data);
    ngx_memzero(w, sizeof *w);
    w->r = r;
    w->state = RedisWait::State::Waiting;
    w->deadline.handler = on_deadline;
    w->deadline.data = w;
    w->deadline.log = r->connection->log;
    w->resume.handler = resume_request;
    w->resume.data = w;
    w->resume.log = r->connection->log;
    cln->handler = wait_cleanup;
    cln->data = w;
    ngx_add_timer(&w->deadline, timeout);
    return w;
}

// ---- the connection ---------------------------------------------------------------

RedisConn::RedisConn(std::string zone_name, redis::Endpoint endpoint, ngx_log_t* log, Cells c)
    : cells(c),
      zone(std::move(zone_name)),
      endpoint_(std::move(endpoint)),
      display_(endpoint_.display()),
      log_(log),
      sha_(redis::script_sha1()) {
    reconnect_.handler = on_reconnect_timer;
    reconnect_.data = this;
    reconnect_.log = log_;
    reconnect_.cancelable = 1;  // never delays a graceful shutdown
}

RedisConn::~RedisConn() {
    if (reconnect_.timer_set) ngx_del_timer(&reconnect_);
    if (ac_ != nullptr) {
        ac_->onDisconnect = nullptr;
        redisAsyncFree(ac_);  // fails pending commands (their waits are detached by then)
    }
}

void RedisConn::start() noexcept { connect(); }

void RedisConn::connect() noexcept {
    ready_ = false;
    redisAsyncContext* ac = endpoint_.unix_socket ? redisAsyncConnectUnix(endpoint_.host.c_str())
                                                  : redisAsyncConnect(endpoint_.host.c_str(), endpoint_.port);
    if (ac == nullptr || ac->err != 0) {
        lost(ac != nullptr && ac->errstr != nullptr ? ac->errstr : "cannot create a connection");
        if (ac != nullptr) redisAsyncFree(ac);
        return;
    }
    ngx_connection_t* c = ngx_get_connection(ac->c.fd, log_);
    if (c == nullptr) {
        redisAsyncFree(ac);
        lost("no free nginx connection");
        return;
    }
    c->data = this;
    c->read->handler = on_read;
    c->write->handler = on_write;
    c->read->log = log_;
    c->write->log = log_;
    // Edge-triggered read and write interest for the socket's whole life;
    // hiredis's add/del hooks then only need to flush queued commands.
    const bool added = ngx_add_conn != nullptr ? ngx_add_conn(c) == NGX_OK
                                               : (ngx_add_event(c->read, NGX_READ_EVENT, NGX_CLEAR_EVENT) == NGX_OK &&
                                                  ngx_add_event(c->write, NGX_WRITE_EVENT, NGX_CLEAR_EVENT) == NGX_OK);
    if (!added) {
        c->fd = static_cast<ngx_socket_t>(-1);
        ngx_free_connection(c);
        redisAsyncFree(ac);
        lost("cannot add the socket to the event loop");
        return;
    }
    ac_ = ac;
    c_ = c;
    ac->data = this;
    ac->ev.data = this;
    ac->ev.addRead = ev_noop;
    ac->ev.delRead = ev_noop;
    ac->ev.addWrite = ev_add_write;
    ac->ev.delWrite = ev_noop;
    ac->ev.cleanup = ev_cleanup;
    redisAsyncSetConnectCallback(ac, on_connected);
    redisAsyncSetDisconnectCallback(ac, on_disconnected);

    // Setup, pipelined behind the connect: AUTH [user] password, SELECT, SCRIPT LOAD.
    if (!endpoint_.password.empty()) {
        const bool user = !endpoint_.user.empty();
        const char* argv[] = {"AUTH", user ? endpoint_.user.c_str() : endpoint_.password.c_str(),
                              endpoint_.password.c_str()};
        const size_t lens[] = {4, user ? endpoint_.user.size() : endpoint_.password.size(), endpoint_.password.size()};
        redisAsyncCommandArgv(ac, on_setup_reply, const_cast<char*>("AUTH"), user ? 3 : 2, argv, lens);
    }
    if (endpoint_.db != 0) {
        char db[16];  // no allocation: connect() is noexcept
        const size_t db_len = static_cast<size_t>(std::to_chars(db, db + sizeof db, endpoint_.db).ptr - db);
        const char* argv[] = {"SELECT", db};
        const size_t lens[] = {6, db_len};
        redisAsyncCommandArgv(ac, on_setup_reply, const_cast<char*>("SELECT"), 2, argv, lens);
    }
    const std::string& script = redis::gcra_script();
    const char* argv[] = {"SCRIPT", "LOAD", script.c_str()};
    const size_t lens[] = {6, 4, script.size()};
    redisAsyncCommandArgv(ac, on_script_reply, nullptr, 3, argv, lens);
}

void RedisConn::lost(const char* why) noexcept {
    ready_ = false;
    breaker.trip(now_ms());
    if (!logged_down_) {
        logged_down_ = true;
        ngx_log_error(NGX_LOG_ERR, log_, 0, "levqor_limit_zone \"%s\": redis %s unavailable (%s); deciding locally",
                      zone.c_str(), display_.c_str(), why);
    }
    schedule_reconnect();
}

void RedisConn::schedule_reconnect() noexcept {
    if (ngx_exiting || ngx_quit || ngx_terminate || reconnect_.timer_set) return;
    backoff_ms_ = backoff_ms_ == 0 ? kFirstBackoffMs : std::min(backoff_ms_ * 2, kMaxBackoffMs);
    ngx_add_timer(&reconnect_, backoff_ms_);
}

void RedisConn::on_reconnect_timer(ngx_event_t* ev) noexcept {
    auto* self = static_cast<RedisConn*>(ev->data);
    if (self->ac_ == nullptr) self->connect();
}

std::string RedisConn::evalsha_head(std::size_t args) const {
    // Room for the keys and arguments the caller appends (~130 bytes a
    // bucket), so building the command allocates once.
    return redis::format_command("EVALSHA", sha_, {}, args, 512);
}

bool RedisConn::submit(RedisWait* wait, std::string command, std::size_t tail_at, std::size_t tail_args,
                       std::size_t buckets) noexcept try {
    if (!ready_ || ac_ == nullptr) return false;
    auto p = std::make_unique<Pending>(Pending{this, wait, std::move(command), tail_at, tail_args, buckets, false});
    wait->pending = &p->wait;    // the request detaches itself through this
    Pending* raw = p.release();  // hiredis owns it until the callback
    send(raw);
    return true;
} catch (...) {
    return false;
}

void RedisConn::send(Pending* p) noexcept {
    int rc = REDIS_ERR;
    if (!p->retried) {
        rc = redisAsyncFormattedCommand(ac_, on_script_reply, p, p->command.data(), p->command.size());
    } else {
        // NOSCRIPT: the same arguments with the script itself (a new command: it allocates).
        try {
            const std::string eval = redis::format_command(
                "EVAL", redis::gcra_script(), std::string_view(p->command).substr(p->tail_at), p->tail_args);
            rc = redisAsyncFormattedCommand(ac_, on_script_reply, p, eval.data(), eval.size());
        } catch (...) {
            rc = REDIS_ERR;
        }
    }
    if (rc != REDIS_OK) deliver(p, nullptr);
}

// The reply to EVALSHA/EVAL (privdata: a Pending) or to SCRIPT LOAD (null).
void RedisConn::on_script_reply(redisAsyncContext* ac, void* r, void* privdata) noexcept {
    auto* self = static_cast<RedisConn*>(ac->data);
    const auto* reply = static_cast<const redisReply*>(r);
    if (privdata == nullptr) {  // SCRIPT LOAD at setup
        if (reply != nullptr && reply->type == REDIS_REPLY_STRING &&
            std::string_view(reply->str, reply->len) == self->sha_) {
            self->ready_ = true;
            self->backoff_ms_ = 0;
            self->breaker.success();
            if (self->logged_down_) {
                self->logged_down_ = false;
                ngx_log_error(NGX_LOG_NOTICE, self->log_, 0, "levqor_limit_zone \"%s\": redis %s is back",
                              self->zone.c_str(), self->display_.c_str());
            }
        } else if (reply != nullptr) {
            ngx_log_error(NGX_LOG_ERR, self->log_, 0, "levqor_limit_zone \"%s\": SCRIPT LOAD failed: %*s",
                          self->zone.c_str(), static_cast<std::size_t>(reply->len), reply->str);
            metric_add(self->cells.error);
        }
        return;
    }
    auto* p = static_cast<Pending*>(privdata);
    if (reply != nullptr && reply->type == REDIS_REPLY_ERROR && !p->retried &&
        std::strncmp(reply->str, "NOSCRIPT", 8) == 0) {
        // SCRIPT FLUSH or a failover: send the script itself (Redis caches
        // it again), transparently for the request.
        p->retried = true;
        self->send(p);
        return;
    }
    self->deliver(p, reply);
}

void RedisConn::deliver(Pending* raw, const void* r) noexcept {
    std::unique_ptr<Pending> p(raw);
    const auto* reply = static_cast<const redisReply*>(r);
    RedisWait* w = p->wait;
    const char* failure = nullptr;
    redis::ScriptResult* result = nullptr;
    if (reply == nullptr) {
        failure = "connection";
        metric_add(cells.connection);
    } else if (reply->type != REDIS_REPLY_ARRAY) {
        failure = "error";
        metric_add(cells.error);
        if (reply->type == REDIS_REPLY_ERROR) {
            ngx_log_error(NGX_LOG_ERR, log_, 0, "levqor_limit_zone \"%s\": redis error: %*s", zone.c_str(),
                          static_cast<std::size_t>(reply->len), reply->str);
        }
    } else if (w != nullptr) {
        long long values[2 + 4 * redis::kMaxScriptBuckets];
        const std::size_t count = std::min<std::size_t>(reply->elements, std::size(values));
        for (std::size_t i = 0; i < count; ++i) {
            values[i] = reply->element[i]->type == REDIS_REPLY_INTEGER ? reply->element[i]->integer : -1;
        }
        result = static_cast<redis::ScriptResult*>(ngx_palloc(w->r->pool, sizeof(redis::ScriptResult)));
        if (result == nullptr || reply->elements > std::size(values) ||
            !redis::decode_result(values, count, p->buckets, *result)) {
            failure = "error";
            metric_add(cells.error);
        }
    }
    if (failure != nullptr) {
        breaker.failure(now_ms());
    } else {
        breaker.success();
    }
    if (w == nullptr) return;  // the request stopped waiting (deadline or closed)
    w->result = result;
    wake(w, failure == nullptr ? RedisWait::State::Answered : RedisWait::State::Failed, failure);
}

void RedisConn::on_setup_reply(redisAsyncContext* ac, void* r, void* privdata) noexcept {
    auto* self = static_cast<RedisConn*>(ac->data);
    const auto* reply = static_cast<const redisReply*>(r);
    if (reply != nullptr && reply->type == REDIS_REPLY_ERROR) {
        // Wrong password or database: the connection stays unusable; say so.
        ngx_log_error(NGX_LOG_ERR, self->log_, 0, "levqor_limit_zone \"%s\": redis %s: %*s", self->zone.c_str(),
                      static_cast<const char*>(privdata), static_cast<std::size_t>(reply->len), reply->str);
        metric_add(self->cells.error);
        redisAsyncDisconnect(ac);
    }
}

void RedisConn::on_connected(const redisAsyncContext* ac, int status) noexcept {
    auto* self = static_cast<RedisConn*>(ac->data);
    if (status != REDIS_OK) {
        // hiredis frees the context after this callback.
        self->ac_ = nullptr;
        self->lost(ac->errstr != nullptr ? ac->errstr : "connect failed");
    }
}

void RedisConn::on_disconnected(const redisAsyncContext* ac, int) noexcept {
    auto* self = static_cast<RedisConn*>(ac->data);
    self->ac_ = nullptr;
    self->lost(ac->errstr != nullptr && ac->err != 0 ? ac->errstr : "disconnected");
}

// hiredis wants to write: flush at the end of this loop iteration, so every
// command queued until then goes out in one write. Inside our own write
// handler it means the socket is full: the next EPOLLOUT edge brings us back.
void RedisConn::ev_add_write(void* data) noexcept {
    auto* self = static_cast<RedisConn*>(data);
    if (self->in_write_ || self->c_ == nullptr) return;
    ngx_post_event(self->c_->write, &ngx_posted_events);
}

void RedisConn::ev_noop(void*) noexcept {}

// hiredis is freeing the context (it closes the socket itself): release the
// nginx connection without closing the descriptor.
void RedisConn::ev_cleanup(void* data) noexcept {
    auto* self = static_cast<RedisConn*>(data);
    ngx_connection_t* c = self->c_;
    if (c == nullptr) return;
    self->c_ = nullptr;
    if (c->read->timer_set) ngx_del_timer(c->read);
    if (c->write->timer_set) ngx_del_timer(c->write);
    if (c->read->posted) {
        ngx_delete_posted_event(c->read);
    }
    if (c->write->posted) {
        ngx_delete_posted_event(c->write);
    }
    if (ngx_del_conn != nullptr) {
        ngx_del_conn(c, NGX_CLOSE_EVENT);
    } else {
        if (c->read->active) ngx_del_event(c->read, NGX_READ_EVENT, NGX_CLOSE_EVENT);
        if (c->write->active) ngx_del_event(c->write, NGX_WRITE_EVENT, NGX_CLOSE_EVENT);
    }
    c->fd = static_cast<ngx_socket_t>(-1);
    ngx_free_connection(c);
}

void RedisConn::on_read(ngx_event_t* ev) noexcept {
    auto* c = static_cast<ngx_connection_t*>(ev->data);
    auto* self = static_cast<RedisConn*>(c->data);
    // Edge-triggered: read until the socket is empty (hiredis reads at most
    // 16 KiB per call).
    for (int rounds = 0; rounds < 64 && self->ac_ != nullptr; ++rounds) {
        redisAsyncHandleRead(self->ac_);
        if (self->c_ == nullptr) return;  // disconnected and freed inside
        int pending = 0;
        if (ioctl(self->c_->fd, FIONREAD, &pending) != 0 || pending <= 0) break;
    }
}

void RedisConn::on_write(ngx_event_t* ev) noexcept {
    auto* c = static_cast<ngx_connection_t*>(ev->data);
    auto* self = static_cast<RedisConn*>(c->data);
    if (self->ac_ == nullptr) return;
    self->in_write_ = true;
    redisAsyncHandleWrite(self->ac_);
    self->in_write_ = false;
}

}  // namespace levqor::ngx
