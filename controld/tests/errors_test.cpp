// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/api/errors.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <nlohmann/json.hpp>

namespace levqor::controld::api {
namespace {

TEST(ErrorBody, HasExactlyErrorAndMessageInThatOrder) {
    EXPECT_EQ(error_body("not_found", "no route for GET /x"),
              R"({"error":"not_found","message":"no route for GET /x"})");
}

TEST(ErrorBody, EscapesAndSurvivesInvalidUtf8) {
    const auto body = error_body("bad_request", "quote \" newline \n byte \xff");
    const auto json = nlohmann::json::parse(body);
    EXPECT_EQ(json.size(), 2u);
    EXPECT_EQ(json["error"], "bad_request");
    EXPECT_NE(json["message"].get<std::string>().find("quote \" newline \n"), std::string::npos);
}

TEST(ErrorBody, CodesForStatuses) {
    EXPECT_EQ(error_code_for_status(404), "not_found");
    EXPECT_EQ(error_code_for_status(405), "method_not_allowed");
    EXPECT_EQ(error_code_for_status(413), "payload_too_large");
    EXPECT_EQ(error_code_for_status(500), "internal_error");
    EXPECT_EQ(error_code_for_status(418), "client_error");
    EXPECT_EQ(error_code_for_status(599), "server_error");
}

TEST(ErrorBody, SetErrorSetsStatusTypeAndBody) {
    httplib::Response res;
    set_error(res, 405, "method_not_allowed", "nope");
    EXPECT_EQ(res.status, 405);
    EXPECT_EQ(res.get_header_value("Content-Type"), "application/json");
    EXPECT_EQ(res.body, R"({"error":"method_not_allowed","message":"nope"})");
}

}  // namespace
}  // namespace levqor::controld::api
