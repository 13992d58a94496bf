// SPDX-License-Identifier: Apache-2.0
#include "redis_conn.h"

#include <sys/ioctl.h>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <algorithm>
#include <charconv>
#include <cstring>

#include "metrics_zone.h"
#include "ngx_util.h"

namespace levqor::ngx {

// A batch of decisions: gathering (open_), then in flight (hiredis's
// privdata from send until its reply or the disconnect that fails it), then
// back on the free list with its buffers' capacity kept.
struct RedisConn::Batch {
    RedisConn* conn;
    redis::BatchCommand command;
    std::size_t n;  // decisions
    struct Slot {
        RedisWait* wait;  // null once the request stopped waiting
        std::uint8_t buckets;
    } slots[redis::kMaxBatch];
    ngx_event_t deadline;
    bool retried;  // already re-sent as EVAL after NOSCRIPT
    bool expired;  // its deadline passed while in flight: its requests decided without it
};

// The reply being read, built in place by hiredis's reader through the
// functions below instead of malloc'ed redisReply objects: one top-level
// reply at a time per connection; the script's string of integers is
// copied into bytes. `head` comes first: hiredis reads ->type of a reply that has no
// callback, and the setup callbacks read type, str and len.
struct RedisConn::Reply {
    redisReply head;
    std::size_t len;  // bytes of the script's string
    bool bad;         // not the script's shape (one string that fits)
    char text[256];   // a string, status or error reply (truncated)
    unsigned char bytes[redis::kMaxBatchReply];
    // The first two elements of a top-level array (ROLE, SENTINEL
    // get-master-addr-by-name); the rest of an array is skipped.
    struct Elem {
        int type;         // 0: none
        std::size_t len;  // the element's length (text holds at most sizeof text bytes of it)
        char text[64];
        std::string_view view() const { return len <= sizeof text ? std::string_view(text, len) : std::string_view(); }
        bool string() const { return type == REDIS_REPLY_STRING && len <= sizeof text; }
    } elem[2];
};

namespace {

constexpr ngx_msec_t kFirstBackoffMs = 100;
constexpr ngx_msec_t kMaxBackoffMs = 2000;

ngx_msec_t now_ms() { return ngx_current_msec; }

void wake(RedisWait* w, RedisWait::State state, const char* why) {
    w->state = state;
    w->failure = why;
    w->slot = nullptr;
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
    r->read_event_handler = ngx_http_block_reading;
    r->write_event_handler = ngx_http_core_run_phases;
    ngx_http_core_run_phases(r);
    ngx_http_run_posted_requests(c);
}

void wait_cleanup(void* data) noexcept {
    auto* w = static_cast<RedisWait*>(data);
    if (w->slot != nullptr) {
        *w->slot = nullptr;  // the reply may still come: it finds no request
        w->slot = nullptr;
    }
    if (w->resume.posted) {
        ngx_delete_posted_event(&w->resume);  // a multi-statement macro: keep the braces
    }
}

// ---- the reply reader: no allocation ----------------------------------------------

using Reply = RedisConn::Reply;

Reply* reply_of(const redisReadTask* task) { return static_cast<Reply*>(task->privdata); }

void* reply_top(Reply* r, int type) {
    r->head.type = type;
    r->head.integer = 0;
    r->head.len = 0;
    r->head.str = r->text;
    r->text[0] = '\0';
    r->head.elements = 0;
    r->head.element = nullptr;
    r->len = 0;
    r->bad = type != REDIS_REPLY_STRING;  // the script answers with one string
    r->elem[0].type = r->elem[1].type = 0;
    r->elem[0].len = r->elem[1].len = 0;
    return r;
}

// An element of an array: only the first two of a top-level array are kept.
void* reply_child(const redisReadTask* task, Reply* r, int type, const char* str, std::size_t len) {
    const redisReadTask* parent = task->parent;
    if (parent->parent != nullptr || task->idx < 0 || task->idx > 1) return r;
    Reply::Elem& e = r->elem[task->idx];
    e.type = type;
    e.len = len;
    std::memcpy(e.text, str, std::min(len, sizeof e.text));
    return r;
}

// Values inside an array (not the script's shape) are ignored: the array is bad.
void* reader_string(const redisReadTask* task, char* str, size_t len) {
    Reply* r = reply_of(task);
    if (r == nullptr) return nullptr;
    if (task->parent != nullptr) return reply_child(task, r, task->type, str, len);
    reply_top(r, task->type);
    const std::size_t n = std::min(len, sizeof r->text - 1);
    std::memcpy(r->text, str, n);  // errors, SCRIPT LOAD's SHA, statuses
    r->text[n] = '\0';
    r->head.len = n;
    if (task->type == REDIS_REPLY_STRING) {
        r->bad = len > sizeof r->bytes;
        if (!r->bad) {
            std::memcpy(r->bytes, str, len);
            r->len = len;
        }
    }
    return r;
}

void* reader_array(const redisReadTask* task, int elements) {
    Reply* r = reply_of(task);
    if (r == nullptr) return nullptr;
    if (task->parent == nullptr) {
        reply_top(r, REDIS_REPLY_ARRAY);
        r->head.elements = static_cast<std::size_t>(elements < 0 ? 0 : elements);
        return r;
    }
    return reply_child(task, r, REDIS_REPLY_ARRAY, "", 0);
}

void* reader_integer(const redisReadTask* task, long long value) {
    Reply* r = reply_of(task);
    if (r == nullptr) return nullptr;
    if (task->parent == nullptr) {
        reply_top(r, REDIS_REPLY_INTEGER);
        r->head.integer = value;
        return r;
    }
    return reply_child(task, r, REDIS_REPLY_INTEGER, "", 0);
}

void* reader_nil(const redisReadTask* task) {
    Reply* r = reply_of(task);
    if (r == nullptr) return nullptr;
    if (task->parent == nullptr) return reply_top(r, REDIS_REPLY_NIL);
    return reply_child(task, r, REDIS_REPLY_NIL, "", 0);
}

void reader_free(void*) {}  // the storage is the connection's

redisReplyObjectFunctions reader_functions = {reader_string, reader_array, reader_integer, reader_nil, reader_free};

}  // namespace

RedisWait* redis_wait_create(ngx_http_request_t* r) noexcept {
    ngx_pool_cleanup_t* cln = ngx_pool_cleanup_add(r->pool, sizeof(RedisWait));
    if (cln == nullptr) return nullptr;
    auto* w = static_cast<RedisWait*>(cln->data);
    ngx_memzero(w, sizeof *w);
    w->r = r;
    w->state = RedisWait::State::Waiting;
    w->resume.handler = resume_request;
    w->resume.data = w;
    w->resume.log = r->connection->log;
    cln->handler = wait_cleanup;
    cln->data = w;
    return w;
}

// ---- the connection ---------------------------------------------------------------

RedisConn::RedisConn(std::string zone_name, redis::Endpoint endpoint, const redis::KeySecret& secret,
                     ngx_msec_t timeout_ms, ngx_log_t* log, Cells c)
    : cells(c),
      zone(std::move(zone_name)),
      endpoint_(std::move(endpoint)),
      secret_(secret),
      timeout_ms_(timeout_ms),
      display_(endpoint_.display()),
      log_(log),
      sha_(redis::script_sha1()),
      reply_(std::make_unique<Reply>()) {
    reconnect_.handler = on_reconnect_timer;
    reconnect_.data = this;
    reconnect_.log = log_;
    reconnect_.cancelable = 1;  // never delays a graceful shutdown
    flush_.handler = on_flush;
    flush_.data = this;
    flush_.log = log_;
    setup_.handler = on_setup_timeout;
    setup_.data = this;
    setup_.log = log_;
    setup_.cancelable = 1;
    batches_.reserve(kMaxBatches);
    free_.reserve(kMaxBatches);
    command_.reserve(64 * 1024);
}

RedisConn::~RedisConn() {
    if (reconnect_.timer_set) ngx_del_timer(&reconnect_);
    if (setup_.timer_set) ngx_del_timer(&setup_);
    if (flush_.posted) {
        ngx_delete_posted_event(&flush_);
    }
    if (open_ != nullptr) {  // never sent: its requests must not keep pointers into it
        Batch* b = open_;
        open_ = nullptr;
        fail(b, "connection", cells.connection);
    }
    if (ac_ != nullptr) {
        ac_->onDisconnect = nullptr;
        redisAsyncFree(ac_);  // fails the batches in flight (their waits are detached by then)
    }
    for (auto& b : batches_) {
        if (b->deadline.timer_set) ngx_del_timer(&b->deadline);
    }
}

void RedisConn::start() noexcept { connect(); }

void RedisConn::connect() noexcept {
    ready_ = false;
    demoted_ = false;
    if (endpoint_.sentinel() && !master_known_) {
        connect_sentinel();
        return;
    }
    const bool via_sentinel = endpoint_.sentinel();
    master_known_ = false;  // a loss of this connection asks the Sentinels again
    redisAsyncContext* ac = endpoint_.unix_socket ? redisAsyncConnectUnix(endpoint_.host.c_str())
                            : via_sentinel        ? redisAsyncConnect(master_.host, master_.port)
                                                  : redisAsyncConnect(endpoint_.host.c_str(), endpoint_.port);
    if (!attach(ac)) return;

    // Setup, pipelined behind the connect: AUTH [user] password, SELECT,
    // then SCRIPT LOAD — after ROLE said "master" when the address came from a Sentinel.
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
    if (via_sentinel) {
        const char* argv[] = {"ROLE"};
        const size_t lens[] = {4};
        redisAsyncCommandArgv(ac, on_role_reply, nullptr, 1, argv, lens);
        return;
    }
    send_script_load(ac);
}

void RedisConn::send_script_load(redisAsyncContext* ac) noexcept {
    const std::string& script = redis::gcra_script();
    const char* argv[] = {"SCRIPT", "LOAD", script.c_str()};
    const size_t lens[] = {6, 4, script.size()};
    redisAsyncCommandArgv(ac, on_script_reply, nullptr, 3, argv, lens);
}

void RedisConn::connect_sentinel() noexcept {
    sentinel_at_ = sentinel_next_ < endpoint_.sentinels.size() ? sentinel_next_ : 0;
    const redis::SentinelAddr& s = endpoint_.sentinels[sentinel_at_];
    querying_ = true;
    redisAsyncContext* ac = redisAsyncConnect(s.host.c_str(), s.port);
    if (!attach(ac)) return;
    if (!endpoint_.sentinel_password.empty()) {  // sentinel_auth_file=
        const bool user = !endpoint_.sentinel_user.empty();
        const std::string& pw = endpoint_.sentinel_password;
        const char* argv[] = {"AUTH", user ? endpoint_.sentinel_user.c_str() : pw.c_str(), pw.c_str()};
        const size_t lens[] = {4, user ? endpoint_.sentinel_user.size() : pw.size(), pw.size()};
        redisAsyncCommandArgv(ac, on_setup_reply, const_cast<char*>("sentinel AUTH"), user ? 3 : 2, argv, lens);
    }
    const char* argv[] = {"SENTINEL", "get-master-addr-by-name", endpoint_.master_name.c_str()};
    const size_t lens[] = {8, 23, endpoint_.master_name.size()};
    redisAsyncCommandArgv(ac, on_sentinel_reply, nullptr, 3, argv, lens);
}

bool RedisConn::attach(redisAsyncContext* ac) noexcept {
    if (ac == nullptr || ac->err != 0) {
        lost(ac != nullptr && ac->errstr != nullptr ? ac->errstr : "cannot create a connection");
        if (ac != nullptr) redisAsyncFree(ac);
        return false;
    }
    ngx_connection_t* c = ngx_get_connection(ac->c.fd, log_);
    if (c == nullptr) {
        redisAsyncFree(ac);
        lost("no free nginx connection");
        return false;
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
        ngx_free_connection(c);  // (reads c->fd: before it is cleared, as ngx_close_connection does)
        c->fd = static_cast<ngx_socket_t>(-1);
        redisAsyncFree(ac);
        lost("cannot add the socket to the event loop");
        return false;
    }
    ac_ = ac;
    c_ = c;
    ac->c.reader->fn = &reader_functions;  // replies built in reply_, not malloc'ed
    ac->c.reader->privdata = reply_.get();
    ac->data = this;
    ac->ev.data = this;
    ac->ev.addRead = ev_noop;
    ac->ev.delRead = ev_noop;
    ac->ev.addWrite = ev_add_write;
    ac->ev.delWrite = ev_noop;
    ac->ev.cleanup = ev_cleanup;
    redisAsyncSetConnectCallback(ac, on_connected);
    redisAsyncSetDisconnectCallback(ac, on_disconnected);
    // A peer that vanished without a FIN (host down, partition) is noticed by
    // the kernel's keepalive even when no batch is in flight.
    if (!endpoint_.unix_socket) redisEnableKeepAlive(&ac->c);
    ngx_add_timer(&setup_, kSetupTimeoutMs);
    return true;
}

void RedisConn::lost(const char* why) noexcept {
    ready_ = false;
    if (setup_.timer_set) ngx_del_timer(&setup_);
    if (querying_) {  // a Sentinel connection ended
        querying_ = false;
        if (master_known_) {  // it named the master: connect to it now
            sentinel_failed_ = 0;
            reconnect_now();
            return;
        }
        const redis::SentinelAddr& s = endpoint_.sentinels[sentinel_at_];
        ngx_log_error(NGX_LOG_WARN, log_, 0, "levqor_limit_zone \"%s\": sentinel %s:%d did not name master \"%s\" (%s)",
                      zone.c_str(), s.host.c_str(), s.port, endpoint_.master_name.c_str(), why);
        sentinel_next_ = (sentinel_at_ + 1) % endpoint_.sentinels.size();
        if (++sentinel_failed_ < endpoint_.sentinels.size()) {  // the next one at once
            reconnect_now();
            return;
        }
        sentinel_failed_ = 0;  // every Sentinel failed: the backoff, then again
        why = "no sentinel named the master";
    } else if (endpoint_.sentinel()) {
        // The master a Sentinel named is gone, read-only or not a master:
        // the next Sentinel is asked first (one that missed the failover
        // does not keep the worker on a dead address).
        sentinel_next_ = (sentinel_at_ + 1) % endpoint_.sentinels.size();
    }
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

void RedisConn::reconnect_now() noexcept {
    if (ngx_exiting || ngx_quit || ngx_terminate || reconnect_.timer_set) return;
    ngx_add_timer(&reconnect_, 1);
}

void RedisConn::drop(const char* why) noexcept {
    redisAsyncContext* ac = ac_;
    if (ac == nullptr) return;
    ac->onDisconnect = nullptr;  // lost() below, once
    ac_ = nullptr;
    ready_ = false;
    redisAsyncFree(ac);  // NULL replies fail the batches in flight; ev_cleanup frees the nginx connection
    lost(why);
}

void RedisConn::on_setup_timeout(ngx_event_t* ev) noexcept {
    auto* self = static_cast<RedisConn*>(ev->data);
    if (!self->ready_) {
        self->drop(self->querying_ ? "no answer to SENTINEL get-master-addr-by-name"
                                   : "no answer to AUTH/SELECT/ROLE/SCRIPT LOAD");
    }
}

void RedisConn::on_reconnect_timer(ngx_event_t* ev) noexcept {
    auto* self = static_cast<RedisConn*>(ev->data);
    if (self->ac_ == nullptr) self->connect();
}

RedisConn::Batch* RedisConn::take_batch() noexcept {
    if (free_.empty()) {
        if (batches_.size() >= kMaxBatches) return nullptr;  // bounded: Redis is not keeping up
        try {
            auto b = std::make_unique<Batch>();
            b->conn = this;
            b->n = 0;
            b->retried = false;
            b->expired = false;
            b->deadline.handler = on_deadline;
            b->deadline.data = b.get();
            b->deadline.log = log_;
            batches_.push_back(std::move(b));  // capacity reserved: does not throw after make_unique
            free_.push_back(batches_.back().get());
        } catch (...) {
            return nullptr;
        }
    }
    Batch* b = free_.back();
    free_.pop_back();
    return b;
}

void RedisConn::release(Batch* b) noexcept {
    if (b->deadline.timer_set) ngx_del_timer(&b->deadline);
    b->command.clear();
    b->n = 0;
    b->retried = false;
    if (b->expired) {
        b->expired = false;
        --expired_in_flight_;
    }
    free_.push_back(b);  // capacity kMaxBatches: no allocation
}

bool RedisConn::submit(RedisWait* wait, const redis::BucketName* names, const limit::BucketRequest* reqs,
                       std::size_t n) noexcept {
    if (!ready_ || ac_ == nullptr) return false;
    if (open_ == nullptr) {
        open_ = take_batch();
        if (open_ == nullptr) return false;
        // One deadline per batch, from its first decision; flushed once nginx
        // has handled this iteration's events.
        ngx_add_timer(&open_->deadline, timeout_ms_);
        ngx_post_event(&flush_, &ngx_posted_events);
    }
    Batch* b = open_;
    if (!b->command.add(zone, names, reqs, n, secret_)) return false;
    Batch::Slot& slot = b->slots[b->n++];
    slot.wait = wait;
    slot.buckets = static_cast<std::uint8_t>(n);
    wait->slot = &slot.wait;  // the request detaches itself through this
    if (b->n == redis::kMaxBatch || b->command.bytes() >= kMaxBatchBytes) flush();
    return true;
}

void RedisConn::on_flush(ngx_event_t* ev) noexcept { static_cast<RedisConn*>(ev->data)->flush(); }

void RedisConn::flush() noexcept {
    Batch* b = open_;
    open_ = nullptr;
    if (flush_.posted) {
        ngx_delete_posted_event(&flush_);
    }
    if (b == nullptr) return;
    if (b->n == 0) {
        release(b);
        return;
    }
    send(b);
}

void RedisConn::send(Batch* b) noexcept {
    if (!ready_ || ac_ == nullptr) {
        fail(b, "connection", cells.connection);
        return;
    }
    // NOSCRIPT: the same arguments with the script itself.
    const bool formatted = b->retried ? b->command.format(command_, "EVAL", redis::gcra_script())
                                      : b->command.format(command_, "EVALSHA", sha_);
    if (!formatted ||
        redisAsyncFormattedCommand(ac_, on_script_reply, b, command_.data(), command_.size()) != REDIS_OK) {
        fail(b, "connection", cells.connection);
    }
}

// Every request still waiting on b falls back (each once: its slot is
// cleared as it is woken); b goes back to the free list.
void RedisConn::fail(Batch* b, const char* why, std::size_t cell) noexcept {
    if (!b->expired) breaker.failure(ngx_current_msec);  // (an expired batch counted at its deadline)
    for (std::size_t i = 0; i < b->n; ++i) {
        if (RedisWait* w = b->slots[i].wait) {
            metric_add(cell);
            wake(w, RedisWait::State::Failed, why);
        }
    }
    release(b);
}

// The batch's deadline: its requests decide locally at once; the batch
// stays in flight (hiredis holds it) and a late reply finds no request.
void RedisConn::on_deadline(ngx_event_t* ev) noexcept {
    auto* b = static_cast<Batch*>(ev->data);
    RedisConn* self = b->conn;
    self->breaker.failure(ngx_current_msec);
    for (std::size_t i = 0; i < b->n; ++i) {
        if (RedisWait* w = b->slots[i].wait) {
            b->slots[i].wait = nullptr;
            wake(w, RedisWait::State::Failed, "timeout");  // counted by the request (timeout cell)
        }
    }
    if (b == self->open_) {  // not even sent yet (cannot happen within one iteration; kept safe)
        self->open_ = nullptr;
        if (self->flush_.posted) {
            ngx_delete_posted_event(&self->flush_);
        }
        self->release(b);
        return;
    }
    b->expired = true;
    if (++self->expired_in_flight_ >= kMaxExpiredInFlight) {
        self->drop("batches unanswered past their deadline");  // (releases b)
    }
}

// The reply to EVALSHA/EVAL (privdata: a Batch) or to SCRIPT LOAD (null).
void RedisConn::on_script_reply(redisAsyncContext* ac, void* r, void* privdata) noexcept {
    auto* self = static_cast<RedisConn*>(ac->data);
    const auto* reply = static_cast<const redisReply*>(r);
    if (privdata == nullptr) {  // SCRIPT LOAD at setup
        if (reply != nullptr && reply->type == REDIS_REPLY_STRING &&
            std::string_view(reply->str, reply->len) == self->sha_) {
            self->ready_ = true;
            self->backoff_ms_ = 0;
            if (self->setup_.timer_set) ngx_del_timer(&self->setup_);
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
            // (-LOADING after a restart, -BUSY, ...): connect again later
            // rather than keep a connection that can never decide.
            redisAsyncDisconnect(ac);
        }
        return;
    }
    auto* b = static_cast<Batch*>(privdata);
    if (reply != nullptr && reply->type == REDIS_REPLY_ERROR && !b->retried &&
        std::strncmp(reply->str, "NOSCRIPT", 8) == 0) {
        // SCRIPT FLUSH or a failover: send the script itself (Redis caches
        // it again), transparently for the requests — if any still waits: a
        // batch whose requests already decided without it must not charge
        // Redis's buckets too.
        bool waiting = false;
        for (std::size_t i = 0; i < b->n && !waiting; ++i) waiting = b->slots[i].wait != nullptr;
        if (!waiting) {
            self->release(b);
            return;
        }
        b->retried = true;
        self->send(b);
        return;
    }
    if (reply != nullptr && reply->type == REDIS_REPLY_ERROR && self->endpoint_.sentinel() &&
        std::strstr(reply->str, "READONLY") != nullptr && !self->demoted_) {
        // The master was demoted (a failover): no more batches on this
        // connection; closing it asks the Sentinels again.
        self->demoted_ = true;
        self->ready_ = false;
        ngx_log_error(NGX_LOG_WARN, self->log_, 0,
                      "levqor_limit_zone \"%s\": redis %s:%d is read-only (no longer the master); asking the sentinels",
                      self->zone.c_str(), self->master_.host, self->master_.port);
        redisAsyncDisconnect(ac);
    }
    self->deliver(b, reply);
}

// SENTINEL get-master-addr-by-name: [ip, port] names the master; anything
// else (nil: unknown name, an error, a host name) moves on to the next Sentinel.
void RedisConn::on_sentinel_reply(redisAsyncContext* ac, void* r, void*) noexcept {
    auto* self = static_cast<RedisConn*>(ac->data);
    const auto* reply = static_cast<const redisReply*>(r);
    if (reply == nullptr) return;  // the connection is being freed: lost() follows
    const Reply& rep = *self->reply_;
    redis::MasterAddr addr{};
    const bool ok = reply->type == REDIS_REPLY_ARRAY &&
                    redis::parse_master_addr(reply->elements, rep.elem[0].string() && rep.elem[1].string(),
                                             rep.elem[0].view(), rep.elem[1].view(), addr);
    if (ok) {
        if (std::strcmp(addr.host, self->master_.host) != 0 || addr.port != self->master_.port) {
            const redis::SentinelAddr& s = self->endpoint_.sentinels[self->sentinel_at_];
            ngx_log_error(NGX_LOG_NOTICE, self->log_, 0,
                          "levqor_limit_zone \"%s\": sentinel %s:%d names %s:%d as master \"%s\"", self->zone.c_str(),
                          s.host.c_str(), s.port, addr.host, addr.port, self->endpoint_.master_name.c_str());
        }
        self->master_ = addr;
        self->master_known_ = true;
    } else {
        const redis::SentinelAddr& s = self->endpoint_.sentinels[self->sentinel_at_];
        ngx_log_error(NGX_LOG_WARN, self->log_, 0,
                      "levqor_limit_zone \"%s\": sentinel %s:%d: no valid address for master \"%s\"%s%*s",
                      self->zone.c_str(), s.host.c_str(), s.port, self->endpoint_.master_name.c_str(),
                      reply->type == REDIS_REPLY_ERROR ? ": " : "",
                      static_cast<std::size_t>(reply->type == REDIS_REPLY_ERROR ? reply->len : 0), reply->str);
    }
    redisAsyncDisconnect(ac);  // then lost(): the master, or the next Sentinel
}

// ROLE on a master a Sentinel named: only "master" goes on to SCRIPT LOAD.
void RedisConn::on_role_reply(redisAsyncContext* ac, void* r, void*) noexcept {
    auto* self = static_cast<RedisConn*>(ac->data);
    const auto* reply = static_cast<const redisReply*>(r);
    if (reply == nullptr) return;
    const Reply& rep = *self->reply_;
    if (reply->type == REDIS_REPLY_ARRAY && rep.elem[0].string() && redis::role_is_master(rep.elem[0].view())) {
        self->send_script_load(ac);
        return;
    }
    if (reply->type == REDIS_REPLY_ERROR) {  // (NOAUTH after a refused AUTH, or an ACL without ROLE)
        ngx_log_error(NGX_LOG_ERR, self->log_, 0, "levqor_limit_zone \"%s\": redis %s:%d: ROLE refused: %*s",
                      self->zone.c_str(), self->master_.host, self->master_.port, static_cast<std::size_t>(reply->len),
                      reply->str);
    } else {
        ngx_log_error(NGX_LOG_WARN, self->log_, 0,
                      "levqor_limit_zone \"%s\": redis %s:%d is not the master (ROLE %*s); asking the sentinels again",
                      self->zone.c_str(), self->master_.host, self->master_.port,
                      static_cast<std::size_t>(rep.elem[0].string() ? rep.elem[0].len : 0), rep.elem[0].text);
    }
    redisAsyncDisconnect(ac);
}

void RedisConn::deliver(Batch* b, const void* r) noexcept {
    const auto* reply = static_cast<const redisReply*>(r);
    if (reply == nullptr) {
        fail(b, "connection", cells.connection);
        return;
    }
    if (reply->type != REDIS_REPLY_STRING || reply_->bad) {
        if (reply->type == REDIS_REPLY_ERROR) {
            ngx_log_error(NGX_LOG_ERR, log_, 0, "levqor_limit_zone \"%s\": redis error: %*s", zone.c_str(),
                          static_cast<std::size_t>(reply->len), reply->str);
        }
        fail(b, "error", cells.error);
        return;
    }
    // Fan out: each decision's part, in order. A malformed part fails the
    // rest of the batch (the offsets after it cannot be trusted).
    std::size_t at = 0;
    bool ok = true;
    for (std::size_t i = 0; i < b->n; ++i) {
        RedisWait* w = b->slots[i].wait;
        redis::ScriptResult scratch;
        redis::ScriptResult& out = w != nullptr ? w->result : scratch;
        ok = ok && redis::decode_next(reply_->bytes, reply_->len, at, b->slots[i].buckets, out);
        if (w == nullptr) continue;  // the request stopped waiting (deadline or closed)
        if (ok) {
            wake(w, RedisWait::State::Answered, nullptr);
        } else {
            metric_add(cells.error);
            wake(w, RedisWait::State::Failed, "error");
        }
    }
    // Only an answer in time closes the breaker: a late one (the batch
    // counted a failure at its deadline) must not, or a Redis slower than
    // the deadline would never trip it.
    if (!b->expired) {
        if (ok && at == reply_->len) {
            breaker.success();
        } else {
            breaker.failure(ngx_current_msec);
        }
    }
    release(b);
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
    ngx_free_connection(c);  // (reads c->fd: before it is cleared, as ngx_close_connection does)
    c->fd = static_cast<ngx_socket_t>(-1);
}

void RedisConn::on_read(ngx_event_t* ev) noexcept {
    auto* c = static_cast<ngx_connection_t*>(ev->data);
    auto* self = static_cast<RedisConn*>(c->data);
    // Edge-triggered: read until the socket is empty (hiredis reads at most
    // 16 KiB per call).
    bool eof_read = false;
    for (int rounds = 0; rounds < 64 && self->ac_ != nullptr; ++rounds) {
        redisAsyncHandleRead(self->ac_);
        if (self->c_ == nullptr) return;  // disconnected and freed inside
        // hiredis keeps a reply's bytes until it is whole: no answer of ours
        // comes near this (16 batch replies of 4 KiB at most), so a server
        // sending more is not one to wait for.
        if (self->ac_ != nullptr && self->ac_->c.reader->len - self->ac_->c.reader->pos > kMaxUnreadBytes) {
            self->drop("reply larger than any of ours");
            return;
        }
        int pending = 0;
        if (ioctl(self->c_->fd, FIONREAD, &pending) != 0) break;
        if (pending > 0) continue;
        // The peer's FIN may have come in the same edge as its last bytes:
        // one more read sees the end (hiredis then disconnects).
        if (!ev->pending_eof || eof_read) break;
        eof_read = true;
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
