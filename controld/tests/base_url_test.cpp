#include "levqor/controld/ctl/base_url.h"

#include <gtest/gtest.h>

#include "test_support.h"

#include <stdexcept>

#include "levqor/controld/app.h"
#include "levqor/controld/ctl/health_command.h"

namespace levqor::controld::ctl {
namespace {

using namespace std::chrono_literals;

TEST(BaseUrl, ParsesOriginAndDefaultsThePort) {
  auto url = parse_base_url("http://127.0.0.1:8089");
  EXPECT_EQ(url.scheme, "http");
  EXPECT_EQ(url.host, "127.0.0.1");
  EXPECT_EQ(url.port, 8089);
  EXPECT_EQ(url.path_prefix, "");
  EXPECT_EQ(parse_base_url("http://localhost").port, 80);
  EXPECT_EQ(parse_base_url("HTTPS://ops.example.com").port, 443);
}

TEST(BaseUrl, KeepsAPathPrefixWithoutTrailingSlash) {
  auto url = parse_base_url("https://ops.example.com/controld/");
  EXPECT_EQ(url.path_prefix, "/controld");
  EXPECT_EQ(url.url_for("/healthz"), "https://ops.example.com:443/controld/healthz");
  EXPECT_EQ(parse_base_url("http://h:1/").path_prefix, "");
}

TEST(BaseUrl, Ipv6) {
  auto url = parse_base_url("http://[fe80::1]:8089");
  EXPECT_EQ(url.host, "fe80::1");
  EXPECT_EQ(url.origin(), "http://[fe80::1]:8089");
  EXPECT_EQ(parse_base_url("http://[::1]").port, 80);
}

TEST(BaseUrl, RejectsBadUrls) {
  for (const char* bad : {"127.0.0.1:8089", "ftp://h", "http://", "http://h:x",
                          "http://h:0", "http://u:p@h", "http://h/x?y", "http://::1:80"}) {
    EXPECT_THROW(parse_base_url(bad), std::invalid_argument) << bad;
  }
}

TEST(HealthCommand, HealthyServerExitsZeroAndPrintsTheBody) {
  const Logger quiet(LogLevel::error, [](std::string_view) {});
  const testing::TempDir dir;
  Config config = testing::app_config(dir);
  App app(config, quiet);
  const auto bound = app.start();
  const auto result =
      run_health(parse_base_url("http://127.0.0.1:" + std::to_string(bound.port)), 2s);
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find(R"("status":"ok")"), std::string::npos) << result.out;
  EXPECT_EQ(result.out.back(), '\n');
  EXPECT_TRUE(result.err.empty());
}

TEST(HealthCommand, NonHealthRouteExitsOne) {
  const Logger quiet(LogLevel::error, [](std::string_view) {});
  const testing::TempDir dir;
  Config config = testing::app_config(dir);
  App app(config, quiet);
  const auto bound = app.start();
  // A prefix makes the request miss /healthz: 404.
  const auto result = run_health(
      parse_base_url("http://127.0.0.1:" + std::to_string(bound.port) + "/elsewhere"), 2s);
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.err.find("HTTP 404"), std::string::npos) << result.err;
}

TEST(HealthCommand, UnreachableServerExitsOneWithAHint) {
  // Bind and stop a server to find a port that is (very likely) closed.
  const Logger quiet(LogLevel::error, [](std::string_view) {});
  const testing::TempDir dir;
  Config config = testing::app_config(dir);
  std::uint16_t port = 0;
  {
    App app(config, quiet);
    port = app.start().port;
  }
  const auto result =
      run_health(parse_base_url("http://127.0.0.1:" + std::to_string(port)), 2s);
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_TRUE(result.out.empty());
  EXPECT_NE(result.err.find("is levqor-controld running"), std::string::npos) << result.err;
}

}  // namespace
}  // namespace levqor::controld::ctl
