// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/abuse/store_pool.h"

#include <stdexcept>

#include "levqor/controld/abuse/postgres_store.h"
#include "levqor/controld/abuse/sqlite_store.h"

namespace levqor::controld::abuse {

std::string abuse_db_path(const std::string& data_dir) { return data_dir + "/abuse.db"; }

std::unique_ptr<AbuseStore> open_store(const StoreOptions& options) {
    if (options.database_url) return std::make_unique<PostgresAbuseStore>(*options.database_url);
    if (options.sqlite_path.empty()) throw std::invalid_argument("abuse store: no SQLite path and no database_url");
    return std::make_unique<SqliteAbuseStore>(options.sqlite_path);
}

TimePoint retention_cutoff(TimePoint now, int retention_days) {
    if (retention_days < 2 || retention_days > 3650) {
        throw std::invalid_argument("abuse.retention_days must be between 2 and 3650 (days)");
    }
    return now - std::chrono::hours(24) * retention_days;
}

// One store borrowed for one call, given back by the destructor.
class StorePool::Lease {
public:
    explicit Lease(StorePool& pool) : pool_(pool) {
        std::unique_lock<std::mutex> lock(pool_.mutex_);
        if (!pool_.freed_.wait_for(lock, pool_.borrow_timeout_, [this] { return !pool_.free_.empty(); })) {
            throw StoreError("abuse store: all " + std::to_string(pool_.stores_.size()) + " connections busy for " +
                             std::to_string(pool_.borrow_timeout_.count()) + " ms");
        }
        index_ = pool_.free_.back();
        pool_.free_.pop_back();
    }
    ~Lease() {
        {
            std::lock_guard<std::mutex> lock(pool_.mutex_);
            pool_.free_.push_back(index_);
        }
        pool_.freed_.notify_one();
    }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    AbuseStore& operator*() const { return *pool_.stores_[index_]; }
    AbuseStore* operator->() const { return pool_.stores_[index_].get(); }

private:
    StorePool& pool_;
    std::size_t index_ = 0;
};

namespace {
std::vector<std::unique_ptr<AbuseStore>> open_pool_stores(const StoreOptions& options) {
    if (options.connections < 1) throw std::invalid_argument("abuse store: at least one connection");
    std::vector<std::unique_ptr<AbuseStore>> stores;
    for (std::size_t i = 0; i < options.connections; ++i) stores.push_back(open_store(options));
    return stores;
}
}  // namespace

StorePool::StorePool(const StoreOptions& options) : StorePool(open_pool_stores(options), options.borrow_timeout) {}

StorePool::StorePool(std::vector<std::unique_ptr<AbuseStore>> stores, std::chrono::milliseconds borrow_timeout)
    : stores_(std::move(stores)), borrow_timeout_(borrow_timeout) {
    if (stores_.empty()) throw std::invalid_argument("abuse store pool: no store");
    for (std::size_t i = 0; i < stores_.size(); ++i) free_.push_back(i);
}

Decision StorePool::decide_device(const DeviceRequest& request, std::optional<long> limit, Mode mode, TimePoint now) {
    Lease store(*this);
    return store->check_device(request, limit, mode, now);
}

Decision StorePool::decide_signup(const SignupRequest& request, long limit, Mode mode, TimePoint now) {
    Lease store(*this);
    return store->check_signup(request, limit, mode, now);
}

std::size_t StorePool::purge(TimePoint before) {
    Lease store(*this);
    return store->purge(before);
}

const char* StorePool::kind() const { return stores_.front()->kind(); }

int StorePool::schema_version() {
    Lease store(*this);
    return store->schema_version();
}

}  // namespace levqor::controld::abuse
