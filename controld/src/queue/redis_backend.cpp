#include "levqor/controld/queue/redis_backend.h"

#include <hiredis/hiredis.h>

#include <map>

#include "redis_scripts.h"

namespace levqor::controld::queue {
namespace {

using std::chrono::milliseconds;

constexpr milliseconds kConnectTimeout{1000};
constexpr milliseconds kCommandTimeout{5000};
// While Redis is known to be down, enqueues go straight to the spool for
// this long before one tries Redis again (maintain() probes meanwhile).
constexpr UnixMs kRetryDownAfterMs = 1000;

const RedisScript& enqueue_script() {
  static const RedisScript s(scripts::kEnqueue);
  return s;
}
const RedisScript& complete_script() {
  static const RedisScript s(scripts::kComplete);
  return s;
}
const RedisScript& promote_script() {
  static const RedisScript s(scripts::kPromote);
  return s;
}
const RedisScript& reclaim_script() {
  static const RedisScript s(scripts::kReclaim);
  return s;
}
const RedisScript& forget_consumers_script() {
  static const RedisScript s(scripts::kForgetConsumers);
  return s;
}
const RedisScript& retry_dead_script() {
  static const RedisScript s(scripts::kRetryDead);
  return s;
}

std::map<std::string, std::string> hash_of(const redisReply* reply) {
  std::map<std::string, std::string> out;
  if (reply == nullptr || reply->type != REDIS_REPLY_ARRAY) return out;
  for (std::size_t i = 0; i + 1 < reply->elements; i += 2) {
    out[reply_string(reply->element[i])] = reply_string(reply->element[i + 1]);
  }
  return out;
}

UnixMs to_ms(const std::map<std::string, std::string>& h, const char* field) {
  auto found = h.find(field);
  return found == h.end() || found->second.empty() ? 0 : std::atoll(found->second.c_str());
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
    case Outcome::Kind::succeeded: return 's';
    case Outcome::Kind::retry: return 'r';
    case Outcome::Kind::dead: return 'd';
    case Outcome::Kind::released: return 'x';
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
    RedisReply reply;
    try {
      if (!connection_->connected()) backend_.ensure_group(*connection_);
      reply = connection_->command({"XREADGROUP", "GROUP", "workers", name_, "COUNT", count,
                                    "BLOCK", block, "STREAMS", "levqor:jobs", ">"});
      if (reply_is_error(reply.get())) {
        const auto why = reply_string(reply.get());
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
    std::vector<Delivery> out;
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements == 0) return out;
    const redisReply* entries = reply->element[0]->element[1];
    out.reserve(entries->elements);
    for (std::size_t i = 0; i < entries->elements; ++i) {
      const redisReply* entry = entries->element[i];
      Delivery d;
      d.token = reply_string(entry->element[0]);
      const redisReply* fields = entry->element[1];
      if (fields == nullptr || fields->type != REDIS_REPLY_ARRAY) continue;
      for (std::size_t j = 0; j + 1 < fields->elements; j += 2) {
        const redisReply* k = fields->element[j];
        const redisReply* v = fields->element[j + 1];
        const std::string_view key(k->str, k->len);
        if (key == "id") {
          d.id.assign(v->str, v->len);
        } else if (key == "type") {
          d.type.assign(v->str, v->len);
        } else if (key == "payload") {
          d.payload.assign(v->str, v->len);
        } else if (key == "attempt") {
          d.attempt = std::atoi(v->str);
        } else if (key == "redeliveries") {
          d.redeliveries = std::atoi(v->str);
        }
      }
      out.push_back(std::move(d));
    }
    return out;
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
  std::unique_ptr<RedisConnection> connection_;
};

}  // namespace

// A connection from the pool for one API call, returned when healthy.
class RedisBackend::Lease {
 public:
  explicit Lease(RedisBackend& backend) : backend_(backend), connection_(backend.acquire()) {}
  ~Lease() {
    if (connection_->connected()) backend_.release(std::move(connection_));
  }
  RedisConnection& operator*() { return *connection_; }
  RedisConnection* operator->() { return connection_.get(); }

 private:
  RedisBackend& backend_;
  std::unique_ptr<RedisConnection> connection_;
};

RedisBackend::RedisBackend(const RedisUrl& url, const std::string& spool_path,
                           BackendSettings settings, const Logger& log)
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

std::unique_ptr<RedisConnection> RedisBackend::connect() const {
  return std::make_unique<RedisConnection>(url_, kConnectTimeout, kCommandTimeout);
}

void RedisBackend::ensure_group(RedisConnection& connection) {
  auto reply = connection.command({"XGROUP", "CREATE", "levqor:jobs", "workers", "0", "MKSTREAM"});
  if (reply_is_error(reply.get()) && reply_string(reply.get()).rfind("BUSYGROUP", 0) != 0) {
    throw BackendError("XGROUP CREATE: " + reply_string(reply.get()));
  }
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

std::unique_ptr<RedisConnection> RedisBackend::acquire() {
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

void RedisBackend::release(std::unique_ptr<RedisConnection> connection) {
  std::lock_guard<std::mutex> lock(pool_mutex_);
  if (pool_.size() < 8) pool_.push_back(std::move(connection));
}

EnqueueResult RedisBackend::enqueue_redis(RedisConnection& connection,
                                          const EnqueueRequest& request) {
  const auto now = std::to_string(request.now);
  const auto ttl = std::to_string(settings_.idempotency_ttl.count());
  const auto ids = ids_joined(request.jobs);
  std::vector<std::string_view> args;
  args.reserve(6 + 3 * request.jobs.size());
  args.push_back(now);
  args.push_back(request.idempotency_key ? std::string_view(*request.idempotency_key) : "");
  args.push_back(ttl);
  args.push_back(request.fingerprint);
  args.push_back(ids);
  args.push_back(request.deliver ? "1" : "0");
  for (const auto& job : request.jobs) {
    args.push_back(job.id);
    args.push_back(job.type);
    args.push_back(job.payload);
  }
  auto reply = connection.eval(enqueue_script(), args);
  EnqueueResult result;
  if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 &&
      reply_string(reply->element[0]) == "replay") {
    const auto stored = reply_string(reply->element[1]);
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

void RedisBackend::complete_on(RedisConnection& connection, const std::vector<Completion>& done,
                               UnixMs now) {
  if (done.empty()) return;
  const auto now_text = std::to_string(now);
  const auto retention = std::to_string(settings_.retention.count());
  // Numbers as text, kept alive for the string_views.
  std::vector<std::string> numbers;
  numbers.reserve(done.size() * 3);
  std::vector<std::string_view> args;
  args.reserve(2 + 8 * done.size());
  args.push_back(now_text);
  args.push_back(retention);
  static constexpr std::string_view kKinds[] = {"s", "r", "d", "x"};
  for (const auto& c : done) {
    numbers.push_back(std::to_string(c.delivery.attempt));
    numbers.push_back(std::to_string(c.delivery.redeliveries));
    numbers.push_back(std::to_string(c.outcome.run_at));
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
  connection.eval(complete_script(), args);
}

void RedisBackend::complete_inline(const std::vector<Completion>& done, UnixMs now) {
  Lease connection(*this);
  complete_on(*connection, done, now);
}

std::unique_ptr<Consumer> RedisBackend::consumer(const std::string& name) {
  return std::make_unique<RedisConsumer>(*this, name);
}

std::optional<JobRecord> RedisBackend::get(const std::string& id) {
  try {
    Lease connection(*this);
    auto reply = connection->command({"HGETALL", "levqor:job:" + id});
    if (reply_is_error(reply.get())) throw BackendError("HGETALL: " + reply_string(reply.get()));
    const auto h = hash_of(reply.get());
    if (h.empty()) return spool_.find(id);
    auto job = record_from(id, h);
    const auto sid = field(h, "sid");
    if ((job.state == JobState::queued || job.state == JobState::retrying) && is_stream_id(sid)) {
      auto pending = connection->command({"XPENDING", "levqor:jobs", "workers", sid, sid, "1"});
      if (pending && pending->type == REDIS_REPLY_ARRAY && pending->elements > 0) {
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
  auto ids = connection->command(
      {"ZREVRANGE", "levqor:dlq", "0", std::to_string(static_cast<long long>(limit) - 1)});
  std::vector<JobRecord> out;
  if (!ids || ids->type != REDIS_REPLY_ARRAY || ids->elements == 0) return out;
  std::vector<std::string> keys;
  std::vector<std::vector<std::string_view>> commands;
  keys.reserve(ids->elements);
  for (std::size_t i = 0; i < ids->elements; ++i) {
    keys.push_back("levqor:job:" + reply_string(ids->element[i]));
  }
  for (const auto& key : keys) commands.push_back({"HGETALL", key});
  auto replies = connection->pipeline(commands);
  for (std::size_t i = 0; i < replies.size(); ++i) {
    const auto h = hash_of(replies[i].get());
    if (!h.empty()) out.push_back(record_from(reply_string(ids->element[i]), h));
  }
  return out;
}

std::size_t RedisBackend::retry_dead(const std::vector<std::string>& ids, bool all, UnixMs now) {
  Lease connection(*this);
  const auto now_text = std::to_string(now);
  std::vector<std::string_view> args{now_text, all ? "1" : "0"};
  for (const auto& id : ids) args.push_back(id);
  auto reply = connection->eval(retry_dead_script(), args);
  return static_cast<std::size_t>(reply_integer(reply.get()));
}

QueueStats RedisBackend::stats(UnixMs now) {
  QueueStats s;
  s.spool = spool_.size();
  try {
    Lease connection(*this);
    auto replies = connection->pipeline({{"XLEN", "levqor:jobs"},
                                         {"XPENDING", "levqor:jobs", "workers"},
                                         {"ZCARD", "levqor:delayed"},
                                         {"ZCARD", "levqor:dlq"},
                                         {"XINFO", "GROUPS", "levqor:jobs"}});
    const auto length = reply_integer(replies[0].get());
    const auto* pending = replies[1].get();
    s.running = pending->type == REDIS_REPLY_ARRAY && pending->elements > 0
                    ? reply_integer(pending->element[0])
                    : 0;
    s.queued = std::max<std::int64_t>(0, length - s.running);
    s.delayed = reply_integer(replies[2].get());
    s.dead = reply_integer(replies[3].get());
    std::string last_delivered = "0-0";
    const auto* groups = replies[4].get();
    if (groups->type == REDIS_REPLY_ARRAY) {
      for (std::size_t g = 0; g < groups->elements; ++g) {
        const auto info = hash_of(groups->element[g]);
        if (field(info, "name") == "workers") last_delivered = field(info, "last-delivered-id");
      }
    }
    if (s.queued > 0) {
      auto next = connection->command(
          {"XRANGE", "levqor:jobs", "(" + last_delivered, "+", "COUNT", "1"});
      if (next && next->type == REDIS_REPLY_ARRAY && next->elements > 0) {
        const auto sid = reply_string(next->element[0]->element[0]);
        const auto ms = std::atoll(sid.substr(0, sid.find('-')).c_str());
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
    r.promoted = static_cast<std::size_t>(reply_integer(promoted.get()));
    const auto idle = std::to_string(settings_.visibility_timeout.count());
    const auto max_redeliveries = std::to_string(settings_.max_redeliveries);
    const auto reclaimed =
        maintenance_->eval(reclaim_script(), {now_text, idle, max_redeliveries, "1000"});
    if (reclaimed->type == REDIS_REPLY_ARRAY && reclaimed->elements == 2) {
      r.reclaimed = static_cast<std::size_t>(reply_integer(reclaimed->element[0]));
      r.dead_lettered = static_cast<std::size_t>(reply_integer(reclaimed->element[1]));
    }
    if (now - last_cleanup_ >= 60000) {
      last_cleanup_ = now;
      // Consumers of controld processes that are gone (restarts, kill -9).
      maintenance_->eval(forget_consumers_script(), {"3600000"});
    }
    mark(true);
  } catch (const BackendError& e) {
    mark(false);
    throw;
  }
  return r;
}

}  // namespace levqor::controld::queue
