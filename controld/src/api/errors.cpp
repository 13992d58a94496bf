// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/api/errors.h"

#include <httplib.h>

#include <nlohmann/json.hpp>

namespace levqor::controld::api {

std::string error_body(std::string_view code, std::string_view message) {
    nlohmann::ordered_json body;
    body["error"] = code;
    body["message"] = message;
    return body.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

std::string_view error_code_for_status(int status) {
    switch (status) {
        case 400:
            return "bad_request";
        case 401:
            return "unauthorized";
        case 403:
            return "forbidden";
        case 404:
            return "not_found";
        case 405:
            return "method_not_allowed";
        case 408:
            return "request_timeout";
        case 409:
            return "conflict";
        case 413:
            return "payload_too_large";
        case 414:
            return "uri_too_long";
        case 415:
            return "unsupported_media_type";
        case 416:
            return "range_not_satisfiable";
        case 417:
            return "expectation_failed";
        case 421:
            return "misdirected_request";
        case 422:
            return "unprocessable_entity";
        case 429:
            return "rate_limited";
        case 431:
            return "request_header_fields_too_large";
        case 500:
            return "internal_error";
        case 501:
            return "not_implemented";
        case 503:
            return "unavailable";
        case 505:
            return "http_version_not_supported";
        default:
            return status >= 500 ? "server_error" : "client_error";
    }
}

void set_json(httplib::Response& res, int status, std::string body) {
    res.status = status;
    res.set_content(std::move(body), "application/json");
}

void set_error(httplib::Response& res, int status, std::string_view code, std::string_view message) {
    set_json(res, status, error_body(code, message));
}

}  // namespace levqor::controld::api
