// SPDX-License-Identifier: Apache-2.0
// An in-process HTTP server for tests: fake nginx status endpoints, a fake
// Sentry. Binds 127.0.0.1 port 0.
#pragma once

#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace levqor::controld::testing {

class FakeServer {
public:
    struct Received {
        std::string method;
        std::string path;
        httplib::Headers headers;
        std::string body;
    };

    FakeServer() {
        server_.set_keep_alive_timeout(1);
        port_ = server_.bind_to_any_port("127.0.0.1");
        thread_ = std::thread([this] { server_.listen_after_bind(); });
        while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ~FakeServer() {
        server_.stop();
        thread_.join();
    }

    // Answers GET path with `body` (text/plain), after `delay`.
    void serve(const std::string& path, std::string body, int status = 200,
               std::chrono::milliseconds delay = std::chrono::milliseconds(0)) {
        server_.Get(path, [body = std::move(body), status, delay](const httplib::Request&, httplib::Response& res) {
            std::this_thread::sleep_for(delay);
            res.status = status;
            res.set_content(body, "text/plain; version=0.0.4");
        });
    }

    // Records every POST to path and answers `status` (with Retry-After if set).
    void record_posts(const std::string& path, int status = 200, std::string retry_after = "") {
        server_.Post(path, [this, status, retry_after](const httplib::Request& req, httplib::Response& res) {
            {
                std::lock_guard<std::mutex> lock(mutex_);
                received_.push_back({req.method, req.path, req.headers, req.body});
            }
            res.status = status;
            if (!retry_after.empty()) res.set_header("Retry-After", retry_after);
            res.set_content("{}", "application/json");
        });
    }

    // Records every POST to path and answers `status` with the JSON `body`.
    void answer_posts(const std::string& path, std::string body, int status = 202) {
        server_.Post(path, [this, body = std::move(body), status](const httplib::Request& req, httplib::Response& res) {
            {
                std::lock_guard<std::mutex> lock(mutex_);
                received_.push_back({req.method, req.path, req.headers, req.body});
            }
            res.status = status;
            res.set_content(body, "application/json");
        });
    }

    // Answers GET path with bodies[0], then bodies[1]... and the last one for
    // ever after (a job that moves on between polls).
    void serve_sequence(const std::string& path, std::vector<std::string> bodies) {
        server_.Get(path, [this, bodies = std::move(bodies), n = std::size_t{0}](const httplib::Request& req,
                                                                                 httplib::Response& res) mutable {
            std::lock_guard<std::mutex> lock(mutex_);
            received_.push_back({req.method, req.path, req.headers, req.body});
            res.set_content(bodies[std::min(n++, bodies.size() - 1)], "application/json");
        });
    }

    std::vector<Received> received() {
        std::lock_guard<std::mutex> lock(mutex_);
        return received_;
    }

    int port() const { return port_; }
    std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(port_) + path; }

private:
    httplib::Server server_;
    int port_ = 0;
    std::mutex mutex_;
    std::vector<Received> received_;
    std::thread thread_;
};

}  // namespace levqor::controld::testing
