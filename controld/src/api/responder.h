// SPDX-License-Identifier: Apache-2.0
// Private to the HTTP server: Responder turns a request into its response
// (routing, JSON error bodies, access log, on_response) and writes the front's
// own refusals. Const, so one is shared by every worker thread.
#pragma once

#include <string>

#include <httplib.h>

#include "levqor/controld/api/http_server.h"
#include "levqor/controld/api/request_parser.h"
#include "levqor/controld/api/router.h"
#include "levqor/controld/core/log.h"

namespace levqor::controld::api {

// Turns a request into its response: runs the router (an exception from a
// handler becomes a 500 JSON error and on_exception), gives every error
// status without a body the JSON error body, access-logs and calls
// on_response.
//
// Thread-safety: const, so any number of threads may use one Responder;
// the Router, Logger and Options must outlive it.
class Responder {
public:
    Responder(const Router& router, const Logger& log, const HttpServer::Options& options);

    // A complete request, through the handlers (on a worker thread).
    httplib::Response answer(httplib::Request& req) const;
    // The front's own refusal of a request (as far as it was read), ready to
    // write: always Connection: close.
    std::string refuse(httplib::Request& req, const RequestError& error) const;

private:
    void finish(const httplib::Request& req, const httplib::Response& res) const;

    const Router& router_;
    const Logger& log_;
    const HttpServer::Options& options_;
};

}  // namespace levqor::controld::api
