// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/ctl/client.h"

#include <httplib.h>

#include <memory>
#include <stdexcept>

#include "levqor/controld/auth/token_store.h"
#include "levqor/controld/core/files.h"
#include "levqor/controld/core/json.h"

namespace levqor::controld::ctl {
namespace {

// The largest answer is a DLQ listing of 10,000 jobs with their results.
constexpr std::size_t kMaxAnswerBytes = 256 * 1024 * 1024;

// httplib::Client's URL parser rejects IPv6 literals with hex digits, so
// build the client from the parts already parsed.
std::unique_ptr<httplib::ClientImpl> make_client(const BaseUrl& base, std::chrono::milliseconds timeout) {
    std::unique_ptr<httplib::ClientImpl> client;
    if (base.scheme == "https") {
        client = std::make_unique<httplib::SSLClient>(base.host, base.port);
    } else {
        client = std::make_unique<httplib::ClientImpl>(base.host, base.port);
    }
    const auto secs = static_cast<time_t>(timeout.count() / 1000);
    const auto usecs = static_cast<time_t>((timeout.count() % 1000) * 1000);
    client->set_connection_timeout(secs, usecs);
    client->set_read_timeout(secs, usecs);
    client->set_write_timeout(secs, usecs);
    return client;
}

std::string explain(httplib::Error error) {
    switch (error) {
        case httplib::Error::Connection:
            return "connection failed (is levqor-controld running there? set --url or LEVQOR_URL)";
        case httplib::Error::ConnectionTimeout:
            return "timed out connecting";
        case httplib::Error::Read:
            return "failed or timed out reading the response";
        case httplib::Error::Write:
            return "failed writing the request";
        case httplib::Error::SSLConnection:
            return "TLS handshake failed";
        case httplib::Error::SSLServerVerification:
            return "the server's TLS certificate did not verify";
        case httplib::Error::SSLLoadingCerts:
            return "could not load CA certificates";
        default:
            return "request failed (" + httplib::to_string(error) + ")";
    }
}

std::string hint_for(int status) {
    switch (status) {
        case 401:
            return " (pass the admin token with --token-file FILE or LEVQOR_TOKEN_FILE)";
        default:
            return "";
    }
}

}  // namespace

std::string read_token_file(const std::string& path) {
    std::optional<std::string> text;
    try {
        text = read_file_if_exists(path);
    } catch (const FileError& e) {
        throw std::invalid_argument(std::string("token file: ") + e.what());
    }
    if (!text) throw std::invalid_argument("token file " + path + " does not exist");
    try {
        return auth::TokenStore::parse_token_file(*text).front();
    } catch (const std::invalid_argument& e) {
        throw std::invalid_argument("token file " + path + ": " + e.what());
    }
}

ApiClient::ApiClient(BaseUrl base, std::chrono::milliseconds timeout, std::optional<std::string> token)
    : base_(std::move(base)), timeout_(timeout), token_(std::move(token)) {}

ApiResult ApiClient::get(const std::string& path) const { return call("GET", path, ""); }

ApiResult ApiClient::put(const std::string& path, const nlohmann::json& body) const {
    return call("PUT", path, body.dump());
}

ApiResult ApiClient::post(const std::string& path, const nlohmann::json& body) const {
    return call("POST", path, body.dump());
}

ApiResult ApiClient::call(const std::string& method, const std::string& path, const std::string& body) const {
    auto client = make_client(base_, timeout_);
    httplib::Request req;
    req.method = method;
    req.path = base_.path_prefix + path;
    req.set_header("Accept", "application/json");
    if (token_) req.set_header("Authorization", "Bearer " + *token_);
    if (method != "GET") {
        req.body = body;
        req.set_header("Content-Type", "application/json");
    }
    const auto where = method + " " + base_.url_for(path);
    ApiResult result;
    const auto res = client->send(req);
    if (!res) {
        result.error = where + ": " + explain(res.error());
        return result;
    }
    result.status = res->status;
    result.body = res->body;
    result.date = res->get_header_value("Date");
    std::string refused;
    try {
        result.json = parse_json(res->body, JsonLimits{kMaxAnswerBytes});
    } catch (const JsonError& e) {
        result.json = nlohmann::json(nlohmann::json::value_t::discarded);
        if (e.kind() != JsonError::Kind::syntax) refused = e.what();
    }
    if (res->status < 200 || res->status >= 300) {
        std::string detail;
        if (result.json.is_object() && result.json.contains("error")) {
            detail = " " + result.json.value("error", "") + ": " + result.json.value("message", "");
        }
        result.error = where + ": HTTP " + std::to_string(res->status) + detail + hint_for(res->status);
    } else if (result.json.is_discarded()) {
        result.error = where + (refused.empty() ? ": the answer is not JSON" : ": the answer is refused: " + refused);
    }
    return result;
}

}  // namespace levqor::controld::ctl
