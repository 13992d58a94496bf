#include "levqor/controld/api/router.h"

#include <algorithm>

#include "levqor/controld/api/errors.h"

namespace levqor::controld::api {
namespace {

constexpr Method kMethods[] = {Method::get, Method::post, Method::put, Method::patch,
                               Method::del};

using Register = httplib::Server& (httplib::Server::*)(const std::string&,
                                                         httplib::Server::Handler);

Register registrar(Method method) {
  switch (method) {
    case Method::get: return &httplib::Server::Get;
    case Method::post: return &httplib::Server::Post;
    case Method::put: return &httplib::Server::Put;
    case Method::patch: return &httplib::Server::Patch;
    case Method::del: return &httplib::Server::Delete;
  }
  return &httplib::Server::Get;
}

}  // namespace

std::string_view to_string(Method method) {
  switch (method) {
    case Method::get: return "GET";
    case Method::post: return "POST";
    case Method::put: return "PUT";
    case Method::patch: return "PATCH";
    case Method::del: return "DELETE";
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

void Router::install(httplib::Server& server) const {
  for (const auto& pattern : patterns_) {
    const auto& handlers = routes_.at(pattern);
    const auto allowed = allow(pattern);

    for (Method method : kMethods) {
      auto found = handlers.find(method);
      if (found != handlers.end()) {
        (server.*registrar(method))(pattern, found->second);
        continue;
      }
      (server.*registrar(method))(
          pattern, [allowed](const httplib::Request& req, httplib::Response& res) {
            res.set_header("Allow", allowed);
            set_error(res, 405, "method_not_allowed",
                      req.method + " is not allowed on " + req.path + "; allowed: " + allowed);
          });
    }
    server.Options(pattern, [allowed](const httplib::Request&, httplib::Response& res) {
      res.status = 204;
      res.set_header("Allow", allowed);
    });
  }
}

}  // namespace levqor::controld::api
