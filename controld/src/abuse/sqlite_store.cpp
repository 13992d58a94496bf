// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/abuse/sqlite_store.h"

#include <array>

#include "levqor/controld/queue/sqlite_db.h"
#include "rules.h"

namespace levqor::controld::abuse {

namespace {

using queue::SqliteDb;

// Versioned migrations: index i brings the schema to version i + 1. Append
// only; never edit one that has shipped.
constexpr std::array<const char*, 1> kSqliteMigrations = {
    // 1: pairs (last use per account/device/network), changes, signups.
    "CREATE TABLE abuse_device_pairs ("
    " account TEXT NOT NULL, device TEXT NOT NULL, network TEXT NOT NULL,"
    " last_seen_ms INTEGER NOT NULL, PRIMARY KEY (account, device, network)) WITHOUT ROWID;"
    "CREATE INDEX abuse_device_pairs_last_seen ON abuse_device_pairs (last_seen_ms);"
    "CREATE TABLE abuse_device_changes (account TEXT NOT NULL, at_ms INTEGER NOT NULL);"
    "CREATE INDEX abuse_device_changes_account ON abuse_device_changes (account, at_ms);"
    "CREATE INDEX abuse_device_changes_at ON abuse_device_changes (at_ms);"
    "CREATE TABLE abuse_signups (network TEXT NOT NULL, day INTEGER NOT NULL, email TEXT NOT NULL,"
    " referral INTEGER NOT NULL, at_ms INTEGER NOT NULL);"
    "CREATE INDEX abuse_signups_network_day ON abuse_signups (network, day, referral);"
    "CREATE INDEX abuse_signups_at ON abuse_signups (at_ms);",
};

int sqlite_current_version(SqliteDb& db) {
    auto stmt = db.prepare("SELECT COALESCE(MAX(version), 0) FROM abuse_schema_version");
    stmt.step();
    return static_cast<int>(stmt.integer(0));
}

}  // namespace

SqliteAbuseStore::SqliteAbuseStore(const std::string& path) : db_(std::make_unique<SqliteDb>(path)) {
    SqliteDb::Transaction tx(*db_);
    db_->exec("CREATE TABLE IF NOT EXISTS abuse_schema_version (version INTEGER PRIMARY KEY, applied_ms INTEGER)");
    const int current = sqlite_current_version(*db_);
    if (current > static_cast<int>(kSqliteMigrations.size())) {
        throw StoreError(path + ": abuse schema version " + std::to_string(current) +
                         " is newer than this controld knows (" + std::to_string(kSqliteMigrations.size()) + ")");
    }
    for (int v = current; v < static_cast<int>(kSqliteMigrations.size()); ++v) {
        db_->exec(kSqliteMigrations[static_cast<std::size_t>(v)]);
        db_->prepare("INSERT INTO abuse_schema_version (version, applied_ms) VALUES (?, ?)")
            .bind(1, std::int64_t{v + 1})
            .bind(2, rules::to_ms(Clock::now()))
            .run();
    }
    tx.commit();
}

SqliteAbuseStore::~SqliteAbuseStore() = default;

int SqliteAbuseStore::schema_version() {
    std::lock_guard<std::mutex> lock(mutex_);
    return sqlite_current_version(*db_);
}

Decision SqliteAbuseStore::decide_device(const DeviceRequest& request, std::optional<long> limit, Mode mode,
                                         TimePoint now) {
    const auto now_ms = rules::to_ms(now);
    std::lock_guard<std::mutex> lock(mutex_);
    SqliteDb::Transaction tx(*db_);
    rules::DeviceFacts facts;
    {
        auto stmt = db_->prepare(
            "SELECT last_seen_ms FROM abuse_device_pairs WHERE account = ? AND device = ? AND network = ?");
        stmt.bind(1, request.account_digest).bind(2, request.device_digest).bind(3, request.network.key);
        if (stmt.step()) facts.pair_last_seen_ms = stmt.integer(0);
    }
    if (facts.pair_last_seen_ms) {
        facts.account_has_pairs = true;
    } else {
        auto stmt = db_->prepare("SELECT EXISTS (SELECT 1 FROM abuse_device_pairs WHERE account = ?)");
        stmt.bind(1, request.account_digest);
        facts.account_has_pairs = stmt.step() && stmt.integer(0) != 0;
    }
    {
        auto stmt = db_->prepare("SELECT COUNT(*) FROM abuse_device_changes WHERE account = ? AND at_ms > ?");
        stmt.bind(1, request.account_digest).bind(2, rules::window_start(now_ms));
        stmt.step();
        facts.changes_in_window = static_cast<long>(stmt.integer(0));
    }
    const auto outcome = rules::decide_device(facts, limit, mode, now_ms);
    if (outcome.record_change) {
        db_->prepare("INSERT INTO abuse_device_changes (account, at_ms) VALUES (?, ?)")
            .bind(1, request.account_digest)
            .bind(2, now_ms)
            .run();
    }
    if (outcome.record_pair) {
        db_->prepare(
               "INSERT INTO abuse_device_pairs (account, device, network, last_seen_ms) VALUES (?, ?, ?, ?)"
               " ON CONFLICT (account, device, network) DO UPDATE SET"
               " last_seen_ms = MAX(last_seen_ms, excluded.last_seen_ms)")
            .bind(1, request.account_digest)
            .bind(2, request.device_digest)
            .bind(3, request.network.key)
            .bind(4, now_ms)
            .run();
    }
    tx.commit();
    return outcome.decision;
}

Decision SqliteAbuseStore::decide_signup(const SignupRequest& request, long limit, Mode mode, TimePoint now) {
    const auto now_ms = rules::to_ms(now);
    const auto day = rules::utc_day(now_ms);
    std::lock_guard<std::mutex> lock(mutex_);
    SqliteDb::Transaction tx(*db_);
    long today = 0;
    {
        auto stmt = db_->prepare("SELECT COUNT(*) FROM abuse_signups WHERE network = ? AND day = ? AND referral = 1");
        stmt.bind(1, request.network.key).bind(2, day);
        stmt.step();
        today = static_cast<long>(stmt.integer(0));
    }
    const auto outcome = rules::decide_signup(today, request.referral, limit, mode);
    if (outcome.record) {
        db_->prepare("INSERT INTO abuse_signups (network, day, email, referral, at_ms) VALUES (?, ?, ?, ?, ?)")
            .bind(1, request.network.key)
            .bind(2, day)
            .bind(3, request.email_digest)
            .bind(4, std::int64_t{request.referral ? 1 : 0})
            .bind(5, now_ms)
            .run();
    }
    tx.commit();
    return outcome.decision;
}

std::size_t SqliteAbuseStore::purge(TimePoint before) {
    const auto before_ms = rules::to_ms(before);
    std::lock_guard<std::mutex> lock(mutex_);
    SqliteDb::Transaction tx(*db_);
    std::size_t deleted = 0;
    for (const char* sql :
         {"DELETE FROM abuse_device_pairs WHERE last_seen_ms < ?", "DELETE FROM abuse_device_changes WHERE at_ms < ?",
          "DELETE FROM abuse_signups WHERE at_ms < ?"}) {
        db_->prepare(sql).bind(1, before_ms).run();
        deleted += static_cast<std::size_t>(db_->changes());
    }
    tx.commit();
    return deleted;
}

}  // namespace levqor::controld::abuse
