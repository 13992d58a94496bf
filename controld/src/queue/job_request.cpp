// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/queue/job_request.h"

#include <cstdint>
#include <cstdio>

#include "levqor/controld/core/json.h"

namespace levqor::controld::queue {
namespace {

using nlohmann::json;

std::string fnv1a_hex(const std::vector<NewJob>& jobs) {
    std::uint64_t h = 1469598103934665603ULL;
    const auto mix = [&h](std::string_view text) {
        for (unsigned char c : text) {
            h ^= c;
            h *= 1099511628211ULL;
        }
        h ^= 0xff;
        h *= 1099511628211ULL;
    };
    for (const auto& job : jobs) {
        mix(job.type);
        mix(job.payload);
    }
    char out[17];
    std::snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(h));
    return out;
}

[[noreturn]] void payload_too_large(const std::string& prefix, const std::string& size, const JobLimits& limits) {
    throw InvalidJob("payload_too_large", prefix + "the payload is " + size + " bytes; the limit is " +
                                              std::to_string(limits.max_payload_bytes) + " (queue.max_payload_bytes)");
}

// `item` is taken apart: its payload is moved out, never copied.
NewJob parse_job(json& item, const std::string& where, const ExecutorRegistry& executors, const JobLimits& limits,
                 UnixMs now) {
    const auto prefix = where.empty() ? "" : where + ": ";
    if (!item.is_object()) throw InvalidJob("invalid_job", prefix + "a job is a JSON object");
    for (const auto& [key, value] : item.items()) {
        if (key != "type" && key != "payload") {
            throw InvalidJob("invalid_job",
                             prefix + "unknown field \"" + key + "\"; a job has \"type\" and \"payload\"");
        }
    }
    if (!item.contains("type") || !item["type"].is_string()) {
        throw InvalidJob("invalid_job", prefix + "\"type\" is required (a string)");
    }
    NewJob job;
    job.type = item["type"].get<std::string>();
    const Executor* executor = executors.find(job.type);
    if (executor == nullptr) {
        std::string list;
        for (const auto& t : executors.types()) list += (list.empty() ? "" : ", ") + t;
        throw InvalidJob("unknown_job_type", prefix + "unknown job type \"" + job.type + "\"; known types: " + list);
    }
    const auto found = item.find("payload");
    const json payload = found != item.end() ? std::move(*found) : json::object();
    if (!payload.is_object()) {
        throw InvalidJob("invalid_job", prefix + "\"payload\" must be a JSON object");
    }
    // A payload that is surely too large is refused before its text is built.
    const auto at_least = json_dump_size_at_least(payload);
    if (at_least > limits.max_payload_bytes) {
        payload_too_large(prefix, "at least " + std::to_string(at_least), limits);
    }
    job.payload = payload.dump(-1, ' ', false, json::error_handler_t::replace);
    if (job.payload.size() > limits.max_payload_bytes) {
        payload_too_large(prefix, std::to_string(job.payload.size()), limits);
    }
    try {
        executor->validate(payload);
    } catch (const InvalidJob& e) {
        throw InvalidJob(e.code(), prefix + e.what());
    }
    job.id = new_job_id(now);
    return job;
}

}  // namespace

JobRequest parse_job_request(std::string_view body, const ExecutorRegistry& executors, const JobLimits& limits,
                             UnixMs now) {
    json root;
    try {
        root = parse_json(body, JsonLimits{limits.max_request_bytes});
    } catch (const JsonError& e) {
        throw InvalidJob("invalid_json", e.kind() == JsonError::Kind::syntax
                                             ? std::string("the body is not valid JSON")
                                             : std::string("the body is refused: ") + e.what());
    }
    if (!root.is_object()) {
        throw InvalidJob("invalid_json",
                         "the body must be a JSON object: {\"type\":...,\"payload\":{...}} or "
                         "{\"jobs\":[...]}");
    }
    JobRequest request;
    if (root.contains("jobs")) {
        if (root.size() != 1) {
            throw InvalidJob("invalid_job", "a batch has only \"jobs\": {\"jobs\":[...]}");
        }
        auto& list = root["jobs"];
        if (!list.is_array() || list.empty()) {
            throw InvalidJob("invalid_job", "\"jobs\" must be a non-empty list of jobs");
        }
        if (list.size() > limits.max_batch) {
            throw InvalidJob("too_many_jobs", std::to_string(list.size()) + " jobs in one request; the limit is " +
                                                  std::to_string(limits.max_batch));
        }
        request.batch = true;
        request.jobs.reserve(list.size());
        for (std::size_t i = 0; i < list.size(); ++i) {
            request.jobs.push_back(parse_job(list[i], "jobs[" + std::to_string(i) + "]", executors, limits, now));
        }
    } else {
        request.jobs.push_back(parse_job(root, "", executors, limits, now));
    }
    request.fingerprint = fnv1a_hex(request.jobs);
    return request;
}

}  // namespace levqor::controld::queue
