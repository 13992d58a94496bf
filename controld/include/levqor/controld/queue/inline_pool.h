// SPDX-License-Identifier: Apache-2.0
// InlinePool: the bounded set of threads that run inline jobs
// (NEW_QUEUE_ENABLED=off) away from the HTTP threads, with a reserve-then-
// submit protocol so that a stored task always runs or is abandoned
// explicitly. Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace levqor::controld::queue {

// The threads that run inline jobs (NEW_QUEUE_ENABLED=off) so that they
// never run on an HTTP thread: `threads` threads fed by a FIFO of at most
// `queue_capacity` tasks. A request first reserves a place (reserve() gives
// none when every thread is busy and the FIFO is full: the caller answers
// 503), then stores its jobs, then submits the task with its place, so a
// task that was stored always gets to run.
//
// stop(): no new places; tasks still waiting are abandoned (the pool's
// threads call their abandon function instead of run, so stop() itself
// never waits); running tasks finish. wait_stopped() waits for both.
// Thread-safety: every member may be called concurrently.
class InlinePool {
public:
    struct Task {
        std::function<void()> run;      // on a pool thread
        std::function<void()> abandon;  // instead of run, when the pool stops first
    };

    // A reserved place; returned to the pool when destroyed unsubmitted.
    class Place {
    public:
        Place(Place&& other) noexcept : pool_(other.pool_) { other.pool_ = nullptr; }
        Place& operator=(Place&&) = delete;
        Place(const Place&) = delete;
        ~Place();

    private:
        friend class InlinePool;
        explicit Place(InlinePool* pool) : pool_(pool) {}
        InlinePool* pool_;
    };

    InlinePool(unsigned threads, std::size_t queue_capacity);
    ~InlinePool();
    InlinePool(const InlinePool&) = delete;
    InlinePool& operator=(const InlinePool&) = delete;

    void start();
    std::optional<Place> reserve();
    void submit(Place place, Task task);
    void stop();
    // true when every thread ended within `timeout`.
    bool wait_stopped(std::chrono::milliseconds timeout);

    unsigned threads() const { return threads_; }
    std::size_t capacity() const { return threads_ + queue_capacity_; }
    std::size_t busy();     // tasks running
    std::size_t waiting();  // tasks in the FIFO

private:
    void give_back();
    void serve();

    const unsigned threads_;
    const std::size_t queue_capacity_;
    std::mutex mutex_;
    std::condition_variable wake_;
    std::condition_variable ended_;
    std::deque<Task> tasks_;
    std::size_t taken_ = 0;  // places reserved, waiting or running
    std::size_t running_ = 0;
    unsigned alive_ = 0;
    bool stopping_ = false;
    std::vector<std::thread> workers_;
};

}  // namespace levqor::controld::queue
