// SPDX-License-Identifier: Apache-2.0
// The route table: path pattern and method to handler; OPTIONS, 405 and 404 are
// answered by the table itself. Components add their routes while App builds
// it; from then on it is read-only and dispatch() runs concurrently.
#pragma once

#include <functional>
#include <map>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include <httplib.h>

namespace levqor::controld::api {

enum class Method { get, post, put, patch, del };

std::string_view to_string(Method method);

// The route table: path pattern -> method -> handler. dispatch() runs the
// handler for a request and, for every pattern, answers the methods it does
// not have: OPTIONS with 204 and the Allow header, any other method with a
// 405 JSON error and the Allow header. A path that matches no pattern gets a
// 404 JSON error.
//
// Patterns are regular expressions matched against the whole decoded path,
// e.g. "/healthz" or R"(/jobs/([^/]+))" (req.matches[1] is the id); they are
// tried in registration order. GET handlers also answer HEAD (the server
// sends no body).
//
// Thread-safety: build the table on one thread, then dispatch() may run
// concurrently on any number of threads. A Router is a value: HttpServer
// keeps its own copy.
class Router {
public:
    using Handler = std::function<void(const httplib::Request&, httplib::Response&)>;

    // Registers a handler; a second handler for the same method and pattern
    // replaces the first.
    Router& add(Method method, const std::string& pattern, Handler handler);

    // The Allow header value for a pattern, e.g. "GET, HEAD, OPTIONS"; empty
    // for an unknown pattern.
    std::string allow(const std::string& pattern) const;

    // Runs the handler for req.method and req.path (filling req.matches), or
    // answers OPTIONS, 405 or 404 itself. Exceptions from handlers propagate.
    void dispatch(httplib::Request& req, httplib::Response& res) const;

    // The pattern that serves `path`, or "" if none does (for metrics labels,
    // which must not carry raw paths).
    std::string route_for(const std::string& path) const;

private:
    std::vector<std::pair<std::string, std::regex>> compiled_;
    // Patterns in registration order, the order dispatch() tries them in.
    std::vector<std::string> patterns_;
    std::map<std::string, std::map<Method, Handler>> routes_;
};

}  // namespace levqor::controld::api
