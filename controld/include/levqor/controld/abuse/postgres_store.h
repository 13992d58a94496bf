// SPDX-License-Identifier: Apache-2.0
// The abuse store on PostgreSQL (when database_url is set): tables
// abuse_device_pairs, abuse_device_changes, abuse_signups, created by
// versioned migrations (abuse_schema_version) at open in one transaction
// under pg_advisory_xact_lock, so two controlds starting at once migrate
// once. Each check is one READ COMMITTED transaction that first takes
// pg_advisory_xact_lock on a 64-bit hash of its key (the account, or the
// network and UTC day), then counts and inserts: checks of one key are
// serialised (each statement after the lock sees the previous holder's
// commit), checks of different keys run in parallel. statement_timeout (5 s)
// bounds the wait.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "levqor/controld/abuse/store.h"

namespace levqor::controld::abuse {

class PostgresAbuseStore : public AbuseStore {
public:
    // url: a libpq connection string or URI. Connects and migrates;
    // StoreError on failure (the message never holds the password).
    explicit PostgresAbuseStore(const std::string& url);
    ~PostgresAbuseStore() override;

    std::size_t purge(TimePoint before) override;
    const char* kind() const override { return "postgres"; }
    int schema_version() override;

    struct Connection;

protected:
    Decision decide_device(const DeviceRequest& request, std::optional<long> limit, Mode mode, TimePoint now) override;
    Decision decide_signup(const SignupRequest& request, long limit, Mode mode, TimePoint now) override;

private:
    std::mutex mutex_;
    std::unique_ptr<Connection> conn_;
};

}  // namespace levqor::controld::abuse
