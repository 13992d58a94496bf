// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/queue/redis_reply.h"

#include <hiredis/hiredis.h>

#include <charconv>

#include "levqor/controld/queue/backend.h"

namespace levqor::controld::queue {
namespace {

[[noreturn]] void unexpected(std::string_view what, std::string_view expected, const redisReply* got) {
    throw BackendError("redis: " + std::string(what) + ": expected " + std::string(expected) + ", got " +
                       describe_reply(got));
}

bool is_text(const redisReply* reply) {
    return reply != nullptr && (reply->type == REDIS_REPLY_STRING || reply->type == REDIS_REPLY_STATUS) &&
           (reply->str != nullptr || reply->len == 0);
}

bool is_array(const redisReply* reply) {
    return reply != nullptr && reply->type == REDIS_REPLY_ARRAY && (reply->elements == 0 || reply->element != nullptr);
}

std::string_view text_of(const redisReply& reply) {
    return reply.str == nullptr ? std::string_view() : std::string_view(reply.str, reply.len);
}

bool parse_integer(std::string_view text, long long& out) {
    if (text.empty()) return false;
    const auto* end = text.data() + text.size();
    const auto result = std::from_chars(text.data(), end, out);
    return result.ec == std::errc() && result.ptr == end;
}

int entry_count(const std::string& entry, std::string_view field, std::string_view text) {
    long long value = 0;
    if (!parse_integer(text, value) || value < 0 || value > 1000000) {
        throw BackendError("redis: XREADGROUP: stream entry " + entry + ": field \"" + std::string(field) +
                           "\" is not a count");
    }
    return static_cast<int>(value);
}

}  // namespace

std::string describe_reply(const redisReply* reply) {
    if (reply == nullptr) return "nothing";
    switch (reply->type) {
        case REDIS_REPLY_STRING:
            return "a string";
        case REDIS_REPLY_STATUS:
            return "a status";
        case REDIS_REPLY_INTEGER:
            return "an integer";
        case REDIS_REPLY_NIL:
            return "nil";
        case REDIS_REPLY_ARRAY:
            return "an array of " + std::to_string(reply->elements);
        case REDIS_REPLY_ERROR: {
            auto text = std::string(text_of(*reply).substr(0, 200));
            return "an error (" + text + ")";
        }
        default:
            return "a reply of type " + std::to_string(reply->type);
    }
}

bool reply_is_nil(const redisReply* reply) { return reply != nullptr && reply->type == REDIS_REPLY_NIL; }

const redisReply& expect_array(const redisReply* reply, std::string_view what) {
    if (!is_array(reply)) unexpected(what, "an array", reply);
    return *reply;
}

const redisReply& expect_array(const redisReply* reply, std::size_t count, std::string_view what) {
    if (!is_array(reply) || reply->elements != count) {
        unexpected(what, "an array of " + std::to_string(count), reply);
    }
    return *reply;
}

const redisReply& element_of(const redisReply& array, std::size_t index, std::string_view what) {
    if (array.type != REDIS_REPLY_ARRAY || index >= array.elements || array.element == nullptr ||
        array.element[index] == nullptr) {
        throw BackendError("redis: " + std::string(what) + ": element " + std::to_string(index) + " missing in " +
                           describe_reply(&array));
    }
    return *array.element[index];
}

std::string expect_string(const redisReply* reply, std::string_view what) {
    if (!is_text(reply)) unexpected(what, "a string", reply);
    return std::string(text_of(*reply));
}

long long expect_integer(const redisReply* reply, std::string_view what) {
    if (reply != nullptr && reply->type == REDIS_REPLY_INTEGER) return reply->integer;
    long long value = 0;
    if (is_text(reply) && parse_integer(text_of(*reply), value)) return value;
    unexpected(what, "an integer", reply);
}

std::map<std::string, std::string> expect_map(const redisReply* reply, std::string_view what) {
    const auto& array = expect_array(reply, what);
    if (array.elements % 2 != 0) unexpected(what, "an array of field, value pairs", reply);
    std::map<std::string, std::string> out;
    for (std::size_t i = 0; i < array.elements; i += 2) {
        const auto& value = element_of(array, i + 1, what);
        std::string text;
        if (value.type == REDIS_REPLY_INTEGER) {
            text = std::to_string(value.integer);
        } else if (is_text(&value)) {
            text = std::string(text_of(value));
        } else if (value.type != REDIS_REPLY_NIL) {
            unexpected(what, "a string, an integer or nil as a value", &value);
        }
        out[expect_string(&element_of(array, i, what), what)] = std::move(text);
    }
    return out;
}

std::vector<Delivery> parse_stream_read(const redisReply* reply) {
    constexpr std::string_view what = "XREADGROUP";
    std::vector<Delivery> out;
    if (reply_is_nil(reply)) return out;  // BLOCK ran out
    const auto& streams = expect_array(reply, 1, what);
    const auto& stream = expect_array(&element_of(streams, 0, what), 2, what);
    const auto& entries = element_of(stream, 1, what);
    if (reply_is_nil(&entries)) return out;
    expect_array(&entries, what);
    out.reserve(entries.elements);
    for (std::size_t i = 0; i < entries.elements; ++i) {
        const auto& entry = expect_array(&element_of(entries, i, what), 2, "XREADGROUP entry");
        Delivery d;
        d.token = expect_string(&element_of(entry, 0, what), "XREADGROUP entry id");
        const auto& fields = expect_array(&element_of(entry, 1, what), "XREADGROUP entry fields");
        if (fields.elements % 2 != 0) {
            unexpected("XREADGROUP entry " + d.token, "field, value pairs", &fields);
        }
        // Without a map: this runs for every job a worker takes.
        bool has_id = false, has_type = false, has_payload = false, has_attempt = false;
        for (std::size_t j = 0; j < fields.elements; j += 2) {
            const auto& key = element_of(fields, j, what);
            const auto& value = element_of(fields, j + 1, what);
            if (!is_text(&key) || !is_text(&value)) {
                unexpected("XREADGROUP entry " + d.token, "string fields and values", is_text(&key) ? &value : &key);
            }
            const auto name = text_of(key);
            if (name == "id") {
                d.id.assign(text_of(value));
                has_id = true;
            } else if (name == "type") {
                d.type.assign(text_of(value));
                has_type = true;
            } else if (name == "payload") {
                d.payload.assign(text_of(value));
                has_payload = true;
            } else if (name == "attempt") {
                d.attempt = entry_count(d.token, name, text_of(value));
                has_attempt = true;
            } else if (name == "redeliveries") {
                d.redeliveries = entry_count(d.token, name, text_of(value));
            }
        }
        if (!has_id || !has_type || !has_payload || !has_attempt) {
            throw BackendError("redis: XREADGROUP: stream entry " + d.token +
                               " lacks one of the fields id, type, payload, attempt");
        }
        out.push_back(std::move(d));
    }
    return out;
}

}  // namespace levqor::controld::queue
