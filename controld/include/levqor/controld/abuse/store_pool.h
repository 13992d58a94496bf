// SPDX-License-Identifier: Apache-2.0
// Opening the abuse store the configuration asks for, and a pool of them.
// A store owns one connection and serialises its calls; StorePool holds N
// stores (N connections) and lends one per call, so N checks of different
// keys run in parallel on PostgreSQL (on SQLite BEGIN IMMEDIATE serialises
// the writes anyway; the pool still overlaps the rest). The pool is itself an
// AbuseStore: the routes hold one AbuseStore&.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "levqor/controld/abuse/store.h"

namespace levqor::controld::abuse {

struct StoreOptions {
    std::string sqlite_path;                  // <data_dir>/abuse.db (abuse_db_path)
    std::optional<std::string> database_url;  // set: PostgreSQL, sqlite_path unused
    std::size_t connections = 4;              // >= 1
    // How long a call waits for a free connection before StoreError.
    std::chrono::milliseconds borrow_timeout{10000};
};

// <data_dir>/abuse.db.
std::string abuse_db_path(const std::string& data_dir);

// One store (one connection): PostgreSQL when database_url is set, else SQLite.
std::unique_ptr<AbuseStore> open_store(const StoreOptions& options);

// The retention cut-off for purge(): now - retention_days. Throws
// std::invalid_argument unless 2 <= retention_days <= 3650 (the 24 h device
// window and a whole UTC day must stay).
TimePoint retention_cutoff(TimePoint now, int retention_days);

class StorePool : public AbuseStore {
public:
    // Opens options.connections stores (migrating once); StoreError on failure.
    explicit StorePool(const StoreOptions& options);
    // Stores already open (tests): at least one.
    explicit StorePool(std::vector<std::unique_ptr<AbuseStore>> stores,
                       std::chrono::milliseconds borrow_timeout = std::chrono::seconds(10));

    std::size_t purge(TimePoint before) override;
    const char* kind() const override;
    int schema_version() override;

    std::size_t size() const { return stores_.size(); }

protected:
    Decision decide_device(const DeviceRequest& request, std::optional<long> limit, Mode mode, TimePoint now) override;
    Decision decide_signup(const SignupRequest& request, long limit, Mode mode, TimePoint now) override;

private:
    class Lease;
    std::vector<std::unique_ptr<AbuseStore>> stores_;
    std::chrono::milliseconds borrow_timeout_;
    std::mutex mutex_;
    std::condition_variable freed_;
    std::vector<std::size_t> free_;
};

}  // namespace levqor::controld::abuse
