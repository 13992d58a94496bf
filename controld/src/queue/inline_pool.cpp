// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/queue/inline_pool.h"

namespace levqor::controld::queue {

InlinePool::Place::~Place() {
    if (pool_ != nullptr) pool_->give_back();
}

InlinePool::InlinePool(unsigned threads, std::size_t queue_capacity)
    : threads_(threads == 0 ? 1 : threads), queue_capacity_(queue_capacity) {}

InlinePool::~InlinePool() {
    stop();
    for (auto& t : workers_) {
        if (t.joinable()) t.join();
    }
}

void InlinePool::start() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!workers_.empty() || stopping_) return;
    alive_ = threads_;
    for (unsigned i = 0; i < threads_; ++i) workers_.emplace_back([this] { serve(); });
}

std::optional<InlinePool::Place> InlinePool::reserve() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_ || taken_ >= capacity()) return std::nullopt;
    ++taken_;
    return Place(this);
}

void InlinePool::give_back() {
    std::lock_guard<std::mutex> lock(mutex_);
    --taken_;
}

void InlinePool::submit(Place place, Task task) {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!stopping_) {
            place.pool_ = nullptr;  // the place now belongs to the task
            tasks_.push_back(std::move(task));
            wake_.notify_one();
            return;
        }
    }
    task.abandon();  // `place` is given back when it goes out of scope
}

void InlinePool::serve() {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
        wake_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
        if (tasks_.empty()) break;  // stopping, and nothing left to abandon
        Task task = std::move(tasks_.front());
        tasks_.pop_front();
        const bool abandon = stopping_;
        ++running_;
        lock.unlock();
        try {
            // Abandoning may write to the backend: here, not on stop()'s caller.
            (abandon ? task.abandon : task.run)();
        } catch (...) {
            // The task reports its own failures; the thread must survive a stray one.
        }
        lock.lock();
        --running_;
        --taken_;
    }
    if (--alive_ == 0) ended_.notify_all();
}

void InlinePool::stop() {
    std::deque<Task> orphans;  // no thread was ever started to abandon them
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (stopping_) return;
        stopping_ = true;
        if (workers_.empty()) {
            orphans.swap(tasks_);
            taken_ -= orphans.size();
        }
    }
    wake_.notify_all();
    for (auto& task : orphans) task.abandon();
}

bool InlinePool::wait_stopped(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mutex_);
    if (!ended_.wait_for(lock, timeout, [this] { return alive_ == 0; })) return false;
    lock.unlock();
    for (auto& t : workers_) {
        if (t.joinable()) t.join();
    }
    return true;
}

std::size_t InlinePool::busy() {
    std::lock_guard<std::mutex> lock(mutex_);
    return running_;
}

std::size_t InlinePool::waiting() {
    std::lock_guard<std::mutex> lock(mutex_);
    return tasks_.size();
}

}  // namespace levqor::controld::queue
