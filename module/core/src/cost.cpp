// SPDX-License-Identifier: Apache-2.0
#include "levqor/cost.h"

#include <algorithm>
#include <cstring>
#include <new>

#include "levqor/prometheus_text.h"
#include "levqor/shm_lock.h"
#include "levqor/short_bytes.h"

namespace levqor::cost {
namespace {

constexpr unsigned kFractionDigits = 9;
constexpr std::uint64_t kPow10[kFractionDigits + 1] = {
    1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000,
};

constexpr Amount kInvalid{Amount::Kind::Invalid, 0};

// The largest digit string (an amount times 10^fraction) within kMaxNanos.
constexpr std::uint64_t kMaxDigits[kFractionDigits + 1] = {
    kMaxNanos / kPow10[9], kMaxNanos / kPow10[8], kMaxNanos / kPow10[7], kMaxNanos / kPow10[6], kMaxNanos / kPow10[5],
    kMaxNanos / kPow10[4], kMaxNanos / kPow10[3], kMaxNanos / kPow10[2], kMaxNanos / kPow10[1], kMaxNanos / kPow10[0],
};

// The value of four ASCII digits at p (false if one is not a digit): the
// bytes as one little-endian word, checked and combined without a loop.
bool four_digits(const unsigned char* p, std::uint32_t& value) {
    std::uint32_t v;
    std::memcpy(&v, p, sizeof v);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap32(v);
#endif
    // Every byte 0x30..0x39: high nibble 3, and adding 6 keeps it 3.
    if ((v & 0xF0F0F0F0u) != 0x30303030u || ((v + 0x06060606u) & 0xF0F0F0F0u) != 0x30303030u) return false;
    v -= 0x30303030u;                       // bytes d0 d1 d2 d3, d0 (the first) lowest
    v = (v * 10 + (v >> 8)) & 0x00FF00FFu;  // d0d1 in byte 0, d2d3 in byte 2
    value = (v & 0xFFu) * 100 + (v >> 16);
    return true;
}

}  // namespace

// The shared grammar (levqor_common) in the module's terms. Out of line, so
// that the fast path hands over with a jump and needs no stack frame.
[[gnu::noinline]] Amount detail::parse_usd_general(std::string_view text) noexcept {
    if (text.empty()) return {Amount::Kind::Empty, 0};
    const UsdText parsed = parse_usd_text(text, kMaxNanos);
    return parsed.error == AmountError::None ? Amount{Amount::Kind::Valid, parsed.nanos} : kInvalid;
}

// The log phase of every request with an amount runs this: "<digits>" or
// "<digits>.<digits>" of at most 19 characters (so the digits, gathered into
// one integer, cannot wrap) with at most 9 fractional digits. Anything else
// (blanks, a '+', an exponent, longer text, more fractional digits, an empty
// part, invalid text) goes to the general parser, which has the last word.
Amount parse_usd(std::string_view text) noexcept {
    const std::size_t n = text.size();
    if (n - 1 >= 19) return detail::parse_usd_general(text);  // "" (Empty) and long text
    const auto* p = reinterpret_cast<const unsigned char*>(text.data());
    const auto* const end = p + n;
    std::uint64_t digits = 0;
    unsigned d;
    while ((d = static_cast<unsigned>(*p) - '0') <= 9) {
        digits = digits * 10 + d;
        if (++p == end) {  // no point: a whole amount
            if (digits > kMaxUsd) return kInvalid;
            return {Amount::Kind::Valid, digits * kNanosPerUsd};
        }
    }
    if (*p != '.' || n == 1) return detail::parse_usd_general(text);
    const auto fraction = static_cast<std::size_t>(end - p - 1);
    if (fraction > kFractionDigits) return detail::parse_usd_general(text);
    ++p;
    // Four fractional digits at a time ("0.0123": one step), then one.
    for (; end - p >= 4; p += 4) {
        std::uint32_t four;
        if (!four_digits(p, four)) return detail::parse_usd_general(text);
        digits = digits * 10000 + four;
    }
    for (; p != end; ++p) {
        d = static_cast<unsigned>(*p) - '0';
        if (d > 9) return detail::parse_usd_general(text);
        digits = digits * 10 + d;
    }
    // digits = amount * 10^fraction; nanos = digits * 10^(9 - fraction).
    if (digits > kMaxDigits[fraction]) return kInvalid;
    return {Amount::Kind::Valid, digits * kPow10[kFractionDigits - fraction]};
}

namespace {

bool has_variable(std::string_view v) { return v.find('$') != std::string_view::npos; }
std::string quoted(std::string_view v) { return "\"" + std::string(v) + "\""; }

}  // namespace

Parsed<CostArgs> parse_cost_args(const std::vector<std::string_view>& args) {
    using P = Parsed<CostArgs>;
    CostArgs out;
    if (args.empty()) return P::failure("needs an amount");
    if (args[0] == "off") {
        if (args.size() > 1) return P::failure("invalid parameter " + quoted(args[1]) + " after off");
        out.off = true;
        return out;
    }
    out.amount = args[0];
    if (!has_variable(out.amount)) {
        const Amount a = parse_usd(out.amount);
        if (a.kind != Amount::Kind::Valid) {
            return P::failure("invalid amount " + quoted(out.amount) +
                              ", expected a decimal USD amount from 0 to 1000000 (e.g. 0.0123), a variable or off");
        }
        out.literal_nanos = a.nanos;
    }
    bool have_connector = false;
    constexpr std::string_view kConnector = "connector=";
    for (std::size_t i = 1; i < args.size(); ++i) {
        const std::string_view a = args[i];
        if (a.substr(0, kConnector.size()) != kConnector) return P::failure("invalid parameter " + quoted(a));
        if (have_connector) return P::failure("duplicate parameter " + quoted(a));
        have_connector = true;
        const std::string_view v = a.substr(kConnector.size());
        out.connector = v;
        out.connector_literal = !has_variable(v);
        if (out.connector_literal && !valid_connector_name(v)) {
            return P::failure("invalid connector name " + quoted(v) + ", expected " + std::string(kConnectorRule) +
                              " or a variable");
        }
    }
    return out;
}

// ---- CostTable ---------------------------------------------------------------

namespace {

constexpr std::uint64_t kTableMagic = 0x006c767172435431ULL;  // "lvqrCT1"
constexpr std::size_t kIndexSize = 128;                       // > 2 * kMaxConnectors, a power of two

std::uint64_t name_hash(std::string_view name) noexcept { return short_hash(name.data(), name.size()); }

constexpr std::size_t round64(std::size_t n) { return (n + 63) / 64 * 64; }

}  // namespace

struct CostTable::Header {
    std::uint64_t magic;
    std::atomic<std::int32_t> lock;
    std::atomic<std::uint32_t> used;  // claimed slots, published with release
    std::atomic<std::uint64_t> steals;
    std::atomic<std::uint8_t> index[kIndexSize];  // slot + 1 by name hash, 0 = empty
};

// Written once, before the slot is published; read-only afterwards.
struct CostTable::Slot {
    std::uint64_t hash;
    std::uint32_t len;
    char name[kMaxConnectorName];
};

// One cache line per counter: workers adding to different connectors do not
// share a line.
struct alignas(64) CostTable::Counter {
    std::atomic<std::uint64_t> value;
};

namespace {
// Counters: one per slot, then the invalid-amount counter.
constexpr std::size_t kInvalidCounter = CostTable::kSlots;
}  // namespace

std::size_t CostTable::bytes() {
    return round64(sizeof(Header)) + round64(kSlots * sizeof(Slot)) + (kSlots + 1) * sizeof(Counter);
}

CostTable::Slot& CostTable::slot(std::size_t i) const noexcept {
    return reinterpret_cast<Slot*>(base_ + round64(sizeof(Header)))[i];
}

CostTable::Counter& CostTable::counter(std::size_t i) const noexcept {
    return reinterpret_cast<Counter*>(base_ + round64(sizeof(Header)) + round64(kSlots * sizeof(Slot)))[i];
}

CostTable CostTable::create(void* mem) {
    std::memset(mem, 0, bytes());
    CostTable t;
    t.base_ = static_cast<char*>(mem);
    t.header_ = ::new (mem) Header();
    for (std::size_t i = 0; i < kSlots; ++i) ::new (&t.slot(i)) Slot();
    for (std::size_t i = 0; i <= kSlots; ++i) ::new (&t.counter(i)) Counter();
    t.header_->magic = kTableMagic;
    return t;
}

std::string CostTable::attach(void* mem, CostTable& out) {
    auto* h = static_cast<Header*>(mem);
    if (h->magic != kTableMagic) return "the zone holds another layout than \"lvqrCT1\"";
    out.base_ = static_cast<char*>(mem);
    out.header_ = h;
    return std::string();
}

std::size_t CostTable::find(std::string_view name) const noexcept {
    const std::uint64_t h = name_hash(name);
    std::size_t i = h & (kIndexSize - 1);
    for (std::size_t probe = 0; probe < kIndexSize; ++probe, i = (i + 1) & (kIndexSize - 1)) {
        const std::uint8_t e = header_->index[i].load(std::memory_order_acquire);
        if (e == 0) return kSlots;
        const Slot& s = slot(e - 1u);
        if (s.hash == h && s.len == name.size() && same_bytes(s.name, name.data(), name.size())) return e - 1u;
    }
    return kSlots;
}

std::size_t CostTable::slot_for(std::string_view name, std::int32_t pid) noexcept {
    // A name in the table is valid: check names only before claiming.
    std::size_t found = name.size() <= kMaxConnectorName ? find(name) : kSlots;
    if (found != kSlots) return found;
    if (name == kOtherConnector || !valid_connector_name(name)) return kOther;
    if (header_->used.load(std::memory_order_acquire) >= kMaxConnectors) return kOther;
    ShmLockGuard guard(header_->lock, pid, header_->steals);
    found = find(name);  // claimed meanwhile by another process
    if (found != kSlots) return found;
    const std::uint32_t used = header_->used.load(std::memory_order_relaxed);
    if (used >= kMaxConnectors) return kOther;
    Slot& s = slot(used);
    s.hash = name_hash(name);
    s.len = static_cast<std::uint32_t>(name.size());
    std::memcpy(s.name, name.data(), name.size());
    header_->used.store(used + 1, std::memory_order_release);
    std::size_t i = s.hash & (kIndexSize - 1);
    while (header_->index[i].load(std::memory_order_relaxed) != 0) i = (i + 1) & (kIndexSize - 1);
    header_->index[i].store(static_cast<std::uint8_t>(used + 1), std::memory_order_release);
    return used;
}

void CostTable::add(std::size_t i, std::uint64_t nanos) noexcept {
    counter(i).value.fetch_add(nanos, std::memory_order_relaxed);
}

void CostTable::count_invalid() noexcept { counter(kInvalidCounter).value.fetch_add(1, std::memory_order_relaxed); }

std::uint64_t CostTable::invalid() const noexcept {
    return counter(kInvalidCounter).value.load(std::memory_order_relaxed);
}

std::vector<CostTable::Entry> CostTable::snapshot() const {
    std::vector<Entry> out;
    const std::uint32_t used = header_->used.load(std::memory_order_acquire);
    out.reserve(used + 1);
    for (std::size_t i = 0; i < used; ++i) {
        const Slot& s = slot(i);
        out.push_back(Entry{std::string(s.name, s.len), counter(i).value.load(std::memory_order_relaxed)});
    }
    std::sort(out.begin(), out.end(), [](const Entry& a, const Entry& b) { return a.connector < b.connector; });
    out.push_back(Entry{std::string(kOtherConnector), counter(kOther).value.load(std::memory_order_relaxed)});
    return out;
}

void render(std::string& out, const CostTable& table) {
    struct Label {
        std::string_view name, value;
    };
    prometheus::append_family_header(
        out, kCostFamily, "AI spend in USD reported per request by levqor_cost, by connector (exact to 1e-9).",
        "counter");
    for (const auto& e : table.snapshot()) {
        out.append(kCostFamily);
        prometheus::append_labels(out, std::vector<Label>{{"connector", e.connector}});
        out.push_back(' ');
        out.append(format_usd(e.nanos));
        out.push_back('\n');
    }
    prometheus::append_family_header(out, kInvalidFamily,
                                     "levqor_cost amounts that were not a decimal USD amount from 0 to 1000000 "
                                     "(ignored; the request is not affected).",
                                     "counter");
    out.append(kInvalidFamily).push_back(' ');
    prometheus::append_value(out, table.invalid());
    out.push_back('\n');
}

}  // namespace levqor::cost
