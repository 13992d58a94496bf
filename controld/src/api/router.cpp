// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/api/router.h"

#include <algorithm>
#include <optional>

#include "levqor/controld/api/errors.h"

namespace levqor::controld::api {
namespace {

constexpr Method kMethods[] = {Method::get, Method::post, Method::put, Method::patch, Method::del};

// The registered method a request method maps to: HEAD is served by GET.
std::optional<Method> method_of(const std::string& name) {
    if (name == "GET" || name == "HEAD") return Method::get;
    if (name == "POST") return Method::post;
    if (name == "PUT") return Method::put;
    if (name == "PATCH") return Method::patch;
    if (name == "DELETE") return Method::del;
    return std::nullopt;
}

}  // namespace

std::string_view to_string(Method method) {
    switch (method) {
        case Method::get:
            return "GET";
        case Method::post:
            return "POST";
        case Method::put:
            return "PUT";
        case Method::patch:
            return "PATCH";
        case Method::del:
            return "DELETE";
    }
    return "?";
}

Router& Router::add(Method method, const std::string& pattern, Handler handler) {
    if (std::find(patterns_.begin(), patterns_.end(), pattern) == patterns_.end()) {
        patterns_.push_back(pattern);
        compiled_.emplace_back(pattern, std::regex(pattern));
    }
    routes_[pattern][method] = std::move(handler);
    return *this;
}

std::string Router::allow(const std::string& pattern) const {
    auto it = routes_.find(pattern);
    if (it == routes_.end()) return {};
    std::string allow;
    for (Method method : kMethods) {
        if (it->second.count(method) == 0) continue;
        allow += allow.empty() ? "" : ", ";
        allow += to_string(method);
        if (method == Method::get) allow += ", HEAD";
    }
    return allow + ", OPTIONS";
}

std::string Router::route_for(const std::string& path) const {
    for (const auto& [pattern, regex] : compiled_) {
        if (std::regex_match(path, regex)) return pattern;
    }
    return {};
}

void Router::dispatch(httplib::Request& req, httplib::Response& res) const {
    for (const auto& [pattern, regex] : compiled_) {
        if (!std::regex_match(req.path, req.matches, regex)) continue;
        const auto allowed = allow(pattern);
        if (req.method == "OPTIONS") {
            res.status = 204;
            res.set_header("Allow", allowed);
            return;
        }
        const auto& handlers = routes_.at(pattern);
        const auto method = method_of(req.method);
        const auto found = method ? handlers.find(*method) : handlers.end();
        if (found == handlers.end()) {
            res.set_header("Allow", allowed);
            set_error(res, 405, "method_not_allowed",
                      req.method + " is not allowed on " + req.path + "; allowed: " + allowed);
            return;
        }
        found->second(req, res);
        return;
    }
    set_error(res, 404, "not_found", "no route for " + req.method + " " + req.path);
}

}  // namespace levqor::controld::api
