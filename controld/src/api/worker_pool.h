// SPDX-License-Identifier: Apache-2.0
// Private to the HTTP server: WorkerPool, a fixed set of threads that run
// posted handler tasks in order. post() is safe from any thread.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace levqor::controld::api {

// A fixed set of threads running posted tasks in order. The front posts at
// most one task per connection, so the queue is bounded by the connection
// cap, not here.
//
// Thread-safety: post() from any thread. The destructor runs what is still
// queued, then joins; a task must not throw (the caller wraps it).
class WorkerPool {
public:
    explicit WorkerPool(unsigned threads);
    ~WorkerPool();
    WorkerPool(const WorkerPool&) = delete;
    WorkerPool& operator=(const WorkerPool&) = delete;

    void post(std::function<void()> task);

private:
    void run();

    std::mutex mutex_;
    std::condition_variable ready_;
    std::deque<std::function<void()>> tasks_;
    bool stopping_ = false;
    std::vector<std::thread> threads_;  // last: started after the rest exists
};

}  // namespace levqor::controld::api
