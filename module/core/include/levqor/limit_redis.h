// SPDX-License-Identifier: Apache-2.0
// Rate limits on Redis: the pieces that need no nginx — the backend URL, the
// circuit breaker, the GCRA script that runs in Redis and the decoding of
// its reply, and the bucket key names. Pure C++; thread-safe except
// CircuitBreaker (one per connection, one thread).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "levqor/bucket_table.h"
#include "levqor/gcra.h"
#include "levqor/parsed.h"
#include "levqor/siphash.h"

namespace levqor::redis {

// A Sentinel to ask for the master: an IP address (resolved at configuration time).
struct SentinelAddr {
    std::string host;
    int port = 26379;
};
inline constexpr std::size_t kMaxSentinels = 16;
inline constexpr std::size_t kMaxMasterName = 64;

// The Redis of a levqor_limit_zone: one server (a redis:// or unix: URL of
// the shared grammar, levqor/redis_url.h), or a master found through
// Sentinels (redis-sentinel://): then `sentinels` and `master_name` are set
// and host/port are unused (the worker asks the Sentinels).
struct Endpoint {
    bool unix_socket = false;
    std::string host;  // an IP address (resolved at configuration time) or the socket path
    int port = 6379;
    std::string user;      // the data nodes': empty: AUTH <password>; else AUTH <user> <password>
    std::string password;  // empty: no AUTH
    int db = 0;
    std::vector<SentinelAddr> sentinels;  // redis-sentinel://: at most kMaxSentinels, in the URL's order
    std::string master_name;              // redis-sentinel://: 1 to kMaxMasterName bytes of [A-Za-z0-9._-]
    std::string sentinel_user;            // from sentinel_auth_file=: empty: AUTH <password>
    std::string sentinel_password;        // empty: the Sentinels are asked without AUTH
    bool sentinel() const { return !sentinels.empty(); }
    std::string display() const;  // for logs: never includes the credentials
};
// Parses with parse_redis_url() and resolves the host names here (once, at
// configuration time: a worker never calls the resolver). redis-cluster://
// URLs are refused: the module does not follow a slot map yet. Error
// messages show the URL with its credentials masked.
Parsed<Endpoint> parse_url(std::string_view url);

// The Sentinels' credentials from the text of sentinel_auth_file=:
// `password` or `user:password` (an ACL user), one trailing "\n" (or
// "\r\n") not part of it; at most 512 bytes, no control characters, a
// password that is not empty. `label` names the file in messages (the
// content never appears in them).
struct SentinelAuth {
    std::string user, password;
};
inline constexpr std::size_t kMaxSentinelAuth = 512;
Parsed<SentinelAuth> sentinel_auth(std::string_view text, std::string_view label);

// A master's address as a Sentinel gives it, checked.
struct MasterAddr {
    char host[46];  // an IPv4 or IPv6 literal, NUL-terminated (INET6_ADDRSTRLEN)
    int port;
};
// The answer to SENTINEL get-master-addr-by-name, as its shape: an array of
// `elements` whose first two are strings `ip` and `port` (the caller passes
// strings_ok = false when they are not both strings). Accepted only as
// exactly [ip literal, decimal port 1..65535]; a host name (announce-hostnames),
// nil, an error or anything longer is refused (false, out untouched).
bool parse_master_addr(std::size_t elements, bool strings_ok, std::string_view ip, std::string_view port,
                       MasterAddr& out) noexcept;
// ROLE's first element: only "master" is a node to write to.
inline bool role_is_master(std::string_view first) noexcept { return first == "master"; }

// Stops asking a failing Redis: after `threshold` consecutive failures it
// opens for a pause (doubling up to `max_pause_ms`); once the pause is over
// one request probes, and its success closes the breaker.
class CircuitBreaker {
public:
    CircuitBreaker(std::uint32_t threshold = 3, std::uint64_t first_pause_ms = 100, std::uint64_t max_pause_ms = 5000)
        : threshold_(threshold), first_pause_ms_(first_pause_ms), max_pause_ms_(max_pause_ms) {}

    // May a request go to Redis now? While open: no, except one probe when
    // the pause is over.
    bool allow(std::uint64_t now_ms);
    void success();
    void failure(std::uint64_t now_ms);
    // The connection is gone: open at once.
    void trip(std::uint64_t now_ms);
    bool open() const { return open_; }

private:
    void open_for(std::uint64_t now_ms);
    std::uint32_t threshold_;
    std::uint64_t first_pause_ms_, max_pause_ms_;
    std::uint32_t failures_ = 0;
    bool open_ = false;
    bool probing_ = false;
    std::uint64_t until_ms_ = 0;
    std::uint64_t pause_ms_ = 0;
};

// The GCRA script, for a batch of decisions: KEYS are the bucket keys of
// every decision, in order; ARGV[1] is the number of decisions (decimal),
// ARGV[2] one binary string: per decision its number of buckets n (one byte),
// then per bucket interval in microseconds, burst and cost (little-endian
// doubles) and observe-only (one byte, 0/1). Runs on Redis's clock (TIME,
// once per call). Each decision is all-or-nothing across its buckets and
// sees the buckets as the decisions before it in the batch left them (as
// separate calls in that order would). One MGET reads every bucket; every
// charged bucket is written once, at the end (one SET per distinct key, its
// state a little-endian double of microseconds, expiring one to two seconds
// after the bucket is full again). Returns one bulk string (Redis's
// struct.pack: read without a reply object per value), per decision: a
// little-endian 16-bit flags word (bit 0 enforced_ok, bit 1 observed_ok, bit
// 2 + i bucket i admits the request), then per bucket its debt before the
// decision, max(TAT - now, 0) in microseconds, as a little-endian double.
// nginx computes remaining, reset and retry from those (finish()).
const std::string& gcra_script();
std::string script_sha1();  // hex SHA-1 of gcra_script(), as SCRIPT LOAD returns it

inline constexpr std::size_t kMaxScriptBuckets = 8;

// One decision's answer from the script. Trivially destructible: it lives in
// the request pool.
struct ScriptResult {
    bool enforced_ok;
    bool observed_ok;
    std::size_t n;
    bool allowed[kMaxScriptBuckets];
    std::uint64_t debt_ns[kMaxScriptBuckets];  // the bucket's TAT - Redis's now before this decision, >= 0
};
static_assert(std::is_trivially_destructible_v<ScriptResult>);
// The next decision of a batch reply (bytes[at...]: flags, then one debt per
// bucket); advances `at`. False if the reply is too short or the part is not
// the script's (flags beyond its buckets, a debt negative, NaN or absurd).
bool decode_next(const unsigned char* bytes, std::size_t len, std::size_t& at, std::size_t buckets,
                 ScriptResult& out) noexcept;
// The decisions of the buckets the script answered for (reqs: the request's
// buckets, in the order they were sent): the local limiter's own arithmetic
// (gcra::decide, describe_uncharged for a bucket not charged) on the debts
// Redis reported, so both modes give the same remaining, reset and
// Retry-After; allowed is the script's.
void finish(const ScriptResult& r, const limit::BucketRequest* reqs, gcra::Decision* out) noexcept;

// RESP encoding, for commands we format ourselves (hiredis's generic
// formatter costs more than the rest of a decision).
void append_bulk(std::string& out, std::string_view arg);
// "*<n>\r\n" + bulk(first)... : a command whose remaining arguments are
// already encoded in `tail` (tail_args of them), with `room` bytes reserved
// for what the caller appends.
std::string format_command(std::string_view a0, std::string_view a1, std::string_view tail, std::size_t tail_args,
                           std::size_t room = 0);

// The secret that names a zone's buckets in Redis (key_secret_file=): two
// SipHash keys derived from the file's text. Every nginx node of a cluster
// must read the same file, or each node names (and limits) its own buckets.
struct KeySecret {
    SipKey a, b;
};
inline constexpr std::size_t kMinKeySecret = 16;  // bytes
// From the file's text: one trailing "\n" (or "\r\n") is not part of the
// secret, so `echo` and `printf` give the same; at least 16 bytes remain.
// Derivation: SHA-256("levqor redis bucket names v1\0" + secret) split into
// the four 64-bit words of a and b. `label` names the file in messages (the
// secret never appears in them).
Parsed<KeySecret> key_secret(std::string_view text, std::string_view label);

// "levqor:{<zone>}:<k|i|a>:<plan>:<hex>": the hash tag keeps a zone's buckets
// in one Redis Cluster slot, so one EVALSHA can charge a key and its address
// atomically. The hex part is 128 bits: SipHash-1-3 of the key or address
// under secret.a, then under secret.b (32 hex digits). Keyed: API keys and
// addresses cannot be recovered from key names (not even IPv4 by trying all
// 2^32), and clients cannot make two keys share a bucket.
std::string bucket_key(std::string_view zone, char kind, std::string_view plan, std::string_view value,
                       const KeySecret& secret);
// The same, RESP-encoded onto out (no temporary string). Thread-safe.
void append_bucket_key(std::string& out, std::string_view zone, char kind, std::string_view plan,
                       std::string_view value, const KeySecret& secret);

// One bucket's name parts: kind ('k', 'i', 'a'), plan name, key or address.
struct BucketName {
    char kind;
    std::string_view plan;
    std::string_view value;
};

inline constexpr std::size_t kMaxBatch = 64;                                            // decisions per script call
inline constexpr std::size_t kMaxBatchReply = kMaxBatch * (2 + 8 * kMaxScriptBuckets);  // reply bytes

// The script call of a batch of decisions, RESP-encoded into buffers that
// keep their capacity across batches (clear() does not free): after the
// first batches, adding a decision allocates nothing. Not thread-safe.
class BatchCommand {
public:
    BatchCommand();
    // Appends one decision of n (1..kMaxScriptBuckets) buckets. False (and
    // nothing appended) when n is out of range or memory runs out.
    bool add(std::string_view zone, const BucketName* names, const limit::BucketRequest* reqs, std::size_t n,
             const KeySecret& secret) noexcept;
    std::size_t decisions() const { return decisions_; }
    std::size_t bytes() const { return keys_.size + argv_.size; }
    // The whole command, `<verb> <sha or script> <numkeys> keys... <decisions> argv...`,
    // into out (cleared first; its capacity is kept). False if memory runs out.
    bool format(std::string& out, std::string_view verb, std::string_view script) const noexcept;
    void clear() noexcept;

private:
    // A growable byte buffer written through raw pointers (std::string's
    // appends cost ~60 instructions each; a decision makes ~20 of them).
    struct Buffer {
        std::unique_ptr<char[]> data;
        std::size_t size = 0, cap = 0;
        char* room(std::size_t n) noexcept;  // where to write n more bytes; null if memory runs out
    };
    Buffer keys_, argv_;
    std::size_t decisions_ = 0, nkeys_ = 0;
    // The batch's distinct keys (open addressing by the name's hash; index
    // 0 = free slot, else KEYS index + 1), cleared slot by slot.
    struct Seen {
        std::uint64_t h0, h1;
        const char* plan;
        std::uint32_t plan_len;
        char kind;
        std::uint16_t index;
    };
    // 8 KiB per batch; a batch with more keys than fit sends some twice (only slower).
    static constexpr std::size_t kSeenSlots = 256;
    static constexpr int kSeenProbes = 8;
    std::unique_ptr<Seen[]> seen_;
    std::uint16_t used_[kMaxBatch * kMaxScriptBuckets];
    std::size_t nseen_ = 0;
};

}  // namespace levqor::redis
