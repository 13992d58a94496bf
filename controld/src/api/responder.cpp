// SPDX-License-Identifier: Apache-2.0
#include "responder.h"

#include <exception>

#include "levqor/controld/api/errors.h"
#include "wire.h"

namespace levqor::controld::api {
namespace {

std::string describe(std::exception_ptr ep) {
    try {
        if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& e) {
        return e.what();
    } catch (...) {}
    return "unknown exception";
}

}  // namespace

Responder::Responder(const Router& router, const Logger& log, const HttpServer::Options& options)
    : router_(router), log_(log), options_(options) {}

httplib::Response Responder::answer(httplib::Request& req) const {
    httplib::Response res;
    try {
        router_.dispatch(req, res);
        if (res.status == -1) res.status = 200;
    } catch (...) {
        const auto error = describe(std::current_exception());
        try {
            if (options_.on_exception) {
                options_.on_exception(req, error);
            } else {
                log_.error("request handler failed", {{"method", req.method}, {"path", req.path}, {"error", error}});
            }
        } catch (...) {
            // Reporting failed; the client still gets its 500.
        }
        res = httplib::Response{};  // drops whatever the handler set before it threw
        set_error(res, 500, "internal_error", "internal error; see the levqor-controld log");
    }
    if (res.status >= 400 && res.body.empty()) {
        set_error(res, res.status, error_code_for_status(res.status),
                  "request failed with HTTP status " + std::to_string(res.status));
    }
    finish(req, res);
    return res;
}

std::string Responder::refuse(httplib::Request& req, const RequestError& error) const {
    httplib::Response res;
    if (error.status == 401) res.set_header("WWW-Authenticate", "Bearer realm=\"levqor-controld\"");
    set_error(res, error.status, error.code, error.message);
    finish(req, res);
    return serialize_response(req, res, /*keep_alive=*/false);
}

void Responder::finish(const httplib::Request& req, const httplib::Response& res) const {
    const bool quiet = res.status < 400 && options_.quiet_paths.count(req.path) != 0;
    log_.log(quiet ? LogLevel::debug : LogLevel::info, "request",
             {{"method", req.method}, {"path", req.path}, {"status", res.status}, {"remote", req.remote_addr}});
    if (!options_.on_response) return;
    try {
        options_.on_response(req, res);
    } catch (const std::exception& e) {
        log_.error("response hook failed", {{"path", req.path}, {"error", e.what()}});
    }
}

}  // namespace levqor::controld::api
