// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/queue/sqlite_backend.h"

#include <atomic>
#include <limits>

namespace levqor::controld::queue {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS jobs (
  seq          INTEGER PRIMARY KEY AUTOINCREMENT,
  id           TEXT NOT NULL UNIQUE,
  type         TEXT NOT NULL,
  payload      TEXT NOT NULL,
  state        TEXT NOT NULL,
  attempts     INTEGER NOT NULL DEFAULT 0,
  redeliveries INTEGER NOT NULL DEFAULT 0,
  created_at   INTEGER NOT NULL,
  updated_at   INTEGER NOT NULL,
  run_at       INTEGER NOT NULL,
  ready_at     INTEGER,
  finished_at  INTEGER,
  lease_token  TEXT,
  lease_until  INTEGER,
  last_error   TEXT,
  result       TEXT
);
CREATE INDEX IF NOT EXISTS jobs_ready ON jobs(ready_at) WHERE ready_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS jobs_leases ON jobs(lease_until) WHERE lease_until IS NOT NULL;
CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state, finished_at);
CREATE TABLE IF NOT EXISTS idempotency (
  key         TEXT PRIMARY KEY,
  fingerprint TEXT NOT NULL,
  ids         TEXT NOT NULL,
  created_at  INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS idempotency_age ON idempotency(created_at);
)sql";

constexpr const char* kRecordColumns =
    "id, type, state, attempts, created_at, updated_at, run_at, finished_at, last_error, result";

JobRecord record_from(const SqliteDb::Statement& row) {
    JobRecord job;
    job.id = row.text(0);
    job.type = row.text(1);
    job.state = parse_job_state(row.text(2)).value_or(JobState::queued);
    job.attempts = static_cast<int>(row.integer(3));
    job.created_at = row.integer(4);
    job.updated_at = row.integer(5);
    job.run_at = row.integer(6);
    job.finished_at = row.is_null(7) ? 0 : row.integer(7);
    job.last_error = row.text(8);
    job.result = row.text(9);
    return job;
}

std::vector<std::string> split_ids(const std::string& text) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start < text.size()) {
        auto end = text.find(',', start);
        if (end == std::string::npos) end = text.size();
        out.push_back(text.substr(start, end - start));
        start = end + 1;
    }
    return out;
}

std::string join_ids(const std::vector<NewJob>& jobs) {
    std::string out;
    for (const auto& job : jobs) out += (out.empty() ? "" : ",") + job.id;
    return out;
}

// The bytes a payload takes in the file (length() of TEXT counts characters).
constexpr const char* kPayloadBytes = "length(CAST(payload AS BLOB))";

class SqliteConsumer final : public Consumer {
public:
    SqliteConsumer(SqliteBackend& backend, std::string name) : backend_(backend), name_(std::move(name)) {}
    // Lease tokens: worker, process, fetch; unique within the file.
    std::vector<Delivery> fetch(std::size_t max, std::chrono::milliseconds wait) override {
        return backend_.fetch(name_ + ":" + std::to_string(++fetches_), max, wait);
    }
    void complete(const std::vector<Completion>& done, UnixMs now) override { backend_.complete(done, now); }

private:
    SqliteBackend& backend_;
    const std::string name_;
    std::uint64_t fetches_ = 0;
};

}  // namespace

SqliteBackend::SqliteBackend(const std::string& path, BackendSettings settings)
    : settings_(settings), run_(std::to_string(now_ms())), db_(path) {
    db_.exec(kSchema);
    auto bytes =
        db_.prepare(std::string("SELECT coalesce(sum(") + kPayloadBytes + "), 0) FROM jobs WHERE state != 'succeeded'");
    if (bytes.step()) payload_bytes_ = bytes.integer(0);
}

EnqueueResult SqliteBackend::enqueue(const EnqueueRequest& request) {
    EnqueueResult result;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        SqliteDb::Transaction tx(db_);
        if (request.idempotency_key) {
            const auto ids = join_ids(request.jobs);
            auto claim = db_.prepare(
                "INSERT INTO idempotency(key, fingerprint, ids, created_at) VALUES(?1, ?2, ?3, ?4) "
                "ON CONFLICT(key) DO UPDATE SET fingerprint = excluded.fingerprint, ids = "
                "excluded.ids, created_at = excluded.created_at WHERE idempotency.created_at < ?5");
            claim.bind(1, *request.idempotency_key)
                .bind(2, request.fingerprint)
                .bind(3, ids)
                .bind(4, request.now)
                .bind(5, request.now - std::int64_t(settings_.idempotency_ttl.count()) * 1000);
            claim.run();
            if (db_.changes() == 0) {
                // The key is taken and has not expired: answer the original jobs.
                auto original = db_.prepare("SELECT fingerprint, ids FROM idempotency WHERE key = ?1");
                original.bind(1, *request.idempotency_key);
                if (!original.step()) db_.fail("idempotency key vanished");
                result.replayed = true;
                result.key_conflict = original.text(0) != request.fingerprint;
                result.ids = split_ids(original.text(1));
                return result;
            }
        }
        auto insert = db_.prepare(
            "INSERT INTO jobs(id, type, payload, state, created_at, updated_at, run_at, ready_at, "
            "lease_token) VALUES(?1, ?2, ?3, ?4, ?5, ?5, ?5, ?6, ?7) ON CONFLICT(id) DO NOTHING");
        std::int64_t added_bytes = 0;
        for (const auto& job : request.jobs) {
            insert.reset();
            insert.bind(1, job.id).bind(2, job.type).bind(3, job.payload).bind(5, request.now);
            if (request.deliver) {
                insert.bind(4, std::string_view("queued")).bind(6, request.now).bind_null(7);
            } else {
                insert.bind(4, std::string_view("running")).bind_null(6).bind(7, std::string_view("inline"));
            }
            insert.run();
            if (db_.changes() > 0) added_bytes += static_cast<std::int64_t>(job.payload.size());
            result.ids.push_back(job.id);
        }
        tx.commit();
        payload_bytes_ += added_bytes;
    }
    if (request.deliver) notify();
    return result;
}

std::vector<Delivery> SqliteBackend::fetch_now(const std::string& token, std::size_t max, UnixMs now) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto take = db_.prepare(
        "UPDATE jobs SET state = 'running', lease_token = ?1, lease_until = ?2, ready_at = NULL, "
        "updated_at = ?3 WHERE seq IN (SELECT seq FROM jobs WHERE ready_at <= ?3 ORDER BY "
        "ready_at LIMIT ?4) RETURNING id, type, payload, attempts, redeliveries");
    take.bind(1, token)
        .bind(2, now + settings_.visibility_timeout.count())
        .bind(3, now)
        .bind(4, static_cast<std::int64_t>(max));
    std::vector<Delivery> out;
    while (take.step()) {
        Delivery d;
        d.id = take.text(0);
        d.type = take.text(1);
        d.payload = take.text(2);
        d.attempt = static_cast<int>(take.integer(3)) + 1;
        d.redeliveries = static_cast<int>(take.integer(4));
        d.token = token;
        out.push_back(std::move(d));
    }
    return out;
}

std::vector<Delivery> SqliteBackend::fetch(const std::string& token, std::size_t max, std::chrono::milliseconds wait) {
    const auto deadline = std::chrono::steady_clock::now() + wait;
    for (;;) {
        std::uint64_t generation;
        {
            std::lock_guard<std::mutex> lock(wake_mutex_);
            generation = wake_generation_;
        }
        auto jobs = fetch_now(token, max, now_ms());
        if (!jobs.empty()) return jobs;
        const auto now = std::chrono::steady_clock::now();
        if (now >= deadline) return jobs;
        // Retries fall due without a notification: look again at least every 100 ms.
        std::unique_lock<std::mutex> lock(wake_mutex_);
        wake_.wait_until(lock, std::min(deadline, now + std::chrono::milliseconds(100)),
                         [&] { return wake_generation_ != generation; });
        if (wake_generation_ != generation && wait.count() == 0) return {};
    }
}

void SqliteBackend::notify() {
    {
        std::lock_guard<std::mutex> lock(wake_mutex_);
        ++wake_generation_;
    }
    wake_.notify_all();
}

void SqliteBackend::complete(const std::vector<Completion>& done, UnixMs now) {
    if (done.empty()) return;
    bool released = false;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        SqliteDb::Transaction tx(db_);
        auto succeeded = db_.prepare(
            "UPDATE jobs SET state = 'succeeded', attempts = ?3, updated_at = ?4, finished_at = ?4, "
            "result = ?5, payload = '', lease_token = NULL, lease_until = NULL "
            "WHERE id = ?1 AND lease_token = ?2");
        auto retry = db_.prepare(
            "UPDATE jobs SET state = 'retrying', attempts = ?3, updated_at = ?4, run_at = ?6, "
            "ready_at = ?6, last_error = ?7, result = ?5, lease_token = NULL, lease_until = NULL "
            "WHERE id = ?1 AND lease_token = ?2");
        auto dead = db_.prepare(
            "UPDATE jobs SET state = 'dead', attempts = ?3, updated_at = ?4, finished_at = ?4, "
            "last_error = ?7, result = ?5, lease_token = NULL, lease_until = NULL "
            "WHERE id = ?1 AND lease_token = ?2");
        auto release = db_.prepare(
            "UPDATE jobs SET state = CASE WHEN attempts = 0 THEN 'queued' ELSE 'retrying' END, "
            "updated_at = ?4, ready_at = ?4, lease_token = NULL, lease_until = NULL "
            "WHERE id = ?1 AND lease_token = ?2 AND ?3 = ?3");
        std::int64_t freed_bytes = 0;
        for (const auto& c : done) {
            SqliteDb::Statement* stmt = nullptr;
            switch (c.outcome.kind) {
                case Outcome::Kind::succeeded:
                    stmt = &succeeded;
                    break;
                case Outcome::Kind::retry:
                    stmt = &retry;
                    break;
                case Outcome::Kind::dead:
                    stmt = &dead;
                    break;
                case Outcome::Kind::released:
                    stmt = &release;
                    released = true;
                    break;
            }
            stmt->reset();
            stmt->bind(1, c.delivery.id)
                .bind(2, c.delivery.token)
                .bind(3, std::int64_t{c.delivery.attempt})
                .bind(4, now);
            if (c.outcome.kind != Outcome::Kind::released) {
                if (c.outcome.result.empty()) {
                    stmt->bind_null(5);
                } else {
                    stmt->bind(5, c.outcome.result);
                }
            }
            if (c.outcome.kind == Outcome::Kind::retry) stmt->bind(6, c.outcome.run_at);
            if (c.outcome.kind == Outcome::Kind::retry || c.outcome.kind == Outcome::Kind::dead) {
                stmt->bind(7, c.outcome.error);
            }
            stmt->run();
            if (c.outcome.kind == Outcome::Kind::succeeded && db_.changes() > 0) {
                freed_bytes += static_cast<std::int64_t>(c.delivery.payload.size());
            }
        }
        tx.commit();
        payload_bytes_ -= freed_bytes;
    }
    if (released) notify();
}

void SqliteBackend::complete_inline(const std::vector<Completion>& done, UnixMs now) { complete(done, now); }

std::unique_ptr<Consumer> SqliteBackend::consumer(unsigned worker) {
    return std::make_unique<SqliteConsumer>(*this, std::to_string(worker) + ":" + run_);
}

std::optional<JobRecord> SqliteBackend::get(const std::string& id) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto q = db_.prepare(std::string("SELECT ") + kRecordColumns + " FROM jobs WHERE id = ?1");
    q.bind(1, id);
    if (!q.step()) return std::nullopt;
    return record_from(q);
}

std::vector<JobRecord> SqliteBackend::dead(std::size_t limit) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto q = db_.prepare(std::string("SELECT ") + kRecordColumns +
                         " FROM jobs WHERE state = 'dead' ORDER BY finished_at DESC LIMIT ?1");
    q.bind(1, static_cast<std::int64_t>(limit));
    std::vector<JobRecord> out;
    while (q.step()) out.push_back(record_from(q));
    return out;
}

std::size_t SqliteBackend::retry_dead(const std::vector<std::string>& ids, bool all, UnixMs now) {
    std::size_t n = 0;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        SqliteDb::Transaction tx(db_);
        const std::string set =
            "UPDATE jobs SET state = 'queued', attempts = 0, redeliveries = 0, updated_at = ?1, "
            "run_at = ?1, ready_at = ?1, finished_at = NULL WHERE state = 'dead'";
        if (all) {
            auto q = db_.prepare(set);
            q.bind(1, now);
            q.run();
            n = static_cast<std::size_t>(db_.changes());
        } else {
            auto q = db_.prepare(set + " AND id = ?2");
            for (const auto& id : ids) {
                q.reset();
                q.bind(1, now).bind(2, id);
                q.run();
                n += static_cast<std::size_t>(db_.changes());
            }
        }
        tx.commit();
    }
    if (n > 0) notify();
    return n;
}

QueueStats SqliteBackend::stats(UnixMs now) {
    QueueStats s;
    try {
        std::lock_guard<std::mutex> lock(mutex_);
        auto ready =
            db_.prepare("SELECT count(*), min(ready_at) FROM jobs WHERE ready_at IS NOT NULL AND ready_at <= ?1");
        ready.bind(1, now);
        if (ready.step()) {
            s.queued = ready.integer(0);
            if (!ready.is_null(1)) s.oldest_age_s = static_cast<double>(now - ready.integer(1)) / 1000.0;
        }
        auto delayed = db_.prepare("SELECT count(*) FROM jobs WHERE ready_at > ?1");
        delayed.bind(1, now);
        if (delayed.step()) s.delayed = delayed.integer(0);
        auto running = db_.prepare("SELECT count(*) FROM jobs WHERE state = 'running'");
        if (running.step()) s.running = running.integer(0);
        auto dead = db_.prepare("SELECT count(*) FROM jobs WHERE state = 'dead'");
        if (dead.step()) s.dead = dead.integer(0);
        s.payload_bytes = payload_bytes_;
    } catch (const BackendError& e) {
        s.up = false;
        s.error = e.what();
    }
    return s;
}

void SqliteBackend::reclaim_leases(UnixMs now, UnixMs expired_by, MaintenanceResult& r) {
    auto dead = db_.prepare(
        "UPDATE jobs SET state = 'dead', updated_at = ?1, finished_at = ?1, lease_token = NULL, "
        "lease_until = NULL, last_error = 'delivered ' || (redeliveries + 1) || ' times without "
        "completing (the visibility timeout ran out, or controld was killed, each time)' "
        "WHERE lease_until <= ?3 AND redeliveries + 1 >= ?2");
    dead.bind(1, now).bind(2, std::int64_t{settings_.max_redeliveries}).bind(3, expired_by);
    dead.run();
    r.dead_lettered += static_cast<std::size_t>(db_.changes());
    auto reclaim = db_.prepare(
        "UPDATE jobs SET state = CASE WHEN attempts = 0 THEN 'queued' ELSE 'retrying' END, "
        "redeliveries = redeliveries + 1, updated_at = ?1, ready_at = min(lease_until, ?1), "
        "lease_token = NULL, lease_until = NULL WHERE lease_until <= ?2");
    reclaim.bind(1, now).bind(2, expired_by);
    reclaim.run();
    r.reclaimed += static_cast<std::size_t>(db_.changes());
}

MaintenanceResult SqliteBackend::recover(UnixMs now) {
    MaintenanceResult r;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        SqliteDb::Transaction tx(db_);
        reclaim_leases(now, std::numeric_limits<UnixMs>::max(), r);
        auto inline_jobs = db_.prepare(
            "UPDATE jobs SET state = 'dead', updated_at = ?1, finished_at = ?1, lease_token = NULL, "
            "last_error = 'controld stopped while the job ran inline (NEW_QUEUE_ENABLED=off runs "
            "each job once; not retried)' WHERE state = 'running' AND lease_token = 'inline'");
        inline_jobs.bind(1, now);
        inline_jobs.run();
        r.inline_dead = static_cast<std::size_t>(db_.changes());
        tx.commit();
    }
    if (r.reclaimed > 0) notify();
    return r;
}

MaintenanceResult SqliteBackend::maintain(UnixMs now) {
    MaintenanceResult r;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        SqliteDb::Transaction tx(db_);
        reclaim_leases(now, now, r);
        if (now - last_expiry_ >= 60000) {
            last_expiry_ = now;
            auto old_jobs = db_.prepare("DELETE FROM jobs WHERE state = 'succeeded' AND finished_at < ?1");
            old_jobs.bind(1, now - std::int64_t(settings_.retention.count()) * 1000);
            old_jobs.run();
            r.expired += static_cast<std::size_t>(db_.changes());
            auto old_keys = db_.prepare("DELETE FROM idempotency WHERE created_at < ?1");
            old_keys.bind(1, now - std::int64_t(settings_.idempotency_ttl.count()) * 1000);
            old_keys.run();
            r.expired += static_cast<std::size_t>(db_.changes());
        }
        tx.commit();
    }
    if (r.reclaimed > 0) notify();
    return r;
}

}  // namespace levqor::controld::queue
