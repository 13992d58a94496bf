#pragma once

#include <chrono>
#include <string>

#include "levqor/controld/ctl/base_url.h"

namespace levqor::controld::ctl {

// What a levqorctl command prints and how it exits.
struct CommandResult {
  int exit_code = 0;
  std::string out;  // for stdout
  std::string err;  // for stderr
};

// `levqorctl health`: GET <base>/healthz. out is the response body as
// received; exit 0 only for 200 with {"status":"ok"}, 1 for anything else
// (unreachable, timeout, other status, other body), with err saying why.
CommandResult run_health(const BaseUrl& base, std::chrono::milliseconds timeout);

}  // namespace levqor::controld::ctl
