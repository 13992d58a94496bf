// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for what the module reads from Redis and Sentinels: the
// rate-limit script's batch reply (redis::decode_next, then redis::finish on
// what it accepts), SENTINEL get-master-addr-by-name's answer
// (redis::parse_master_addr) and the text of sentinel_auth_file=
// (redis::sentinel_auth). A Redis or Sentinel that is not what it claims
// controls these bytes.
//
// Input: byte 0 picks the parser. Batch reply: byte 1 = decisions (1..64),
// the next `decisions` bytes their bucket counts, the rest the reply.
// Invariants: the decoder never reads past the reply (ASan), advances by
// exactly 2 + 8 x buckets per accepted decision, and finish() gives
// decisions the local limiter could give: a refused bucket waits, an
// admitted one does not, remaining never above the burst. A master address
// accepted is an IP literal that inet_pton reads and a port in 1..65535.
// A sentinel_auth_file= text accepted has a non-empty password that is part
// of the text, within the size limit; a refusal says why.
#include <arpa/inet.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "levqor/bucket_table.h"
#include "levqor/limit_redis.h"

namespace {

void check(bool ok) {
    if (!ok) std::abort();
}

void batch_reply(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return;
    const std::size_t decisions = 1 + data[1] % levqor::redis::kMaxBatch;
    if (size < 2 + decisions) return;
    const std::uint8_t* counts = data + 2;
    const std::uint8_t* reply = data + 2 + decisions;
    const std::size_t len = size - 2 - decisions;
    levqor::limit::BucketRequest reqs[levqor::redis::kMaxScriptBuckets] = {};
    for (std::size_t i = 0; i < levqor::redis::kMaxScriptBuckets; ++i) {
        reqs[i].limit.interval_ns = 1000000ULL << i;  // 1 ms, 2 ms, ... per token
        reqs[i].limit.burst = 1 + 7 * i;
        reqs[i].cost = 1 + i % 3;
        reqs[i].observe_only = i % 4 == 3;
    }
    std::size_t at = 0;
    for (std::size_t d = 0; d < decisions; ++d) {
        const std::size_t buckets = counts[d] % (levqor::redis::kMaxScriptBuckets + 2);  // 0 and 9 refused
        levqor::redis::ScriptResult r{};
        const std::size_t before = at;
        if (!levqor::redis::decode_next(reply, len, at, buckets, r)) {
            check(at == before);
            return;
        }
        check(buckets >= 1 && buckets <= levqor::redis::kMaxScriptBuckets);
        check(at == before + 2 + 8 * buckets && at <= len);
        check(r.n == buckets);
        levqor::gcra::Decision out[levqor::redis::kMaxScriptBuckets];
        levqor::redis::finish(r, reqs, out);
        for (std::size_t i = 0; i < buckets; ++i) {
            check(out[i].allowed == r.allowed[i]);
            check(out[i].allowed ? out[i].retry_after_ns == 0 : out[i].retry_after_ns > 0);
            check(out[i].remaining <= reqs[i].limit.burst);
        }
    }
}

void master_addr(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return;
    const std::size_t elements = data[1] % 5;
    const std::string_view rest(reinterpret_cast<const char*>(data + 2), size - 2);
    const std::size_t cut = rest.find('\n');
    const std::string_view ip = rest.substr(0, cut);
    const std::string_view port = cut == std::string_view::npos ? std::string_view() : rest.substr(cut + 1);
    levqor::redis::MasterAddr out{};
    if (!levqor::redis::parse_master_addr(elements, (data[1] & 0x80) == 0, ip, port, out)) return;
    check(elements == 2 && out.port >= 1 && out.port <= 65535);
    unsigned char buf[16];
    check(inet_pton(AF_INET, out.host, buf) == 1 || inet_pton(AF_INET6, out.host, buf) == 1);
    check(std::string_view(out.host) == ip);
}

void auth_file(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
    const auto parsed = levqor::redis::sentinel_auth(text, "sentinel.auth");
    if (!parsed) {
        // (The message never quotes the text: SentinelAuth unit tests. Not
        // checked here: short texts occur in the message's own wording.)
        check(!parsed.error().empty());
        return;
    }
    const auto& a = parsed.value();
    check(!a.password.empty() && text.find(a.password) != std::string_view::npos);
    check(a.user.size() + a.password.size() <= levqor::redis::kMaxSentinelAuth);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    switch (data[0] % 3) {
        case 0:
            batch_reply(data, size);
            break;
        case 1:
            master_addr(data, size);
            break;
        default:
            auth_file(data, size);
            break;
    }
    return 0;
}
