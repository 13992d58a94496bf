#include "levqor/controld/api/health.h"

#include <nlohmann/json.hpp>

#include "levqor/controld/api/errors.h"
#include "levqor/controld/version.h"

namespace levqor::controld::api {

std::string health_body(std::chrono::seconds uptime) {
  nlohmann::ordered_json body;
  body["status"] = "ok";
  body["version"] = kVersion;
  body["uptime_s"] = uptime.count();
  return body.dump();
}

Router::Handler health_handler(std::chrono::steady_clock::time_point started) {
  return [started](const httplib::Request&, httplib::Response& res) {
    const auto uptime = std::chrono::duration_cast<std::chrono::seconds>(
        std::chrono::steady_clock::now() - started);
    set_json(res, 200, health_body(uptime));
  };
}

}  // namespace levqor::controld::api
