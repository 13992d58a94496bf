// SPDX-License-Identifier: Apache-2.0
#include <algorithm>
#include <cctype>

#include "levqor/controld/core/job_url.h"
#include "levqor/controld/core/text.h"
#include "levqor/controld/net/http_client.h"
#include "levqor/controld/queue/exec_runner.h"
#include "levqor/controld/queue/executor.h"

namespace levqor::controld::queue {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

[[noreturn]] void reject(const std::string& code, const std::string& message) { throw InvalidJob(code, message); }

// A job's string for a message: JSON-quoted, at most about 64 bytes.
std::string quoted(const std::string& text) {
    auto out =
        json(text.size() > 64 ? text.substr(0, 60) + "..." : text).dump(-1, ' ', false, json::error_handler_t::replace);
    return out;
}

void check_keys(const json& payload, std::initializer_list<const char*> known, const std::string& type) {
    for (const auto& [key, value] : payload.items()) {
        // An init-capture: a structured binding cannot be captured in C++17
        // (g++ allows it, clang rejects it, and the fuzz tree is clang).
        if (std::none_of(known.begin(), known.end(), [&name = key](const char* k) { return name == k; })) {
            std::string list;
            for (const char* k : known) list += (list.empty() ? "" : ", ") + std::string(k);
            reject("invalid_job", "payload." + key + " is not a field of " + type + " jobs; known fields: " + list);
        }
    }
}

ExecutionResult failed(ExecutionResult::Kind kind, std::string error, json::object_t result = {}) {
    ExecutionResult out;
    out.kind = kind;
    out.error = std::move(error);
    if (!result.empty()) out.result = result;
    return out;
}

class NoopExecutor final : public Executor {
public:
    void validate(const json&) const override {}
    ExecutionResult run_one(const Delivery&) const override { return {}; }
    std::vector<ExecutionResult> run(const std::vector<const Delivery*>& jobs) const override {
        return std::vector<ExecutionResult>(jobs.size());
    }
    milliseconds max_duration(const Delivery&) const override { return milliseconds(0); }
};

bool token_char(unsigned char c) {
    return std::isalnum(c) || std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

constexpr const char* kReservedHeaders[] = {"host",       "content-length",  "transfer-encoding",
                                            "connection", "x-levqor-job-id", "idempotency-key",
                                            "expect",     "upgrade"};

class HttpExecutor final : public Executor {
public:
    HttpExecutor(std::vector<std::string> allow, milliseconds default_timeout, milliseconds max_timeout)
        : default_timeout_(default_timeout), max_timeout_(max_timeout) {
        for (auto& prefix : allow) {
            try {
                allow_.push_back(normalize_job_url_prefix(prefix));
            } catch (const std::invalid_argument&) {
                // The config refuses such a prefix; one built by hand allows nothing.
            }
        }
    }

    void validate(const json& payload) const override { checked_url(payload); }

    // The payload checked; its URL normalised, as it is called.
    JobUrl checked_url(const json& payload) const {
        check_keys(payload, {"url", "body", "headers", "timeout_ms"}, "http");
        if (!payload.contains("url") || !payload["url"].is_string()) {
            reject("invalid_job", "payload.url is required: the http(s) URL to POST to");
        }
        const auto url = payload["url"].get<std::string>();
        JobUrl normalized;
        try {
            normalized = normalize_job_url(url);
        } catch (const std::invalid_argument& e) {
            reject("invalid_url", "payload.url is not a usable URL: " + std::string(e.what()));
        }
        if (!std::any_of(allow_.begin(), allow_.end(),
                         [&](const JobUrl& p) { return job_url_allowed(normalized, p); })) {
            reject("url_not_allowed", "payload.url " + url + " matches no http_job_allow prefix" +
                                          (allow_.empty() ? " (none is configured: set http_job_allow or "
                                                            "LEVQOR_HTTP_JOB_ALLOW)"
                                                          : ""));
        }
        if (payload.contains("headers")) {
            const auto& headers = payload["headers"];
            if (!headers.is_object()) reject("invalid_job", "payload.headers must be an object");
            for (const auto& [name, value] : headers.items()) {
                if (name.empty() || !std::all_of(name.begin(), name.end(),
                                                 [](char c) { return token_char(static_cast<unsigned char>(c)); })) {
                    reject("invalid_job", "payload.headers: \"" + name + "\" is not a header name");
                }
                const auto lower = to_lower(name);
                for (const char* reserved : kReservedHeaders) {
                    if (lower == reserved) {
                        reject("invalid_job", "payload.headers: " + name + " is set by controld");
                    }
                }
                if (!value.is_string() ||
                    value.get<std::string>().find_first_of(std::string("\r\n\0", 3)) != std::string::npos) {
                    reject("invalid_job", "payload.headers." + name + " must be a string without line breaks");
                }
            }
        }
        if (payload.contains("timeout_ms")) {
            const auto& t = payload["timeout_ms"];
            if (!t.is_number_integer() || t.get<std::int64_t>() < 1 || t.get<std::int64_t>() > max_timeout_.count()) {
                reject("invalid_job",
                       "payload.timeout_ms must be a whole number from 1 to " + std::to_string(max_timeout_.count()));
            }
        }
        return normalized;
    }

    milliseconds max_duration(const Delivery& job) const override {
        const auto payload = parse_stored_json(job.payload);
        if (payload.is_object() && payload.contains("timeout_ms") && payload["timeout_ms"].is_number_integer()) {
            return milliseconds(payload["timeout_ms"].get<std::int64_t>());
        }
        return default_timeout_;
    }

    // Requests in flight at once per worker: enough to hide the latency of
    // slow endpoints, few enough to stay a polite client.
    std::size_t concurrency() const override { return 16; }

    ExecutionResult run_one(const Delivery& job) const override { return run({&job}).front(); }

    std::vector<ExecutionResult> run(const std::vector<const Delivery*>& jobs) const override {
        std::vector<ExecutionResult> results(jobs.size());
        std::vector<net::HttpRequest> requests;
        std::vector<std::size_t> index;
        for (std::size_t i = 0; i < jobs.size(); ++i) {
            const auto payload = parse_stored_json(jobs[i]->payload);
            if (!payload.is_object() || !payload.contains("url") || !payload["url"].is_string()) {
                results[i] = failed(ExecutionResult::Kind::permanent, "the stored payload has no url");
                continue;
            }
            net::HttpRequest req;
            req.method = "POST";
            // The allow-list may have changed (SIGHUP) since the job was accepted.
            try {
                req.url = checked_url(payload).to_string();
            } catch (const InvalidJob& e) {
                results[i] = failed(ExecutionResult::Kind::permanent, e.what());
                continue;
            }
            req.timeout = max_duration(*jobs[i]);
            req.max_response_bytes = 1024 * 1024;
            bool content_type = false;
            if (payload.contains("headers")) {
                for (const auto& [name, value] : payload["headers"].items()) {
                    if (to_lower(name) == "content-type") content_type = true;
                    req.headers.emplace_back(name, value.get<std::string>());
                }
            }
            if (payload.contains("body")) {
                const auto& body = payload["body"];
                req.body = body.is_string() ? body.get<std::string>() : body.dump();
                if (!content_type) {
                    req.headers.emplace_back("Content-Type",
                                             body.is_string() ? "text/plain; charset=utf-8" : "application/json");
                }
            }
            req.headers.emplace_back("X-Levqor-Job-Id", jobs[i]->id);
            req.headers.emplace_back("Idempotency-Key", jobs[i]->id);
            req.headers.emplace_back("X-Levqor-Attempt", std::to_string(jobs[i]->attempt));
            requests.push_back(std::move(req));
            index.push_back(i);
        }
        const auto responses = net::perform_all(requests);
        for (std::size_t k = 0; k < responses.size(); ++k) {
            results[index[k]] = classify(responses[k]);
        }
        return results;
    }

private:
    static ExecutionResult classify(const net::HttpResponse& res) {
        if (!res.transport_ok()) {
            return failed(ExecutionResult::Kind::retryable, res.error);
        }
        json::object_t result{{"status", res.status}};
        if (!res.body.empty()) result["body"] = res.body.substr(0, 1024);
        if (res.status >= 200 && res.status < 300) {
            ExecutionResult ok;
            ok.result = result;
            return ok;
        }
        const bool permanent = res.status >= 400 && res.status < 500 && res.status != 408 && res.status != 429;
        return failed(permanent ? ExecutionResult::Kind::permanent : ExecutionResult::Kind::retryable,
                      "HTTP " + std::to_string(res.status) + (permanent ? " (a client error: not retried)" : ""),
                      result);
    }

    std::vector<JobUrl> allow_;
    milliseconds default_timeout_;
    milliseconds max_timeout_;
};

class ExecExecutor final : public Executor {
public:
    explicit ExecExecutor(std::map<std::string, ExecCommand> commands) : commands_(std::move(commands)) {}

    void validate(const json& payload) const override {
        check_keys(payload, {"command", "args"}, "exec");
        if (!payload.contains("command") || !payload["command"].is_string()) {
            reject("invalid_job", "payload.command is required: the name of a command in queue.exec");
        }
        const auto name = payload["command"].get<std::string>();
        const auto found = commands_.find(name);
        if (found == commands_.end()) {
            std::string list;
            for (const auto& [known, _] : commands_) list += (list.empty() ? "" : ", ") + known;
            reject("unknown_command", "payload.command \"" + name + "\" is not declared in queue.exec" +
                                          (list.empty() ? " (none is)" : "; declared: " + list));
        }
        if (!payload.contains("args")) return;
        const auto& args = payload["args"];
        if (!args.is_array() || args.size() > 64) {
            reject("invalid_job", "payload.args must be a list of at most 64 strings");
        }
        if (!args.empty() && !found->second.args_allowed) {
            reject("invalid_job", "command \"" + name + "\" takes no arguments from jobs");
        }
        for (std::size_t i = 0; i < args.size(); ++i) {
            const auto& arg = args[i];
            if (!arg.is_string() || arg.get<std::string>().size() > 4096 ||
                arg.get<std::string>().find('\0') != std::string::npos) {
                reject("invalid_job", "payload.args: each argument is a string of at most 4096 bytes");
            }
            // "-exec", "--config=...": an option of the program, not an operand.
            if (!found->second.options_allowed && arg.get_ref<const std::string&>().rfind('-', 0) == 0) {
                reject("invalid_job", "payload.args[" + std::to_string(i) + "] " + quoted(arg.get<std::string>()) +
                                          " starts with '-': command \"" + name +
                                          "\" takes no options from jobs (queue.exec." + name +
                                          ".options_allowed is false)");
            }
        }
    }

    milliseconds max_duration(const Delivery& job) const override {
        const auto payload = parse_stored_json(job.payload);
        if (payload.is_object() && payload.contains("command") && payload["command"].is_string()) {
            auto found = commands_.find(payload["command"].get<std::string>());
            if (found != commands_.end()) return found->second.timeout;
        }
        return milliseconds(0);
    }

    ExecutionResult run_one(const Delivery& job) const override {
        const auto payload = parse_stored_json(job.payload);
        try {
            validate(payload);
        } catch (const InvalidJob& e) {
            return failed(ExecutionResult::Kind::permanent, e.what());
        }
        const auto& command = commands_.at(payload["command"].get<std::string>());
        ExecSpec spec;
        spec.path = command.path;
        spec.argv.push_back(command.path);
        spec.argv.insert(spec.argv.end(), command.args.begin(), command.args.end());
        if (payload.contains("args")) {
            for (const auto& arg : payload["args"]) spec.argv.push_back(arg.get<std::string>());
        }
        spec.env = command.env;
        spec.env.emplace_back("LEVQOR_JOB_ID", job.id);
        spec.env.emplace_back("LEVQOR_JOB_ATTEMPT", std::to_string(job.attempt));
        spec.timeout = command.timeout;
        spec.max_output_bytes = command.max_output_bytes;
        spec.uid = command.uid;
        spec.gid = command.gid;
        const auto run = run_command(spec);
        if (!run.started) return failed(ExecutionResult::Kind::permanent, run.error);
        json::object_t result{{"exit_code", run.exit_code},
                              {"stdout", run.out},
                              {"stderr", run.err},
                              {"truncated", run.truncated},
                              {"duration_s", run.elapsed.count()}};
        if (run.signal != 0) result["signal"] = run.signal;
        if (run.timed_out) {
            return failed(
                ExecutionResult::Kind::retryable,
                "timed out after " + std::to_string(command.timeout.count()) + " ms; the process group was killed",
                result);
        }
        if (run.signal != 0) {
            return failed(ExecutionResult::Kind::retryable, "killed by signal " + std::to_string(run.signal), result);
        }
        if (run.exit_code != 0) {
            return failed(ExecutionResult::Kind::retryable, "exited with status " + std::to_string(run.exit_code),
                          result);
        }
        ExecutionResult ok;
        ok.result = result;
        return ok;
    }

private:
    std::map<std::string, ExecCommand> commands_;
};

}  // namespace

std::vector<ExecutionResult> Executor::run(const std::vector<const Delivery*>& jobs) const {
    std::vector<ExecutionResult> out;
    out.reserve(jobs.size());
    for (const auto* job : jobs) out.push_back(run_one(*job));
    return out;
}

void ExecutorRegistry::add(const std::string& type, std::shared_ptr<const Executor> executor) {
    executors_[type] = std::move(executor);
}

const Executor* ExecutorRegistry::find(const std::string& type) const {
    auto found = executors_.find(type);
    return found == executors_.end() ? nullptr : found->second.get();
}

std::vector<std::string> ExecutorRegistry::types() const {
    std::vector<std::string> out;
    for (const auto& [type, _] : executors_) out.push_back(type);
    return out;
}

std::shared_ptr<const Executor> make_noop_executor() { return std::make_shared<NoopExecutor>(); }

std::shared_ptr<const Executor> make_http_executor(std::vector<std::string> allow, milliseconds default_timeout,
                                                   milliseconds max_timeout) {
    return std::make_shared<HttpExecutor>(std::move(allow), default_timeout, max_timeout);
}

std::shared_ptr<const Executor> make_exec_executor(std::map<std::string, ExecCommand> commands) {
    return std::make_shared<ExecExecutor>(std::move(commands));
}

}  // namespace levqor::controld::queue
