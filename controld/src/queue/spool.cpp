// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/queue/spool.h"

namespace levqor::controld::queue {
namespace {

constexpr const char* kSpoolSchema = R"sql(
CREATE TABLE IF NOT EXISTS spool_requests (
  seq             INTEGER PRIMARY KEY AUTOINCREMENT,
  idempotency_key TEXT UNIQUE,
  fingerprint     TEXT NOT NULL,
  created_at      INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS spool_jobs (
  id      TEXT PRIMARY KEY,
  request INTEGER NOT NULL REFERENCES spool_requests(seq) ON DELETE CASCADE,
  pos     INTEGER NOT NULL,
  type    TEXT NOT NULL,
  payload TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS spool_jobs_request ON spool_jobs(request, pos);
)sql";

}  // namespace

Spool::Spool(const std::string& path) : db_(path) {
    db_.exec(kSpoolSchema);
    auto count = db_.prepare("SELECT count(*), coalesce(sum(length(CAST(payload AS BLOB))), 0) FROM spool_jobs");
    if (count.step()) {
        size_ = count.integer(0);
        bytes_ = count.integer(1);
    }
}

EnqueueResult Spool::add(const EnqueueRequest& request) {
    std::lock_guard<std::mutex> lock(mutex_);
    EnqueueResult result;
    result.spooled = true;
    SqliteDb::Transaction tx(db_);
    auto insert = db_.prepare(
        "INSERT INTO spool_requests(idempotency_key, fingerprint, created_at) VALUES(?1, ?2, ?3) "
        "ON CONFLICT(idempotency_key) DO NOTHING");
    if (request.idempotency_key) {
        insert.bind(1, *request.idempotency_key);
    } else {
        insert.bind_null(1);
    }
    insert.bind(2, request.fingerprint).bind(3, request.now);
    insert.run();
    if (db_.changes() == 0) {
        auto original = db_.prepare(
            "SELECT r.fingerprint, j.id FROM spool_requests r JOIN spool_jobs j ON j.request = r.seq "
            "WHERE r.idempotency_key = ?1 ORDER BY j.pos");
        original.bind(1, *request.idempotency_key);
        while (original.step()) {
            result.key_conflict = original.text(0) != request.fingerprint;
            result.ids.push_back(original.text(1));
        }
        result.replayed = true;
        return result;
    }
    auto seq = db_.prepare("SELECT last_insert_rowid()");
    seq.step();
    const auto request_seq = seq.integer(0);
    auto job = db_.prepare("INSERT INTO spool_jobs(id, request, pos, type, payload) VALUES(?1, ?2, ?3, ?4, ?5)");
    std::int64_t pos = 0;
    std::int64_t added_bytes = 0;
    for (const auto& j : request.jobs) {
        job.reset();
        job.bind(1, j.id).bind(2, request_seq).bind(3, pos++).bind(4, j.type).bind(5, j.payload);
        job.run();
        added_bytes += static_cast<std::int64_t>(j.payload.size());
        result.ids.push_back(j.id);
    }
    tx.commit();
    size_ += static_cast<std::int64_t>(request.jobs.size());
    bytes_ += added_bytes;
    return result;
}

std::optional<std::pair<std::int64_t, EnqueueRequest>> Spool::oldest() {
    std::lock_guard<std::mutex> lock(mutex_);
    auto head = db_.prepare(
        "SELECT seq, idempotency_key, fingerprint, created_at FROM spool_requests ORDER BY seq "
        "LIMIT 1");
    if (!head.step()) return std::nullopt;
    std::pair<std::int64_t, EnqueueRequest> out;
    out.first = head.integer(0);
    if (!head.is_null(1)) out.second.idempotency_key = head.text(1);
    out.second.fingerprint = head.text(2);
    out.second.now = head.integer(3);
    auto jobs = db_.prepare("SELECT id, type, payload FROM spool_jobs WHERE request = ?1 ORDER BY pos");
    jobs.bind(1, out.first);
    while (jobs.step()) out.second.jobs.push_back(NewJob{jobs.text(0), jobs.text(1), jobs.text(2)});
    return out;
}

void Spool::remove(std::int64_t seq) {
    std::lock_guard<std::mutex> lock(mutex_);
    SqliteDb::Transaction tx(db_);
    auto measure =
        db_.prepare("SELECT coalesce(sum(length(CAST(payload AS BLOB))), 0) FROM spool_jobs WHERE request = ?1");
    measure.bind(1, seq);
    const auto removed_bytes = measure.step() ? measure.integer(0) : 0;
    measure.reset();
    auto del_jobs = db_.prepare("DELETE FROM spool_jobs WHERE request = ?1");
    del_jobs.bind(1, seq);
    del_jobs.run();
    const auto removed = db_.changes();
    auto del = db_.prepare("DELETE FROM spool_requests WHERE seq = ?1");
    del.bind(1, seq);
    del.run();
    tx.commit();
    size_ -= removed;
    bytes_ -= removed_bytes;
}

std::int64_t Spool::size() {
    std::lock_guard<std::mutex> lock(mutex_);
    return size_;
}

std::int64_t Spool::bytes() {
    std::lock_guard<std::mutex> lock(mutex_);
    return bytes_;
}

std::optional<JobRecord> Spool::find(const std::string& id) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto q = db_.prepare(
        "SELECT j.id, j.type, r.created_at FROM spool_jobs j JOIN spool_requests r ON r.seq = "
        "j.request WHERE j.id = ?1");
    q.bind(1, id);
    if (!q.step()) return std::nullopt;
    JobRecord job;
    job.id = q.text(0);
    job.type = q.text(1);
    job.created_at = job.updated_at = job.run_at = q.integer(2);
    job.state = JobState::queued;
    job.spooled = true;
    return job;
}

}  // namespace levqor::controld::queue
