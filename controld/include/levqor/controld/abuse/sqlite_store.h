// SPDX-License-Identifier: Apache-2.0
// The abuse store on SQLite (the default: <data_dir>/abuse.db, mode 0600, WAL,
// busy_timeout 5 s). Each check is one BEGIN IMMEDIATE transaction (SQLite's
// write lock: count and insert can not interleave with another connection's,
// in this process or another). Migrations are versioned (abuse_schema_version)
// and applied at open in one BEGIN IMMEDIATE, so two openers migrate once.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "levqor/controld/abuse/store.h"

namespace levqor::controld::queue {
class SqliteDb;
}

namespace levqor::controld::abuse {

class SqliteAbuseStore : public AbuseStore {
public:
    // Opens (creating, 0600) the file and migrates it; StoreError on failure.
    explicit SqliteAbuseStore(const std::string& path);
    ~SqliteAbuseStore() override;

    std::size_t purge(TimePoint before) override;
    const char* kind() const override { return "sqlite"; }
    int schema_version() override;

protected:
    Decision decide_device(const DeviceRequest& request, std::optional<long> limit, Mode mode, TimePoint now) override;
    Decision decide_signup(const SignupRequest& request, long limit, Mode mode, TimePoint now) override;

private:
    std::mutex mutex_;
    std::unique_ptr<queue::SqliteDb> db_;
};

}  // namespace levqor::controld::abuse
