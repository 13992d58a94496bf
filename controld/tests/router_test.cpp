#include "levqor/controld/api/router.h"

#include <gtest/gtest.h>

namespace levqor::controld::api {
namespace {

void noop(const httplib::Request&, httplib::Response&) {}

TEST(Router, AllowListsRegisteredMethodsWithHeadAndOptions) {
  Router router;
  router.add(Method::get, "/healthz", noop);
  router.add(Method::put, "/ops/flags", noop).add(Method::get, "/ops/flags", noop);
  EXPECT_EQ(router.allow("/healthz"), "GET, HEAD, OPTIONS");
  EXPECT_EQ(router.allow("/ops/flags"), "GET, HEAD, PUT, OPTIONS");
  EXPECT_EQ(router.allow("/jobs"), "");
}

TEST(Router, PostOnlyRouteHasNoHead) {
  Router router;
  router.add(Method::post, "/jobs", noop);
  EXPECT_EQ(router.allow("/jobs"), "POST, OPTIONS");
}

}  // namespace
}  // namespace levqor::controld::api
