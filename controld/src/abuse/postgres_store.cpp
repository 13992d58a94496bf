// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/abuse/postgres_store.h"

#include <libpq-fe.h>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <vector>

#include "rules.h"

namespace levqor::controld::abuse {

namespace {

// Versioned migrations: index i brings the schema to version i + 1. Append
// only; never edit one that has shipped.
constexpr std::array<const char*, 1> kPostgresMigrations = {
    // 1: pairs (last use per account/device/network), changes, signups.
    "CREATE TABLE abuse_device_pairs ("
    " account text NOT NULL, device text NOT NULL, network text NOT NULL,"
    " last_seen_ms bigint NOT NULL, PRIMARY KEY (account, device, network));"
    "CREATE INDEX abuse_device_pairs_last_seen ON abuse_device_pairs (last_seen_ms);"
    "CREATE TABLE abuse_device_changes (account text NOT NULL, at_ms bigint NOT NULL);"
    "CREATE INDEX abuse_device_changes_account ON abuse_device_changes (account, at_ms);"
    "CREATE INDEX abuse_device_changes_at ON abuse_device_changes (at_ms);"
    "CREATE TABLE abuse_signups (network text NOT NULL, day bigint NOT NULL, email text NOT NULL,"
    " referral smallint NOT NULL, at_ms bigint NOT NULL);"
    "CREATE INDEX abuse_signups_network_day ON abuse_signups (network, day, referral);"
    "CREATE INDEX abuse_signups_at ON abuse_signups (at_ms);",
};

// The advisory lock key of the migrations ("levqor abuse migrate").
constexpr std::int64_t kMigrateLockKey = 0x6c7671616275736dLL;

// The advisory lock key of one account or network/day: FNV-1a 64 of a
// domain-tagged key. A collision only serialises two unrelated keys.
std::int64_t pg_lock_key(std::string_view domain, std::string_view key) {
    std::uint64_t h = 14695981039346656037ULL;
    auto mix = [&h](std::string_view s) {
        for (unsigned char c : s) {
            h ^= c;
            h *= 1099511628211ULL;
        }
        h ^= 0xff;  // separator: ("ab","c") != ("a","bc")
        h *= 1099511628211ULL;
    };
    mix(domain);
    mix(key);
    return static_cast<std::int64_t>(h);
}

struct PgResultFree {
    void operator()(PGresult* r) const { PQclear(r); }
};
using PgResult = std::unique_ptr<PGresult, PgResultFree>;

}  // namespace

struct PostgresAbuseStore::Connection {
    std::string url;
    PGconn* conn = nullptr;

    explicit Connection(std::string u) : url(std::move(u)) { connect(); }
    ~Connection() { PQfinish(conn); }
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    // On failure the connection is closed before the throw: a throwing
    // constructor runs no destructor.
    void connect() {
        PQfinish(conn);
        const char* keys[] = {"dbname", "connect_timeout", "application_name", nullptr};
        const char* values[] = {url.c_str(), "10", "levqor-abuse", nullptr};
        conn = PQconnectdbParams(keys, values, /*expand_dbname=*/1);
        if (conn == nullptr) throw StoreError("abuse store: cannot connect to PostgreSQL: out of memory");
        try {
            if (PQstatus(conn) != CONNECTION_OK) {
                // libpq's message names host and port, never the password.
                throw StoreError(std::string("abuse store: cannot connect to PostgreSQL: ") + PQerrorMessage(conn));
            }
            PQsetNoticeProcessor(
                conn, [](void*, const char*) {}, nullptr);
            exec("SET statement_timeout = '5s'");
        } catch (...) {
            PQfinish(conn);
            conn = nullptr;
            throw;
        }
    }

    // A broken connection (server restart) is reopened before the next check.
    void ensure() {
        if (PQstatus(conn) != CONNECTION_OK) connect();
    }

    PgResult exec(const std::string& sql, const std::vector<std::string>& params = {}) {
        std::vector<const char*> p;
        p.reserve(params.size());
        for (const auto& s : params) p.push_back(s.c_str());
        // Without parameters PQexec, which runs several statements (a migration).
        PgResult res(p.empty() ? PQexec(conn, sql.c_str())
                               : PQexecParams(conn, sql.c_str(), static_cast<int>(p.size()), nullptr, p.data(), nullptr,
                                              nullptr, 0));
        const auto status = res ? PQresultStatus(res.get()) : PGRES_FATAL_ERROR;
        if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
            throw StoreError(std::string("abuse store (PostgreSQL): ") +
                             (res ? PQresultErrorMessage(res.get()) : PQerrorMessage(conn)));
        }
        return res;
    }

    std::int64_t integer(const std::string& sql, const std::vector<std::string>& params = {}) {
        auto res = exec(sql, params);
        if (PQntuples(res.get()) == 0 || PQgetisnull(res.get(), 0, 0)) return 0;
        return std::strtoll(PQgetvalue(res.get(), 0, 0), nullptr, 10);
    }
};

namespace {

// BEGIN ... COMMIT; rolls back when not committed (an exception).
class PgTransaction {
public:
    // With lock_key, BEGIN and pg_advisory_xact_lock(lock_key) in one round
    // trip; the statements after it see what the previous holder committed.
    explicit PgTransaction(PostgresAbuseStore::Connection& c, std::optional<std::int64_t> lock_key = std::nullopt)
        : c_(c) {
        if (!lock_key) {
            c_.exec("BEGIN");
            return;
        }
        try {
            c_.exec("BEGIN; SELECT pg_advisory_xact_lock(" + std::to_string(*lock_key) + ")");
        } catch (...) {
            rollback();  // the destructor does not run for a throwing constructor
            throw;
        }
    }
    ~PgTransaction() {
        if (!done_) rollback();
    }
    PgTransaction(const PgTransaction&) = delete;
    PgTransaction& operator=(const PgTransaction&) = delete;
    void commit() {
        c_.exec("COMMIT");
        done_ = true;
    }

private:
    void rollback() {
        PGresult* r = PQexec(c_.conn, "ROLLBACK");
        PQclear(r);
    }
    PostgresAbuseStore::Connection& c_;
    bool done_ = false;
};

}  // namespace

PostgresAbuseStore::PostgresAbuseStore(const std::string& url) : conn_(std::make_unique<Connection>(url)) {
    PgTransaction tx(*conn_, kMigrateLockKey);
    conn_->exec(
        "CREATE TABLE IF NOT EXISTS abuse_schema_version (version integer PRIMARY KEY,"
        " applied_at timestamptz NOT NULL DEFAULT now())");
    const auto current = conn_->integer("SELECT COALESCE(MAX(version), 0) FROM abuse_schema_version");
    if (current > static_cast<std::int64_t>(kPostgresMigrations.size())) {
        throw StoreError("abuse store (PostgreSQL): schema version " + std::to_string(current) +
                         " is newer than this controld knows (" + std::to_string(kPostgresMigrations.size()) + ")");
    }
    for (auto v = static_cast<std::size_t>(current); v < kPostgresMigrations.size(); ++v) {
        conn_->exec(kPostgresMigrations[v]);
        conn_->exec("INSERT INTO abuse_schema_version (version) VALUES ($1)", {std::to_string(v + 1)});
    }
    tx.commit();
}

PostgresAbuseStore::~PostgresAbuseStore() = default;

int PostgresAbuseStore::schema_version() {
    std::lock_guard<std::mutex> lock(mutex_);
    conn_->ensure();
    return static_cast<int>(conn_->integer("SELECT COALESCE(MAX(version), 0) FROM abuse_schema_version"));
}

Decision PostgresAbuseStore::decide_device(const DeviceRequest& request, std::optional<long> limit, Mode mode,
                                           TimePoint now) {
    const auto now_ms = rules::to_ms(now);
    const auto now_text = std::to_string(now_ms);
    const auto& account = request.account_digest;
    std::lock_guard<std::mutex> lock(mutex_);
    conn_->ensure();
    PgTransaction tx(*conn_, pg_lock_key("device", account));
    // The three facts in one round trip.
    rules::DeviceFacts facts;
    {
        auto res = conn_->exec(
            "SELECT (SELECT last_seen_ms FROM abuse_device_pairs WHERE account = $1 AND device = $2 AND network = $3),"
            " EXISTS (SELECT 1 FROM abuse_device_pairs WHERE account = $1),"
            " (SELECT COUNT(*) FROM abuse_device_changes WHERE account = $1 AND at_ms > $4)",
            {account, request.device_digest, request.network.key, std::to_string(rules::window_start(now_ms))});
        if (!PQgetisnull(res.get(), 0, 0)) {
            facts.pair_last_seen_ms = std::strtoll(PQgetvalue(res.get(), 0, 0), nullptr, 10);
        }
        facts.account_has_pairs = PQgetvalue(res.get(), 0, 1)[0] == 't';
        facts.changes_in_window = std::strtol(PQgetvalue(res.get(), 0, 2), nullptr, 10);
    }
    const auto outcome = rules::decide_device(facts, limit, mode, now_ms);
    if (outcome.record_change) {
        conn_->exec("INSERT INTO abuse_device_changes (account, at_ms) VALUES ($1, $2)", {account, now_text});
    }
    if (outcome.record_pair) {
        conn_->exec(
            "INSERT INTO abuse_device_pairs (account, device, network, last_seen_ms) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (account, device, network) DO UPDATE SET"
            " last_seen_ms = GREATEST(abuse_device_pairs.last_seen_ms, excluded.last_seen_ms)",
            {account, request.device_digest, request.network.key, now_text});
    }
    tx.commit();
    return outcome.decision;
}

Decision PostgresAbuseStore::decide_signup(const SignupRequest& request, long limit, Mode mode, TimePoint now) {
    const auto now_ms = rules::to_ms(now);
    const auto day = std::to_string(rules::utc_day(now_ms));
    std::lock_guard<std::mutex> lock(mutex_);
    conn_->ensure();
    PgTransaction tx(*conn_, pg_lock_key("signup", request.network.key + '\n' + day));
    const auto today = static_cast<long>(
        conn_->integer("SELECT COUNT(*) FROM abuse_signups WHERE network = $1 AND day = $2 AND referral = 1",
                       {request.network.key, day}));
    const auto outcome = rules::decide_signup(today, request.referral, limit, mode);
    if (outcome.record) {
        conn_->exec(
            "INSERT INTO abuse_signups (network, day, email, referral, at_ms) VALUES ($1, $2, $3, $4, $5)",
            {request.network.key, day, request.email_digest, request.referral ? "1" : "0", std::to_string(now_ms)});
    }
    tx.commit();
    return outcome.decision;
}

std::size_t PostgresAbuseStore::purge(TimePoint before) {
    const auto before_ms = std::to_string(rules::to_ms(before));
    std::lock_guard<std::mutex> lock(mutex_);
    conn_->ensure();
    PgTransaction tx(*conn_);
    std::size_t deleted = 0;
    for (const char* sql :
         {"DELETE FROM abuse_device_pairs WHERE last_seen_ms < $1", "DELETE FROM abuse_device_changes WHERE at_ms < $1",
          "DELETE FROM abuse_signups WHERE at_ms < $1"}) {
        auto res = conn_->exec(sql, {before_ms});
        deleted += static_cast<std::size_t>(std::strtoull(PQcmdTuples(res.get()), nullptr, 10));
    }
    tx.commit();
    return deleted;
}

}  // namespace levqor::controld::abuse
