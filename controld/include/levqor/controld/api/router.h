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

// The route table: path pattern -> method -> handler. install() hands the
// handlers to an httplib::Server and, for every pattern, answers the methods
// it does not have: OPTIONS with 204 and the Allow header, any other method
// with a 405 JSON error and the Allow header. Paths that match no pattern get
// httplib's 404, which HttpServer turns into a JSON error.
//
// Patterns are httplib's: a regular expression matched against the whole
// path, e.g. "/healthz" or R"(/jobs/([^/]+))" (req.matches[1] is the id).
// GET handlers also answer HEAD (httplib drops the body).
//
// Thread-safety: build the table on one thread before install(); install()
// copies the handlers, so the Router may be destroyed afterwards. The
// handlers themselves run concurrently on the server's worker threads.
class Router {
 public:
  using Handler = std::function<void(const httplib::Request&, httplib::Response&)>;

  // Registers a handler; a second handler for the same method and pattern
  // replaces the first.
  Router& add(Method method, const std::string& pattern, Handler handler);

  // The Allow header value for a pattern, e.g. "GET, HEAD, OPTIONS"; empty
  // for an unknown pattern.
  std::string allow(const std::string& pattern) const;

  void install(httplib::Server& server) const;

  // The pattern that serves `path`, or "" if none does (for metrics labels,
  // which must not carry raw paths).
  std::string route_for(const std::string& path) const;

 private:
  std::vector<std::pair<std::string, std::regex>> compiled_;
  // Patterns in registration order: httplib tries them in the order given.
  std::vector<std::string> patterns_;
  std::map<std::string, std::map<Method, Handler>> routes_;
};

}  // namespace levqor::controld::api
