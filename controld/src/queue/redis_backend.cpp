// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/queue/redis_backend.h"

#include <hiredis/hiredis.h>

#include <charconv>
#include <map>

#include "levqor/controld/queue/instance_id.h"
#include "levqor/controld/queue/redis_reply.h"
#include "redis_scripts.h"

namespace levqor::controld::queue {
namespace {

using std::chrono::milliseconds;

constexpr milliseconds kConnectTimeout{1000};
constexpr milliseconds kCommandTimeout{5000};
// While Redis is known to be down, enqueues go straight to the spool for
// this long before one tries Redis again (maintain() probes meanwhile).
constexpr UnixMs kRetryDownAfterMs = 1000;

const net::RedisScript& enqueue_script() {
    static const net::RedisScript s(scripts::kEnqueue);
    return s;
}
const net::RedisScript& complete_script() {
    static const net::RedisScript s(scripts::kComplete);
    return s;
}
const net::RedisScript& promote_script() {
    static const net::RedisScript s(scripts::kPromote);
    return s;
}
const net::RedisScript& reclaim_script() {
    static const net::RedisScript s(std::string(scripts::kRedeliverFunction) + scripts::kReclaim);
    return s;
}
const net::RedisScript& recover_script() {
    static const net::RedisScript s(std::string(scripts::kRedeliverFunction) + scripts::kRecover);
    return s;
}
const net::RedisScript& forget_consumers_script() {
    static const net::RedisScript s(scripts::kForgetConsumers);
    return s;
}
const net::RedisScript& retry_dead_script() {
    static const net::RedisScript s(scripts::kRetryDead);
    return s;
}

UnixMs to_ms(const std::map<std::string, std::string>& h, const char* field) {
    auto found = h.find(field);
    if (found == h.end() || found->second.empty()) return 0;
    long long value = 0;
    const auto& text = found->second;
    const auto result = std::from_chars(text.data(), text.data() + text.size(), value);
    if (result.ec != std::errc() || result.ptr != text.data() + text.size()) {
        throw BackendError(std::string("redis: job record field \"") + field +
                           "\" is not a number: " + text.substr(0, 40));
    }
    return value;
}

// Commands whose key or group may be missing (Redis lost its data and no
// worker has created the group again yet) answer errors that mean "none".
bool means_missing(const redisReply* reply) {
    if (!net::reply_is_error(reply)) return false;
    const auto why = net::reply_string(reply);
    return why.rfind("NOGROUP", 0) == 0 || why.rfind("ERR no such key", 0) == 0;
}

std::string field(const std::map<std::string, std::string>& h, const char* name) {
    auto found = h.find(name);
    return found == h.end() ? std::string() : found->second;
}

JobRecord record_from(const std::string& id, const std::map<std::string, std::string>& h) {
    JobRecord job;
    job.id = id;
    job.type = field(h, "type");
    job.state = parse_job_state(field(h, "state")).value_or(JobState::queued);
    job.attempts = static_cast<int>(to_ms(h, "attempts"));
    job.created_at = to_ms(h, "created_at");
    job.updated_at = to_ms(h, "updated_at");
    job.run_at = to_ms(h, "run_at");
    job.finished_at = to_ms(h, "finished_at");
    job.last_error = field(h, "last_error");
    job.result = field(h, "result");
    return job;
}

bool is_stream_id(const std::string& sid) { return sid.find('-') != std::string::npos; }

std::string ids_joined(const std::vector<NewJob>& jobs) {
    std::string out;
    for (const auto& job : jobs) out += (out.empty() ? "" : ",") + job.id;
    return out;
}

char kind_code(Outcome::Kind kind) {
    switch (kind) {
        case Outcome::Kind::succeeded:
            return 's';
        case Outcome::Kind::retry:
            return 'r';
        case Outcome::Kind::dead:
            return 'd';
        case Outcome::Kind::released:
            return 'x';
    }
    return 'x';
}

class RedisConsumer final : public Consumer {
public:
    RedisConsumer(RedisBackend& backend, std::string name)
        : backend_(backend), name_(std::move(name)), connection_(backend.connect()) {}

    std::vector<Delivery> fetch(std::size_t max, milliseconds wait) override {
        const auto count = std::to_string(max);
        const auto block = std::to_string(wait.count());
        net::RedisReply reply;
        try {
            if (!connection_->connected()) {
                backend_.ensure_group(*connection_);
                take_back_ = true;
            }
            if (take_back_) {
                // Nothing this consumer holds runs now (a worker fetches between
                // batches): what it holds came from a fetch whose reply was lost
                // with the connection, or from an earlier process. Deliver it again now.
                const auto r = backend_.take_back_own(*connection_, name_);
                if (r.reclaimed + r.dead_lettered > 0) backend_.log_taken_back(name_, r);
                take_back_ = false;
            }
            reply = connection_->command({"XREADGROUP", "GROUP", "workers", name_, "COUNT", count, "BLOCK", block,
                                          "STREAMS", "levqor:jobs", ">"});
            if (net::reply_is_error(reply.get())) {
                const auto why = net::reply_string(reply.get());
                if (why.rfind("NOGROUP", 0) == 0) {
                    // Redis lost its data (restarted without persistence): start over.
                    backend_.ensure_group(*connection_);
                    return {};
                }
                throw BackendError("XREADGROUP: " + why);
            }
        } catch (const BackendError&) {
            backend_.mark(false);
            throw;
        }
        backend_.mark(true);
        // A reply of another shape throws; its entries are held by this
        // consumer and delivered again after the visibility timeout.
        return parse_stream_read(reply.get());
    }

    void complete(const std::vector<Completion>& done, UnixMs now) override {
        try {
            backend_.complete_on(*connection_, done, now);
        } catch (const BackendError&) {
            backend_.mark(false);
            throw;
        }
    }

private:
    RedisBackend& backend_;
    const std::string name_;
    std::unique_ptr<net::RedisConnection> connection_;
    bool take_back_ = true;  // on a new connection, until it succeeded
};

}  // namespace

// A connection from the pool for one API call, returned when healthy.
class RedisBackend::Lease {
public:
    explicit Lease(RedisBackend& backend) : backend_(backend), connection_(backend.acquire()) {}
    ~Lease() {
        if (connection_->connected()) backend_.release(std::move(connection_));
    }
    net::RedisConnection& operator*() { return *connection_; }
    net::RedisConnection* operator->() { return connection_.get(); }

private:
    RedisBackend& backend_;
    std::unique_ptr<net::RedisConnection> connection_;
};

RedisBackend::RedisBackend(const RedisUrl& url, const std::string& spool_path, BackendSettings settings,
                           const Logger& log)
    : url_(url), settings_(settings), log_(log), spool_(spool_path), maintenance_(connect()) {
    try {
        ensure_group(*maintenance_);
    } catch (const BackendError& e) {
        mark(false);
        log_.warn("queue: redis is not reachable at start; enqueues go to the spool until it is",
                  {{"error", e.what()}});
    }
}

RedisBackend::~RedisBackend() = default;

std::unique_ptr<net::RedisConnection> RedisBackend::connect() const {
    return std::make_unique<net::RedisConnection>(url_, kConnectTimeout, kCommandTimeout);
}

void RedisBackend::ensure_group(net::RedisConnection& connection) {
    auto reply = connection.command({"XGROUP", "CREATE", "levqor:jobs", "workers", "0", "MKSTREAM"});
    if (net::reply_is_error(reply.get()) && net::reply_string(reply.get()).rfind("BUSYGROUP", 0) != 0) {
        throw BackendError("XGROUP CREATE: " + net::reply_string(reply.get()));
    }
}

void RedisBackend::log_taken_back(const std::string& consumer, const MaintenanceResult& r) {
    log_.warn("queue: a worker took back the jobs its consumer held",
              {{"consumer", consumer}, {"delivered_again", r.reclaimed}, {"dead_lettered", r.dead_lettered}});
}

void RedisBackend::mark(bool up) {
    // Every failure restarts the quiet period in which enqueues go straight
    // to the spool; the scheduler's probes say when Redis is back.
    if (!up) down_since_ = now_ms();
    const bool was = up_.exchange(up);
    if (was != up) {
        if (up) {
            log_.info("queue: redis is reachable again", {{"spooled_jobs", spool_.size()}});
        } else {
            log_.warn("queue: redis is not reachable; enqueues go to the local spool");
        }
    }
}

std::unique_ptr<net::RedisConnection> RedisBackend::acquire() {
    {
        std::lock_guard<std::mutex> lock(pool_mutex_);
        if (!pool_.empty()) {
            auto c = std::move(pool_.back());
            pool_.pop_back();
            return c;
        }
    }
    return connect();
}

void RedisBackend::release(std::unique_ptr<net::RedisConnection> connection) {
    std::lock_guard<std::mutex> lock(pool_mutex_);
    if (pool_.size() < 8) pool_.push_back(std::move(connection));
}

EnqueueResult RedisBackend::enqueue_redis(net::RedisConnection& connection, const EnqueueRequest& request) {
    const auto now = std::to_string(request.now);
    const auto ttl = std::to_string(settings_.idempotency_ttl.count());
    const auto ids = ids_joined(request.jobs);
    std::vector<std::string_view> args;
    args.reserve(7 + 3 * request.jobs.size());
    args.push_back(now);
    args.push_back(request.idempotency_key ? std::string_view(*request.idempotency_key) : "");
    args.push_back(ttl);
    args.push_back(request.fingerprint);
    args.push_back(ids);
    args.push_back(request.deliver ? "1" : "0");
    args.push_back(settings_.instance);
    for (const auto& job : request.jobs) {
        args.push_back(job.id);
        args.push_back(job.type);
        args.push_back(job.payload);
    }
    auto reply = connection.eval(enqueue_script(), args);
    constexpr std::string_view what = "enqueue script";
    const auto& answer = expect_array(reply.get(), 2, what);
    EnqueueResult result;
    if (expect_string(&element_of(answer, 0, what), what) == "replay") {
        const auto stored = expect_string(&element_of(answer, 1, what), what);
        const auto space = stored.find(' ');
        result.replayed = true;
        result.key_conflict = stored.substr(0, space) != request.fingerprint;
        const auto list = space == std::string::npos ? std::string() : stored.substr(space + 1);
        std::size_t start = 0;
        while (start < list.size()) {
            auto end = list.find(',', start);
            if (end == std::string::npos) end = list.size();
            result.ids.push_back(list.substr(start, end - start));
            start = end + 1;
        }
        return result;
    }
    for (const auto& job : request.jobs) result.ids.push_back(job.id);
    return result;
}

EnqueueResult RedisBackend::enqueue(const EnqueueRequest& request) {
    const bool known_down = !up_ && now_ms() - down_since_.load() < kRetryDownAfterMs;
    if (request.deliver && (known_down || spool_.size() > 0)) return spool_.add(request);
    try {
        Lease connection(*this);
        auto result = enqueue_redis(*connection, request);
        mark(true);
        return result;
    } catch (const BackendError& e) {
        mark(false);
        if (!request.deliver) throw;
        log_.debug("queue: enqueue spooled", {{"error", e.what()}});
        return spool_.add(request);
    }
}

void RedisBackend::complete_on(net::RedisConnection& connection, const std::vector<Completion>& done, UnixMs now) {
    if (done.empty()) return;
    const auto now_text = std::to_string(now);
    const auto retention = std::to_string(settings_.retention.count());
    // Numbers as text, kept alive for the string_views.
    std::vector<std::string> numbers;
    numbers.reserve(done.size() * 3);
    std::vector<std::string_view> args;
    args.reserve(3 + 8 * done.size());
    args.push_back(now_text);
    args.push_back(retention);
    args.push_back(settings_.instance);
    static constexpr std::string_view kKinds[] = {"s", "r", "d", "x"};
    for (const auto& c : done) {
        numbers.push_back(std::to_string(c.delivery.attempt));
        numbers.push_back(std::to_string(c.delivery.redeliveries));
        // run_at for a retry; for a success the payload bytes it frees.
        numbers.push_back(std::to_string(c.outcome.kind == Outcome::Kind::succeeded
                                             ? static_cast<UnixMs>(c.delivery.payload.size())
                                             : c.outcome.run_at));
    }
    std::size_t n = 0;
    for (const auto& c : done) {
        args.push_back(c.delivery.id);
        args.push_back(c.delivery.token);
        const char code = kind_code(c.outcome.kind);
        args.push_back(code == 's' ? kKinds[0] : code == 'r' ? kKinds[1] : code == 'd' ? kKinds[2] : kKinds[3]);
        args.push_back(numbers[n]);
        args.push_back(numbers[n + 1]);
        args.push_back(c.outcome.error);
        args.push_back(c.outcome.result);
        args.push_back(numbers[n + 2]);
        n += 3;
    }
    auto stale = connection.eval(complete_script(), args);
    expect_integer(stale.get(), "complete script");
}

void RedisBackend::complete_inline(const std::vector<Completion>& done, UnixMs now) {
    Lease connection(*this);
    complete_on(*connection, done, now);
}

std::unique_ptr<Consumer> RedisBackend::consumer(unsigned worker) {
    return std::make_unique<RedisConsumer>(*this, consumer_name(settings_.instance, worker));
}

MaintenanceResult RedisBackend::take_back(net::RedisConnection& connection, std::string_view match,
                                          std::string_view pattern, std::string_view instance) {
    const auto now_text = std::to_string(now_ms());
    const auto max_redeliveries = std::to_string(settings_.max_redeliveries);
    auto reply = connection.eval(recover_script(), {now_text, max_redeliveries, match, pattern, instance});
    constexpr std::string_view what = "recover script";
    const auto& counts = expect_array(reply.get(), 3, what);
    MaintenanceResult r;
    r.reclaimed = static_cast<std::size_t>(expect_integer(&element_of(counts, 0, what), what));
    r.dead_lettered = static_cast<std::size_t>(expect_integer(&element_of(counts, 1, what), what));
    r.inline_dead = static_cast<std::size_t>(expect_integer(&element_of(counts, 2, what), what));
    return r;
}

MaintenanceResult RedisBackend::take_back_own(net::RedisConnection& connection, const std::string& consumer) {
    return take_back(connection, "name", consumer, "");
}

MaintenanceResult RedisBackend::recover(UnixMs) {
    MaintenanceResult r;
    try {
        Lease connection(*this);
        ensure_group(*connection);
        r = take_back(*connection, "prefix", consumer_prefix(settings_.instance), settings_.instance);
    } catch (const BackendError&) {
        mark(false);
        throw;
    }
    mark(true);
    return r;
}

std::optional<JobRecord> RedisBackend::get(const std::string& id) {
    try {
        Lease connection(*this);
        auto reply = connection->command({"HGETALL", "levqor:job:" + id});
        const auto h = expect_map(reply.get(), "HGETALL");
        if (h.empty()) return spool_.find(id);
        auto job = record_from(id, h);
        const auto sid = field(h, "sid");
        if ((job.state == JobState::queued || job.state == JobState::retrying) && is_stream_id(sid)) {
            auto pending = connection->command({"XPENDING", "levqor:jobs", "workers", sid, sid, "1"});
            if (!means_missing(pending.get()) && expect_array(pending.get(), "XPENDING").elements > 0) {
                job.state = JobState::running;
            }
        }
        if (job.state == JobState::retrying && is_stream_id(sid)) job.run_at = 0;  // due now
        return job;
    } catch (const BackendError&) {
        if (auto spooled = spool_.find(id)) return spooled;
        throw;
    }
}

std::vector<JobRecord> RedisBackend::dead(std::size_t limit) {
    Lease connection(*this);
    auto reply =
        connection->command({"ZREVRANGE", "levqor:dlq", "0", std::to_string(static_cast<long long>(limit) - 1)});
    const auto& list = expect_array(reply.get(), "ZREVRANGE");
    std::vector<JobRecord> out;
    if (list.elements == 0) return out;
    std::vector<std::string> ids;
    std::vector<std::string> keys;
    std::vector<std::vector<std::string_view>> commands;
    ids.reserve(list.elements);
    keys.reserve(list.elements);
    for (std::size_t i = 0; i < list.elements; ++i) {
        ids.push_back(expect_string(&element_of(list, i, "ZREVRANGE"), "ZREVRANGE"));
        keys.push_back("levqor:job:" + ids.back());
    }
    for (const auto& key : keys) commands.push_back({"HGETALL", key});
    auto replies = connection->pipeline(commands);
    for (std::size_t i = 0; i < replies.size(); ++i) {
        const auto h = expect_map(replies[i].get(), "HGETALL");
        if (!h.empty()) out.push_back(record_from(ids[i], h));
    }
    return out;
}

std::size_t RedisBackend::retry_dead(const std::vector<std::string>& ids, bool all, UnixMs now) {
    Lease connection(*this);
    const auto now_text = std::to_string(now);
    std::vector<std::string_view> args{now_text, all ? "1" : "0"};
    for (const auto& id : ids) args.push_back(id);
    auto reply = connection->eval(retry_dead_script(), args);
    return static_cast<std::size_t>(expect_integer(reply.get(), "DLQ retry script"));
}

QueueStats RedisBackend::stats(UnixMs now) {
    QueueStats s;
    s.spool = spool_.size();
    s.spool_bytes = spool_.bytes();
    try {
        Lease connection(*this);
        auto replies = connection->pipeline({{"XLEN", "levqor:jobs"},
                                             {"XPENDING", "levqor:jobs", "workers"},
                                             {"ZCARD", "levqor:delayed"},
                                             {"ZCARD", "levqor:dlq"},
                                             {"XINFO", "GROUPS", "levqor:jobs"},
                                             {"GET", "levqor:payload_bytes"}});
        const auto length = expect_integer(replies[0].get(), "XLEN");
        if (!means_missing(replies[1].get())) {
            // [count, first id, last id, consumers]
            const auto& summary = expect_array(replies[1].get(), 4, "XPENDING");
            s.running = expect_integer(&element_of(summary, 0, "XPENDING"), "XPENDING");
        }
        s.queued = std::max<std::int64_t>(0, length - s.running);
        s.delayed = expect_integer(replies[2].get(), "ZCARD");
        s.dead = expect_integer(replies[3].get(), "ZCARD");
        std::string last_delivered = "0-0";
        if (!means_missing(replies[4].get())) {
            const auto& groups = expect_array(replies[4].get(), "XINFO GROUPS");
            for (std::size_t g = 0; g < groups.elements; ++g) {
                const auto info = expect_map(&element_of(groups, g, "XINFO GROUPS"), "XINFO GROUPS");
                if (field(info, "name") == "workers") last_delivered = field(info, "last-delivered-id");
            }
        }
        if (!reply_is_nil(replies[5].get())) {
            s.payload_bytes = std::max<std::int64_t>(0, expect_integer(replies[5].get(), "GET"));
        }
        if (s.queued > 0) {
            auto next = connection->command({"XRANGE", "levqor:jobs", "(" + last_delivered, "+", "COUNT", "1"});
            const auto& entries = expect_array(next.get(), "XRANGE");
            if (entries.elements > 0) {
                const auto& entry = expect_array(&element_of(entries, 0, "XRANGE"), 2, "XRANGE entry");
                const auto sid = expect_string(&element_of(entry, 0, "XRANGE"), "XRANGE entry id");
                long long ms = 0;
                std::from_chars(sid.data(), sid.data() + sid.size(), ms);
                s.oldest_age_s = std::max(0.0, static_cast<double>(now - ms) / 1000.0);
            }
        }
        if (!up_) mark(true);
    } catch (const BackendError& e) {
        s.up = false;
        s.error = e.what();
    }
    return s;
}

std::size_t RedisBackend::drain(UnixMs now) {
    std::size_t moved = 0;
    // A bounded amount per round, so promotions and reclaims keep their pace.
    for (int round = 0; round < 50; ++round) {
        auto next = spool_.oldest();
        if (!next) break;
        auto& [seq, request] = *next;
        request.deliver = true;
        const auto result = enqueue_redis(*maintenance_, request);
        std::vector<std::string> spooled_ids;
        for (const auto& job : request.jobs) spooled_ids.push_back(job.id);
        // The same ids: this request reached Redis just before it went away.
        if (result.replayed && result.ids != spooled_ids) {
            log_.warn("queue: spooled jobs dropped: their Idempotency-Key was already used in redis",
                      {{"idempotency_key", *request.idempotency_key},
                       {"spooled_ids", ids_joined(request.jobs)},
                       {"original_ids", result.ids.empty() ? "" : result.ids.front()}});
        } else {
            moved += request.jobs.size();
        }
        spool_.remove(seq);
    }
    (void)now;
    return moved;
}

MaintenanceResult RedisBackend::maintain(UnixMs now) {
    MaintenanceResult r;
    try {
        if (!maintenance_->connected()) ensure_group(*maintenance_);
        const auto now_text = std::to_string(now);
        r.drained = drain(now);
        const auto promoted = maintenance_->eval(promote_script(), {now_text, "1000"});
        r.promoted = static_cast<std::size_t>(expect_integer(promoted.get(), "promote script"));
        const auto idle = std::to_string(settings_.visibility_timeout.count());
        const auto max_redeliveries = std::to_string(settings_.max_redeliveries);
        const auto reclaimed = maintenance_->eval(reclaim_script(), {now_text, max_redeliveries, idle, "1000"});
        constexpr std::string_view what = "reclaim script";
        const auto& counts = expect_array(reclaimed.get(), 2, what);
        r.reclaimed = static_cast<std::size_t>(expect_integer(&element_of(counts, 0, what), what));
        r.dead_lettered = static_cast<std::size_t>(expect_integer(&element_of(counts, 1, what), what));
        if (now - last_cleanup_ >= 60000) {
            last_cleanup_ = now;
            // Consumers that hold nothing and were idle for an hour: other
            // installations that are gone, older controlds' per-process names,
            // workers beyond a lowered queue.workers. A live worker polls every
            // 250 ms, so it is never that idle.
            const auto forgotten = maintenance_->eval(forget_consumers_script(), {"3600000"});
            expect_integer(forgotten.get(), "forget-consumers script");
        }
        mark(true);
    } catch (const BackendError& e) {
        mark(false);
        throw;
    }
    return r;
}

}  // namespace levqor::controld::queue
