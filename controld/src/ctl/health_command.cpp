#include "levqor/controld/ctl/health_command.h"

#include <httplib.h>

#include <memory>

#include <nlohmann/json.hpp>

namespace levqor::controld::ctl {
namespace {

// httplib::Client's URL parser rejects IPv6 literals with hex digits, so
// build the client from the parts we already parsed.
std::unique_ptr<httplib::ClientImpl> make_client(const BaseUrl& base,
                                                 std::chrono::milliseconds timeout) {
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
      return "connection failed (is levqor-controld running there? "
             "set --url or LEVQOR_URL)";
    case httplib::Error::ConnectionTimeout: return "timed out connecting";
    case httplib::Error::Read: return "failed or timed out reading the response";
    case httplib::Error::Write: return "failed writing the request";
    case httplib::Error::SSLConnection: return "TLS handshake failed";
    case httplib::Error::SSLServerVerification:
      return "the server's TLS certificate did not verify";
    case httplib::Error::SSLLoadingCerts: return "could not load CA certificates";
    default: return "request failed (" + httplib::to_string(error) + ")";
  }
}

bool says_ok(const std::string& body) {
  const auto json = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  return json.is_object() && json.value("status", "") == "ok";
}

}  // namespace

CommandResult run_health(const BaseUrl& base, std::chrono::milliseconds timeout) {
  const auto url = base.url_for("/healthz");
  auto client = make_client(base, timeout);
  const auto res = client->Get(base.path_prefix + "/healthz",
                               {{"Accept", "application/json"}});
  CommandResult result;
  if (!res) {
    result.exit_code = 1;
    result.err = "levqorctl: GET " + url + ": " + explain(res.error()) + "\n";
    return result;
  }
  result.out = res->body;
  if (!result.out.empty() && result.out.back() != '\n') result.out += '\n';
  if (res->status != 200) {
    result.exit_code = 1;
    result.err = "levqorctl: GET " + url + ": HTTP " + std::to_string(res->status) + "\n";
  } else if (!says_ok(res->body)) {
    result.exit_code = 1;
    result.err = "levqorctl: GET " + url + ": status is not \"ok\"\n";
  }
  return result;
}

}  // namespace levqor::controld::ctl
