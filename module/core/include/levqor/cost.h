// SPDX-License-Identifier: Apache-2.0
// Cost accounting at the edge (levqor_cost): the USD amount grammar, the
// connector names, the directive's arguments, and CostTable — the per
// connector spend counters in shared memory that every nginx worker adds to.
//
// Amounts are integer nano-dollars (1e-9 USD) from parse to exposition, so a
// million additions of 0.000000001 are exactly 0.001: no floating point
// anywhere. parse_usd and the argument parser are pure functions
// (thread-safe); CostTable's thread- and process-safety is stated on the
// class.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "levqor/cost_grammar.h"
#include "levqor/parsed.h"

namespace levqor::cost {

// One request's amount. Empty: no value at all (the upstream sent no header),
// which counts nothing; Invalid: counted in levqor_cost_invalid_total.
struct Amount {
    enum class Kind : std::uint8_t { Empty, Valid, Invalid };
    Kind kind;
    std::uint64_t nanos;  // Valid only
};

// The amount of a header or variable value: Empty for "" (no value at all),
// else parse_usd_text (levqor/cost_grammar.h) with kMaxNanos. A fast path
// for plain "<digits>[.<digits>]" (at most 9 fractional digits) with the
// general grammar behind it for every other form.
Amount parse_usd(std::string_view text) noexcept;
namespace detail {
// parse_usd without the fast path; parse_usd must agree with it on every
// input (unit test and fuzz target).
Amount parse_usd_general(std::string_view text) noexcept;
}  // namespace detail

inline constexpr std::string_view kDefaultConnector = "default";  // without connector=

// levqor_cost <value> [connector=<value>] | levqor_cost off. Both values may
// hold nginx variables (they contain a '$'); literals are checked here: a
// literal amount must be a valid amount, a literal connector a valid name.
struct CostArgs {
    bool off = false;
    std::string_view amount;                     // as written
    std::optional<std::uint64_t> literal_nanos;  // the amount had no variable
    std::string_view connector = kDefaultConnector;
    bool connector_literal = true;
};
Parsed<CostArgs> parse_cost_args(const std::vector<std::string_view>& args);

// The spend counters of one nginx instance: kMaxConnectors named slots,
// claimed first come first served and never released, plus the "other"
// slot, and the invalid-amount counter.
//
// Lives in memory shared by processes (placed there by create(), found again
// by attach()). Adding to a slot and looking a name up are lock-free (atomic
// loads and one relaxed fetch_add); claiming a new name takes the table's
// spinlock (levqor/shm_lock.h: a dead holder's lock is taken over). Safe
// across threads and processes; the CostTable object itself is a handle
// (two pointers), copied freely.
class CostTable {
public:
    static constexpr std::size_t kSlots = kMaxConnectors + 1;
    static constexpr std::size_t kOther = kMaxConnectors;  // the "other" slot

    static std::size_t bytes();
    // Formats mem (bytes() bytes, 64-byte aligned) as an empty table.
    static CostTable create(void* mem);
    // Attaches to a table create() made (e.g. kept across nginx -s reload):
    // "" when attached, else what differs (another layout).
    static std::string attach(void* mem, CostTable& out);

    bool valid() const { return header_ != nullptr; }

    // The slot counting name: the name's own slot, claimed now if the name
    // is new and a slot is free; kOther for "other", an invalid name or a
    // full table. pid owns the lock while claiming.
    std::size_t slot_for(std::string_view name, std::int32_t pid) noexcept;
    // The name's slot, or kSlots when it has none (no lock).
    std::size_t find(std::string_view name) const noexcept;

    void add(std::size_t slot, std::uint64_t nanos) noexcept;
    void count_invalid() noexcept;

    struct Entry {
        std::string connector;
        std::uint64_t nanos;
    };
    // Every claimed slot by name, then "other" (a consistent name set; each
    // counter read once).
    std::vector<Entry> snapshot() const;
    std::uint64_t invalid() const noexcept;

private:
    struct Header;
    struct Slot;
    struct Counter;
    Header* header_ = nullptr;
    char* base_ = nullptr;

    Slot& slot(std::size_t i) const noexcept;
    Counter& counter(std::size_t i) const noexcept;
};

inline constexpr std::string_view kCostFamily = "levqor_ai_cost_usd_total";
inline constexpr std::string_view kInvalidFamily = "levqor_cost_invalid_total";
// Both families in the Prometheus text format, values exact from nano-dollars.
void render(std::string& out, const CostTable& table);

}  // namespace levqor::cost
