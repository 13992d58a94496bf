// SPDX-License-Identifier: Apache-2.0
#include "levqor/limit_redis.h"

#include "levqor/hex.h"
#include "levqor/limit_headers.h"
#include "levqor/redis_url.h"
#include "levqor/url_credentials.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <new>

#include <openssl/crypto.h>
#include <openssl/evp.h>

namespace levqor::redis {
namespace {

// Host names are resolved once, at configuration time: hiredis would call
// getaddrinfo() (blocking) on every reconnect inside the worker's event loop.
bool resolve(std::string& host, std::string& error) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    const int rc = getaddrinfo(host.c_str(), nullptr, &hints, &res);
    if (rc != 0 || res == nullptr) {
        error = "cannot resolve \"" + host + "\": " + gai_strerror(rc);
        return false;
    }
    char buf[INET6_ADDRSTRLEN] = {};
    const void* addr = res->ai_family == AF_INET
                           ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(res->ai_addr)->sin_addr)
                           : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(res->ai_addr)->sin6_addr);
    inet_ntop(res->ai_family, addr, buf, sizeof buf);
    freeaddrinfo(res);
    host = buf;
    return true;
}

}  // namespace

std::string Endpoint::display() const {
    if (sentinel()) {
        std::string out = "sentinel master \"" + master_name + "\" via ";
        for (std::size_t i = 0; i < sentinels.size(); ++i) {
            const SentinelAddr& s = sentinels[i];
            const bool v6 = s.host.find(':') != std::string::npos;
            out += (i != 0 ? "," : "") + (v6 ? "[" + s.host + "]" : s.host) + ":" + std::to_string(s.port);
        }
        return out + (db != 0 ? "/" + std::to_string(db) : "");
    }
    if (unix_socket) return "unix:" + host + (db != 0 ? "?db=" + std::to_string(db) : "");
    const bool v6 = host.find(':') != std::string::npos;
    return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port) + (db != 0 ? "/" + std::to_string(db) : "");
}

Parsed<Endpoint> parse_url(std::string_view url) {
    using P = Parsed<Endpoint>;
    auto parsed = parse_redis_url(url);
    if (!parsed) return P::failure(parsed.error());
    RedisUrl u = std::move(parsed).value();
    if (u.kind == RedisUrl::Kind::cluster) {
        return P::failure("redis url \"" + mask_url(url) + "\": " + std::string(redis_url_scheme(u.kind)) +
                          " is not supported by levqor_limit_zone yet; give one server: "
                          "redis://[[user]:password@]host[:port][/db], unix:/path[?db=N] or "
                          "redis-sentinel://[[user]:password@]host[:port][,host[:port]...]/<master name>[/db]");
    }
    Endpoint e;
    e.unix_socket = u.kind == RedisUrl::Kind::unix_socket;
    e.user = std::move(u.user);
    e.password = std::move(u.password);
    e.db = u.db;
    if (e.unix_socket) {
        e.host = std::move(u.socket_path);
        return e;
    }
    std::string error;
    if (u.kind == RedisUrl::Kind::sentinel) {
        const std::string where = "redis url \"" + mask_url(url) + "\": ";
        if (u.hosts.size() > kMaxSentinels) {
            return P::failure(where + std::to_string(u.hosts.size()) + " sentinels, expected at most " +
                              std::to_string(kMaxSentinels));
        }
        const bool name_ok = u.master_name.size() <= kMaxMasterName &&
                             std::all_of(u.master_name.begin(), u.master_name.end(), [](char c) {
                                 return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                                        c == '.' || c == '_' || c == '-';
                             });
        if (!name_ok) {
            return P::failure(where + "invalid master name, expected 1 to " + std::to_string(kMaxMasterName) +
                              " bytes of A-Z a-z 0-9 . _ -");
        }
        e.master_name = std::move(u.master_name);
        for (RedisHost& h : u.hosts) {
            SentinelAddr s{std::move(h.host), h.port};
            if (!resolve(s.host, error)) return P::failure(where + "sentinel " + error);
            e.sentinels.push_back(std::move(s));
        }
        return e;
    }
    e.host = std::move(u.hosts.front().host);
    e.port = u.hosts.front().port;
    if (!resolve(e.host, error)) return P::failure(error);
    return e;
}

Parsed<SentinelAuth> sentinel_auth(std::string_view text, std::string_view label) {
    using P = Parsed<SentinelAuth>;
    const std::string where = "sentinel_auth_file \"" + std::string(label) + "\" ";
    if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    if (text.size() > kMaxSentinelAuth) {
        return P::failure(where + "is longer than " + std::to_string(kMaxSentinelAuth) + " bytes");
    }
    if (std::any_of(text.begin(), text.end(),
                    [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; })) {
        return P::failure(where + "holds a control character (one line: password or user:password)");
    }
    SentinelAuth out;
    const auto colon = text.find(':');
    if (colon != std::string_view::npos) {
        out.user = std::string(text.substr(0, colon));
        text.remove_prefix(colon + 1);
    }
    if (text.empty()) return P::failure(where + "holds no password (password or user:password)");
    out.password = std::string(text);
    return out;
}

bool parse_master_addr(std::size_t elements, bool strings_ok, std::string_view ip, std::string_view port,
                       MasterAddr& out) noexcept {
    if (elements != 2 || !strings_ok || ip.empty() || ip.size() >= sizeof out.host ||
        ip.find('\0') != std::string_view::npos) {
        return false;
    }
    char host[sizeof out.host];
    std::memcpy(host, ip.data(), ip.size());
    host[ip.size()] = '\0';
    unsigned char addr[sizeof(in6_addr)];
    if (inet_pton(AF_INET, host, addr) != 1 && inet_pton(AF_INET6, host, addr) != 1) return false;
    if (port.empty() || port.size() > 5) return false;
    int p = 0;
    for (const char c : port) {
        if (c < '0' || c > '9') return false;
        p = p * 10 + (c - '0');
    }
    if (p < 1 || p > 65535) return false;
    std::memcpy(out.host, host, ip.size() + 1);
    out.port = p;
    return true;
}

// ---- circuit breaker -------------------------------------------------------------

bool CircuitBreaker::allow(std::uint64_t now_ms) {
    if (!open_) return true;
    if (probing_ || now_ms < until_ms_) return false;
    probing_ = true;  // one request tries Redis again
    return true;
}

void CircuitBreaker::success() {
    failures_ = 0;
    open_ = false;
    probing_ = false;
    pause_ms_ = 0;
}

void CircuitBreaker::failure(std::uint64_t now_ms) {
    if (open_) {
        if (probing_) open_for(now_ms);  // the probe failed: a longer pause
        return;
    }
    if (++failures_ >= threshold_) open_for(now_ms);
}

void CircuitBreaker::trip(std::uint64_t now_ms) {
    if (!open_ || probing_) open_for(now_ms);
}

void CircuitBreaker::open_for(std::uint64_t now_ms) {
    pause_ms_ = pause_ms_ == 0 ? first_pause_ms_ : std::min(pause_ms_ * 2, max_pause_ms_);
    open_ = true;
    probing_ = false;
    until_ms_ = now_ms + pause_ms_;
    failures_ = 0;
}

// ---- the script -------------------------------------------------------------------

const std::string& gcra_script() {
    static const std::string script = R"lua(-- levqor GCRA, a batch of decisions, each all or nothing, on Redis's clock
local max, floor, call, tostring = math.max, math.floor, redis.call, tostring
local pack, unpack_s, unpack, rep = struct.pack, struct.unpack, unpack, string.rep
local t = call('TIME')
local now = t[1] * 1000000 + t[2]
local keys, blob = KEYS, ARGV[2]
-- One MGET for the whole batch. `latest` holds what earlier decisions of this
-- batch charged (the MGET values are from before them); every charged bucket
-- is written once, at the end.
local got, latest, order, w, expiry = call('MGET', unpack(keys)), {}, {}, 0, {}
local out, fmt, before, new_tat, observe, adm, r, names = {}, {}, {}, {}, {}, {}, {}, {}
local bit = {4, 8, 16, 32, 64, 128, 256, 512}
local pos = 1
for d = 1, tonumber(ARGV[1]) do
  local n
  n, pos = unpack_s('B', blob, pos)
  local enforced_ok, observed_ok, flags = 1, 1, 0
  for i = 1, n do
    local iv, burst, cost, o, ki
    iv, burst, cost, o, ki, pos = unpack_s('<dddBH', blob, pos)
    local key = keys[ki]
    names[i] = key
    local tat = latest[key]
    if not tat then
      local v = got[ki]
      if v then
        if #v == 16 then
          tat, expiry[key] = unpack_s('<dd', v)
        else
          tat = (#v == 8 and unpack_s('<d', v)) or tonumber(v) or 0
        end
      else
        tat = 0
      end
    end
    -- A bucket named twice in one decision: the later sees the earlier's
    -- charge if the earlier admits (as the local limiter does).
    for j = 1, i - 1 do
      if names[j] == key then tat = adm[j] and new_tat[j] or before[j] end
    end
    local nt = max(tat, now) + cost * iv
    local a = nt - now <= burst * iv
    before[i], new_tat[i], observe[i], adm[i] = tat, nt, o, a
    if a then
      flags = flags + bit[i]
    elseif o == 1 then
      observed_ok = 0
    else
      enforced_ok = 0
    end
  end
  r[1] = flags + enforced_ok + 2 * observed_ok
  for i = 1, n do
    if enforced_ok == 1 and (observed_ok == 1 or observe[i] ~= 1) then
      local key = names[i]
      if not latest[key] then
        w = w + 1
        order[w] = key
      end
      latest[key] = new_tat[i]
    end
    local debt = before[i] - now
    r[i + 1] = debt > 0 and debt or 0
  end
  local f = fmt[n]
  if not f then
    f = '<H' .. rep('d', n)
    fmt[n] = f
  end
  out[d] = pack(f, unpack(r, 1, n + 1))
end
-- Each charged bucket once: its TAT and the moment its key expires, as two
-- little-endian doubles (microseconds on Redis's clock). The key lives at
-- least one second past the moment the bucket is full again: while the
-- expiry already set covers that, the TTL is kept (KEEPTTL costs less than
-- setting one); else it is set 4 to 5 s past it (whole seconds: their strings
-- repeat, so each is made once per call).
local ex = {}
for i = 1, w do
  local key = order[i]
  local tat = latest[key]
  local e = expiry[key]
  if e and e >= tat + 1000000 then
    call('SET', key, pack('<dd', tat, e), 'KEEPTTL')
  else
    local s = floor((tat - now) / 1000000) + 5
    local es = ex[s]
    if not es then
      es = tostring(s)
      ex[s] = es
    end
    call('SET', key, pack('<dd', tat, now + s * 1000000), 'EX', es)
  end
end
return table.concat(out)
)lua";
    return script;
}

std::string script_sha1() { return sha1_hex(gcra_script()); }

namespace {

// A debt no bucket has (2^63 ns is 292 years): the reply is not the script's.
constexpr double kMaxDebtUs = 9.2e15;
// The base "now" of finish()'s arithmetic: only debts (TAT - now) cross the wire.
constexpr std::uint64_t kBaseNs = 1;

double load_f64(const unsigned char* p) {
    const std::uint64_t bits = detail::load_le64(p);
    double v;
    std::memcpy(&v, &bits, sizeof v);
    return v;
}

}  // namespace

bool decode_next(const unsigned char* bytes, std::size_t len, std::size_t& at, std::size_t buckets,
                 ScriptResult& out) noexcept {
    if (buckets == 0 || buckets > kMaxScriptBuckets) return false;
    const std::size_t need = 2 + 8 * buckets;
    if (at > len || len - at < need) return false;
    const unsigned char* p = bytes + at;
    const unsigned flags = p[0] | static_cast<unsigned>(p[1]) << 8;
    if ((flags >> (2 + buckets)) != 0) return false;
    out.enforced_ok = (flags & 1U) != 0;
    out.observed_ok = (flags & 2U) != 0;
    out.n = buckets;
    for (std::size_t i = 0; i < buckets; ++i) {
        const double debt_us = load_f64(p + 2 + 8 * i);
        if (!(debt_us >= 0 && debt_us <= kMaxDebtUs)) return false;  // (NaN too)
        out.allowed[i] = (flags & (4U << i)) != 0;
        out.debt_ns[i] = static_cast<std::uint64_t>(debt_us * 1000.0 + 0.5);
    }
    at += need;
    return true;
}

void finish(const ScriptResult& r, const limit::BucketRequest* reqs, gcra::Decision* out) noexcept {
    for (std::size_t i = 0; i < r.n; ++i) {
        const limit::BucketRequest& q = reqs[i];
        const std::uint64_t tat = r.debt_ns[i] != 0 ? kBaseNs + r.debt_ns[i] : 0;
        gcra::Decision& d = out[i];
        d = gcra::decide(tat, kBaseNs, q.limit, q.cost);
        // The script decided (in doubles of microseconds); at the very edge
        // the integer arithmetic may round the other way: its answer stands.
        d.allowed = r.allowed[i];
        if (d.allowed) {
            d.retry_after_ns = 0;
        } else if (d.retry_after_ns == 0) {
            d.retry_after_ns = 1;
        }
        const bool charged = r.enforced_ok && (r.observed_ok || !q.observe_only);
        if (!charged) gcra::describe_uncharged(d, tat, kBaseNs, q.limit);
    }
}

namespace {

// "<c><n>\r\n" without printf (it costs more than a whole bucket key).
void append_counted(std::string& out, char c, std::size_t n) {
    char buf[2 + limit::kMaxU64Digits + 2];
    buf[0] = c;
    char* p = limit::write_u64(buf + 1, n);
    *p++ = '\r';
    *p++ = '\n';
    out.append(buf, static_cast<std::size_t>(p - buf));
}

}  // namespace

void append_bulk(std::string& out, std::string_view arg) {
    append_counted(out, '$', arg.size());
    out.append(arg).append("\r\n");
}

std::string format_command(std::string_view a0, std::string_view a1, std::string_view tail, std::size_t tail_args,
                           std::size_t room) {
    std::string cmd;
    cmd.reserve(32 + a0.size() + a1.size() + tail.size() + room);
    append_counted(cmd, '*', tail_args + 2);
    append_bulk(cmd, a0);
    append_bulk(cmd, a1);
    cmd.append(tail);
    return cmd;
}

namespace {

constexpr std::string_view kKeyPrefix = "levqor:{";

char* put_counted(char* p, char c, std::size_t n) {
    *p++ = c;
    p = limit::write_u64(p, n);
    *p++ = '\r';
    *p++ = '\n';
    return p;
}

// Bytes put_key() writes at most.
std::size_t max_key_bytes(std::string_view zone, std::string_view plan) {
    return 1 + limit::kMaxU64Digits + 2 + kKeyPrefix.size() + zone.size() + 4 + plan.size() + 1 + 32 + 2;
}

// A bucket name's 128 bits: SipHash-1-3 of the key or address under each half of the secret.
struct KeyHash {
    std::uint64_t h0, h1;
};
KeyHash key_hash(std::string_view value, const KeySecret& secret) {
    return {siphash13(secret.a, value.data(), value.size()), siphash13(secret.b, value.data(), value.size())};
}

// The RESP bulk string of a bucket key.
char* put_key_hashed(char* k, std::string_view zone, char kind, std::string_view plan, KeyHash h) {
    const std::uint64_t hh[2] = {h.h0, h.h1};
    k = put_counted(k, '$', kKeyPrefix.size() + zone.size() + 4 + plan.size() + 1 + 32);
    std::memcpy(k, kKeyPrefix.data(), kKeyPrefix.size());
    k += kKeyPrefix.size();
    std::memcpy(k, zone.data(), zone.size());
    k += zone.size();
    *k++ = '}';
    *k++ = ':';
    *k++ = kind;
    *k++ = ':';
    std::memcpy(k, plan.data(), plan.size());
    k += plan.size();
    *k++ = ':';
    hex_u64_into(k, hh[0]);  // the hex reads as the two numbers
    hex_u64_into(k + 16, hh[1]);
    k += 32;
    *k++ = '\r';
    *k++ = '\n';
    return k;
}

char* put_key(char* k, std::string_view zone, char kind, std::string_view plan, std::string_view value,
              const KeySecret& secret) {
    return put_key_hashed(k, zone, kind, plan, key_hash(value, secret));
}

}  // namespace

Parsed<KeySecret> key_secret(std::string_view text, std::string_view label) {
    using P = Parsed<KeySecret>;
    if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    if (text.size() < kMinKeySecret) {
        return P::failure("key_secret_file \"" + std::string(label) + "\" holds " + std::to_string(text.size()) +
                          " bytes, expected at least " + std::to_string(kMinKeySecret) +
                          " (e.g. openssl rand -hex 32 > file; the same file on every nginx node)");
    }
    static constexpr char kDomain[] = "levqor redis bucket names v1";  // with its NUL
    unsigned char digest[32];
    unsigned int len = 0;
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    const bool ok = ctx != nullptr && EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) == 1 &&
                    EVP_DigestUpdate(ctx, kDomain, sizeof kDomain) == 1 &&
                    EVP_DigestUpdate(ctx, text.data(), text.size()) == 1 &&
                    EVP_DigestFinal_ex(ctx, digest, &len) == 1 && len == sizeof digest;
    EVP_MD_CTX_free(ctx);
    if (!ok) return P::failure("key_secret_file \"" + std::string(label) + "\": SHA-256 failed");
    std::uint64_t w[4];
    std::memcpy(w, digest, sizeof w);
    OPENSSL_cleanse(digest, sizeof digest);
    return KeySecret{SipKey{w[0], w[1]}, SipKey{w[2], w[3]}};
}

void append_bucket_key(std::string& out, std::string_view zone, char kind, std::string_view plan,
                       std::string_view value, const KeySecret& secret) {
    const std::size_t at = out.size();
    out.resize(at + max_key_bytes(zone, plan));
    char* end = put_key(out.data() + at, zone, kind, plan, value, secret);
    out.resize(static_cast<std::size_t>(end - out.data()));
}

std::string bucket_key(std::string_view zone, char kind, std::string_view plan, std::string_view value,
                       const KeySecret& secret) {
    std::string resp;
    append_bucket_key(resp, zone, kind, plan, value, secret);
    const auto start = resp.find("\r\n") + 2;
    return resp.substr(start, resp.size() - start - 2);
}

// ---- batches -----------------------------------------------------------------------

namespace {
// Room for typical batches, so the first ones do not grow the buffers step by step.
constexpr std::size_t kKeysRoom = 16 * 1024, kArgvRoom = 16 * 1024;
}  // namespace

namespace {

// A bucket's part of the script's argument string: interval (microseconds),
// burst and cost as little-endian doubles (exact: integers below 2^53, and
// the interval's nanoseconds / 1000 is the double Lua's tonumber() of its
// decimal would give), then the observe-only byte and the index of its key
// in KEYS (little-endian 16 bits, from 1).
constexpr std::size_t kBucketArgBytes = 3 * 8 + 1 + 2;

char* put_f64(char* p, double v) noexcept {
    std::uint64_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    for (int i = 0; i < 8; ++i) *p++ = static_cast<char>(bits >> (8 * i));
    return p;
}

}  // namespace

char* BatchCommand::Buffer::room(std::size_t n) noexcept {
    if (cap - size >= n) return data.get() + size;
    const std::size_t want = std::max({cap * 2, size + n, kKeysRoom});
    std::unique_ptr<char[]> grown(new (std::nothrow) char[want]);
    if (grown == nullptr) return nullptr;
    if (size != 0) std::memcpy(grown.get(), data.get(), size);
    data = std::move(grown);
    cap = want;
    return data.get() + size;
}

BatchCommand::BatchCommand() : seen_(std::make_unique<Seen[]>(kSeenSlots)) {
    keys_.room(kKeysRoom);
    argv_.room(kArgvRoom);
}

bool BatchCommand::add(std::string_view zone, const BucketName* names, const limit::BucketRequest* reqs, std::size_t n,
                       const KeySecret& secret) noexcept {
    if (n == 0 || n > kMaxScriptBuckets) return false;
    std::size_t key_bytes = 0;
    for (std::size_t i = 0; i < n; ++i) key_bytes += max_key_bytes(zone, names[i].plan);
    char* k = keys_.room(key_bytes);
    char* a = argv_.room(1 + kBucketArgBytes * n);
    if (k == nullptr || a == nullptr) return false;
    char* const k0 = k;
    char* const a0 = a;
    std::size_t nkeys = nkeys_;
    std::size_t nseen = nseen_;
    *a++ = static_cast<char>(n);
    for (std::size_t i = 0; i < n; ++i) {
        const BucketName& name = names[i];
        const KeyHash h = key_hash(name.value, secret);
        // A key already in this batch (the address bucket of many
        // decisions, mostly) is sent once; each bucket names its key by index.
        std::size_t index = kSeenSlots;
        std::size_t slot = static_cast<std::size_t>(h.h0) & (kSeenSlots - 1);
        for (int probe = 0; probe < kSeenProbes; ++probe, slot = (slot + 1) & (kSeenSlots - 1)) {
            Seen& e = seen_[slot];
            if (e.index == 0) {  // free: this key is new (recorded below)
                e = Seen{h.h0,
                         h.h1,
                         name.plan.data(),
                         static_cast<std::uint32_t>(name.plan.size()),
                         name.kind,
                         static_cast<std::uint16_t>(nkeys + 1)};
                used_[nseen++] = static_cast<std::uint16_t>(slot);
                break;
            }
            if (e.h0 == h.h0 && e.h1 == h.h1 && e.kind == name.kind && e.plan_len == name.plan.size() &&
                std::memcmp(e.plan, name.plan.data(), e.plan_len) == 0) {
                index = e.index - 1u;
                break;
            }
        }
        if (index == kSeenSlots) {  // new (or the probes ran out: sent again, which is only slower)
            index = nkeys++;
            k = put_key_hashed(k, zone, name.kind, name.plan, h);
        }
        const limit::BucketRequest& r = reqs[i];
        a = put_f64(a, static_cast<double>(r.limit.interval_ns) / 1000.0);
        a = put_f64(a, static_cast<double>(r.limit.burst));
        a = put_f64(a, static_cast<double>(r.cost));
        *a++ = r.observe_only ? 1 : 0;
        const std::size_t lua_index = index + 1;  // KEYS[1..]
        *a++ = static_cast<char>(lua_index & 0xff);
        *a++ = static_cast<char>(lua_index >> 8);
    }
    keys_.size += static_cast<std::size_t>(k - k0);
    argv_.size += static_cast<std::size_t>(a - a0);
    ++decisions_;
    nkeys_ = nkeys;
    nseen_ = nseen;
    return true;
}

bool BatchCommand::format(std::string& out, std::string_view verb, std::string_view script) const noexcept try {
    out.clear();
    out.reserve(64 + script.size() + keys_.size + argv_.size);
    char num[limit::kMaxU64Digits];
    auto bulk_u64 = [&](std::uint64_t v) {
        append_bulk(out, std::string_view(num, static_cast<std::size_t>(limit::write_u64(num, v) - num)));
    };
    append_counted(out, '*', 3 + nkeys_ + 2);
    append_bulk(out, verb);
    append_bulk(out, script);
    bulk_u64(nkeys_);
    out.append(keys_.data.get(), keys_.size);
    bulk_u64(decisions_);
    append_bulk(out, std::string_view(argv_.data.get(), argv_.size));
    return true;
} catch (...) {
    return false;
}

void BatchCommand::clear() noexcept {
    keys_.size = 0;
    argv_.size = 0;
    decisions_ = nkeys_ = 0;
    for (std::size_t i = 0; i < nseen_; ++i) seen_[used_[i]].index = 0;
    nseen_ = 0;
}

}  // namespace levqor::redis
