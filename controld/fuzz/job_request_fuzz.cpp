// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for POST /jobs bodies (queue::parse_job_request): what a
// producer token holder sends, checked before anything is stored.
//
// Invariants: a body is accepted whole or refused with InvalidJob (the API
// answers its code as a 4xx); any other exception would be a 500. An
// accepted request has 1..max_batch jobs of known types, each payload a JSON
// object within max_payload_bytes, and http jobs only to allowed URLs.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "levqor/controld/core/job_url.h"
#include "levqor/controld/queue/executor.h"
#include "levqor/controld/queue/job_request.h"

namespace q = levqor::controld::queue;
using std::chrono::milliseconds;

namespace {

const std::vector<std::string> kAllow = {"http://127.0.0.1:9/hooks/", "https://api.example.com/v1"};

q::ExecutorRegistry make_registry() {
    std::map<std::string, levqor::controld::queue::ExecCommand> commands;
    commands["echo"].path = "/bin/echo";
    commands["echo"].args_allowed = true;
    commands["true"].path = "/bin/true";
    q::ExecutorRegistry registry;
    registry.add("noop", q::make_noop_executor());
    registry.add("http", q::make_http_executor(kAllow, milliseconds(1000), milliseconds(60000)));
    registry.add("exec", q::make_exec_executor(commands));
    return registry;
}

void check(bool ok) {
    if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const q::ExecutorRegistry registry = make_registry();
    q::JobLimits limits;
    limits.max_payload_bytes = 2048;
    limits.max_batch = 8;
    const std::string_view body(reinterpret_cast<const char*>(data), size);
    q::JobRequest request;
    try {
        request = q::parse_job_request(body, registry, limits, 1700000000000);
    } catch (const q::InvalidJob& e) {
        check(!e.code().empty());
        return 0;
    }
    check(!request.jobs.empty() && request.jobs.size() <= limits.max_batch);
    check(request.batch || request.jobs.size() == 1);
    check(request.fingerprint.size() == 16);
    for (const auto& job : request.jobs) {
        check(registry.find(job.type) != nullptr);
        check(job.payload.size() <= limits.max_payload_bytes);
        const auto payload = nlohmann::json::parse(job.payload, nullptr, false);
        check(payload.is_object());
        if (job.type == "http") check(levqor::controld::url_allowed(payload["url"].get<std::string>(), kAllow));
    }
    return 0;
}
