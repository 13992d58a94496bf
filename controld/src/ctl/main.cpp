// levqorctl: the command-line client of levqor-controld.
//
//   levqorctl [--url URL] [--timeout MS] health
//
// URL defaults to $LEVQOR_URL, else http://127.0.0.1:8089.
// Exit status: 0 success (healthy), 1 the command failed (unreachable,
// unhealthy), 2 usage error.
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>

#include "levqor/controld/ctl/base_url.h"
#include "levqor/controld/ctl/health_command.h"
#include "levqor/controld/version.h"

namespace {

using namespace levqor::controld;

constexpr int kExitUsage = 2;
constexpr const char* kDefaultUrl = "http://127.0.0.1:8089";

std::string default_url() {
  const char* env = std::getenv("LEVQOR_URL");
  return env && *env ? env : kDefaultUrl;
}

int emit(const ctl::CommandResult& result) {
  std::cout << result.out << std::flush;
  std::cerr << result.err << std::flush;
  return result.exit_code;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"levqorctl " + std::string(kVersion) + ": command-line client of levqor-controld"};
  cli.require_subcommand(1);
  std::string url = default_url();
  cli.add_option("--url", url, "controld base URL (env LEVQOR_URL)")
      ->capture_default_str()
      ->type_name("URL");
  int timeout_ms = 5000;
  cli.add_option("--timeout", timeout_ms, "request timeout in milliseconds")
      ->capture_default_str()
      ->check(CLI::Range(1, 600000))
      ->type_name("MS");
  cli.set_version_flag("--version", std::string(kVersion));

  auto* health = cli.add_subcommand(
      "health", "GET /healthz and print the JSON; exit 0 if healthy, 1 otherwise");

  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return cli.exit(e) == 0 ? 0 : kExitUsage;
  }

  ctl::BaseUrl base;
  try {
    base = ctl::parse_base_url(url);
  } catch (const std::invalid_argument& e) {
    std::cerr << "levqorctl: --url/LEVQOR_URL: " << e.what() << "\n";
    return kExitUsage;
  }

  const std::chrono::milliseconds timeout(timeout_ms);
  if (*health) return emit(ctl::run_health(base, timeout));
  return kExitUsage;  // unreachable: require_subcommand(1)
}
