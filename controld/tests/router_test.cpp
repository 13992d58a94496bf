// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/api/router.h"

#include <gtest/gtest.h>

#include <memory>

#include <nlohmann/json.hpp>

#include "levqor/controld/api/errors.h"

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

httplib::Response dispatch(const Router& router, const std::string& method, const std::string& path) {
    httplib::Request req;
    req.method = method;
    req.path = path;
    httplib::Response res;
    router.dispatch(req, res);
    return res;
}

Router jobs_router() {
    Router router;
    router.add(Method::get, R"(/jobs/([^/]+))", [](const httplib::Request& req, httplib::Response& res) {
        set_json(res, 200, nlohmann::json{{"id", req.matches[1].str()}, {"method", req.method}}.dump());
    });
    router.add(Method::post, "/jobs", noop);
    return router;
}

TEST(RouterDispatch, RunsTheHandlerWithMatches) {
    const auto res = dispatch(jobs_router(), "GET", "/jobs/abc");
    EXPECT_EQ(res.status, 200);
    EXPECT_EQ(res.body, R"({"id":"abc","method":"GET"})");
}

TEST(RouterDispatch, HeadIsServedByGet) {
    const auto res = dispatch(jobs_router(), "HEAD", "/jobs/abc");
    EXPECT_EQ(res.status, 200);
    EXPECT_EQ(res.body, R"({"id":"abc","method":"HEAD"})");  // the server drops the body
}

TEST(RouterDispatch, OptionsIs204WithAllow) {
    const auto res = dispatch(jobs_router(), "OPTIONS", "/jobs/abc");
    EXPECT_EQ(res.status, 204);
    EXPECT_EQ(res.get_header_value("Allow"), "GET, HEAD, OPTIONS");
    EXPECT_TRUE(res.body.empty());
}

TEST(RouterDispatch, OtherMethodsAre405JsonWithAllow) {
    for (const char* method : {"POST", "PUT", "PATCH", "DELETE", "BREW"}) {
        const auto res = dispatch(jobs_router(), method, "/jobs/abc");
        EXPECT_EQ(res.status, 405) << method;
        EXPECT_EQ(res.get_header_value("Allow"), "GET, HEAD, OPTIONS") << method;
        const auto body = nlohmann::json::parse(res.body);
        EXPECT_EQ(body["error"], "method_not_allowed");
        EXPECT_EQ(body["message"], std::string(method) + " is not allowed on /jobs/abc; allowed: GET, HEAD, OPTIONS");
    }
    EXPECT_EQ(dispatch(jobs_router(), "GET", "/jobs").get_header_value("Allow"), "POST, OPTIONS");
}

TEST(RouterDispatch, UnknownPathIs404Json) {
    for (const char* path : {"/nope", "/jobs/a/b", "/jobs/", "/JOBS/a", ""}) {
        const auto res = dispatch(jobs_router(), "GET", path);
        EXPECT_EQ(res.status, 404) << path;
        EXPECT_EQ(res.body, error_body("not_found", std::string("no route for GET ") + path));
    }
}

TEST(RouterDispatch, PatternsAreTriedInRegistrationOrder) {
    Router router;
    router.add(Method::get, "/a/special",
               [](const httplib::Request&, httplib::Response& res) { set_json(res, 200, R"("special")"); });
    router.add(Method::get, "/a/(.+)",
               [](const httplib::Request&, httplib::Response& res) { set_json(res, 200, R"("any")"); });
    EXPECT_EQ(dispatch(router, "GET", "/a/special").body, R"("special")");
    EXPECT_EQ(dispatch(router, "GET", "/a/other").body, R"("any")");
}

TEST(RouterDispatch, LongestPathTheFrontLetsThroughDoesNotExhaustTheStack) {
    // The request line is capped at 8 KiB by default; std::regex recurses per
    // character on patterns like [^/]+.
    const auto res = dispatch(jobs_router(), "GET", "/jobs/" + std::string(8192, 'a'));
    EXPECT_EQ(res.status, 200);
}

TEST(RouterDispatch, ACopyServesAfterTheOriginalIsGone) {
    std::unique_ptr<Router> original = std::make_unique<Router>(jobs_router());
    const Router copy = *original;
    original.reset();
    EXPECT_EQ(dispatch(copy, "GET", "/jobs/x").status, 200);
}

}  // namespace
}  // namespace levqor::controld::api
