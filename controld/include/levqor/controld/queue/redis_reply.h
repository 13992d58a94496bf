// SPDX-License-Identifier: Apache-2.0
// Shape checks for Redis replies: every reply controld reads is checked
// (type, element count, presence) before it is used, and a stream read becomes
// deliveries. Pure functions, thread-safe.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "levqor/controld/queue/job.h"

struct redisReply;

namespace levqor::controld::queue {

// Shape checks for every Redis reply controld reads. A reply is checked
// (present, type, element count, elements present) before anything in it is
// used; an unexpected shape throws BackendError naming the command, what
// was expected and what came ("redis: XREADGROUP: expected an array of 2,
// got a string"), never dereferences a null element. A real redis-server
// does not send odd shapes; a proxy, another RESP server or a bug can.
// Error replies (-ERR ...) are reported as such. All functions are pure and
// accept a null pointer. Thread-safety: none needed.

// "an array of 3", "a string", "nil", "an error (NOGROUP ...)", "nothing"...
std::string describe_reply(const redisReply* reply);

bool reply_is_nil(const redisReply* reply);

// An array (of `count` elements when given).
const redisReply& expect_array(const redisReply* reply, std::string_view what);
const redisReply& expect_array(const redisReply* reply, std::size_t count, std::string_view what);
// Element `index` of an array reply, present (it may be nil; see reply_is_nil).
const redisReply& element_of(const redisReply& array, std::size_t index, std::string_view what);
// A bulk string or status.
std::string expect_string(const redisReply* reply, std::string_view what);
// An integer, or a bulk string holding one (Lua may answer either).
long long expect_integer(const redisReply* reply, std::string_view what);
// A flat array of field, value, ... (HGETALL, one group of XINFO GROUPS):
// fields are strings; values are strings, integers or nil (as "").
std::map<std::string, std::string> expect_map(const redisReply* reply, std::string_view what);

// The entries of `XREADGROUP ... STREAMS <one stream> >`: nil (nothing came
// in time) or [[stream, [[entry id, [field, value, ...]], ...]]]. Each entry
// must have the fields id, type, payload and attempt (redeliveries is
// optional); the entry id becomes the delivery's token.
std::vector<Delivery> parse_stream_read(const redisReply* reply);

}  // namespace levqor::controld::queue
