#include "levqor/controld/api/health.h"

#include <gtest/gtest.h>

#include "levqor/controld/version.h"

namespace levqor::controld::api {
namespace {

TEST(Health, BodyShape) {
  EXPECT_EQ(health_body(std::chrono::seconds(42)),
            R"({"status":"ok","version":")" + std::string(kVersion) + R"(","uptime_s":42})");
}

TEST(Health, HandlerAnswersJson) {
  const auto handler = health_handler(std::chrono::steady_clock::now() - std::chrono::seconds(3));
  httplib::Request req;
  httplib::Response res;
  handler(req, res);
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.get_header_value("Content-Type"), "application/json");
  EXPECT_NE(res.body.find(R"("uptime_s":3)"), std::string::npos) << res.body;
}

}  // namespace
}  // namespace levqor::controld::api
