// SPDX-License-Identifier: Apache-2.0
// What a tier does with the rate-limit fields its upstream already sent
// (levqor_limit_headers_upstream): a bounded RFC 8941 List parser for
// RateLimit and RateLimit-Policy, the naming rule that keeps the policy names
// of a merged list distinct, and the X-RateLimit-* number parser.
//
// Field format: draft-ietf-httpapi-ratelimit-headers-09 (March 2025): both
// fields are Lists of Items whose value names a policy (a String; Tokens are
// accepted from upstreams too), with parameters (q, w, qu, pk in the policy;
// r, t, pk in RateLimit) that are kept as written.
//
// Nothing here allocates: views point into the field values, which outlive
// the merge (nginx's request pool). Pure functions and value types;
// thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "levqor/parsed.h"

namespace levqor::limit {

enum class UpstreamMode : std::uint8_t { Merge, Replace, Pass };
// levqor_limit_headers_upstream merge|replace|pass
Parsed<UpstreamMode> parse_upstream_mode(std::string_view value);

// One member of a RateLimit or RateLimit-Policy list.
struct PolicyItem {
    std::string_view name;    // a String's content as written (escapes kept), or a Token
    std::string_view params;  // ";q=60;w=60" as written (may be empty)
};

// Upstream items kept per field; more are dropped (and counted as skipped).
inline constexpr std::size_t kMaxUpstreamItems = 16;
// Longer upstream policy names are dropped.
inline constexpr std::size_t kMaxUpstreamName = 128;

struct PolicyList {
    PolicyItem items[kMaxUpstreamItems];
    std::size_t n = 0;
    std::size_t skipped = 0;  // valid members that are not policy items, or beyond the bound
};

// Parses one field line as an RFC 8941 List and appends its policy items to
// `out` (several lines of one field append to the same list). Returns false
// when the line is not a valid List: RFC 8941 then has the whole field ignored.
bool parse_policy_list(std::string_view line, PolicyList& out) noexcept;

// The names of one merged RateLimit-Policy / RateLimit pair: this tier's
// names first, then each upstream name as itself or, when that is taken,
// with "-upstream" appended once, twice or three times (the first that no
// policy of this tier and no other upstream policy has). The same upstream
// name gets the same answer in both fields, so an item of RateLimit still
// names its policy. A policy name of a tier that merged its own upstream
// already ends in "-upstream", so a third tier's items become
// "<name>-upstream-upstream": the suffix counts the hops.
class MergedNames {
public:
    static constexpr unsigned kMaxSuffixes = 3;
    static constexpr std::string_view kSuffix = "-upstream";
    enum Field : std::uint8_t { kPolicy = 1, kState = 2 };

    // `ours` (this tier's names) must outlive this object.
    MergedNames(const std::string_view* ours, std::size_t n) noexcept : ours_(ours), n_ours_(n) {}

    // How many suffixes the upstream name gets in `field`, or -1 when the
    // item is dropped: no free name, a name too long, the table full, or the
    // name already emitted in this field (a duplicate in the upstream's list).
    int claim(std::string_view name, Field field) noexcept;

private:
    struct Entry {  // plain data: the table is not zeroed, only its first n_ entries are read
        const char* name;
        std::size_t len;
        int suffixes;
        std::uint8_t emitted;
        std::string_view view() const { return {name, len}; }
    };
    bool taken(std::string_view base, unsigned k) const noexcept;
    const std::string_view* ours_;
    std::size_t n_ours_;
    Entry entries_[2 * kMaxUpstreamItems];
    std::size_t n_ = 0;
};

// Room write_merged_item needs for `item`.
inline std::size_t merged_item_max(const PolicyItem& item) {
    return item.name.size() + 2 + MergedNames::kMaxSuffixes * MergedNames::kSuffix.size() + item.params.size();
}
// Writes "\"<name>[-upstream]...\"<params>" at p; returns the end.
char* write_merged_item(char* p, const PolicyItem& item, int suffixes) noexcept;

// An X-RateLimit-Limit/-Remaining/-Reset value: decimal digits (surrounding
// blanks allowed) that fit 64 bits; nullopt otherwise.
std::optional<std::uint64_t> parse_legacy_number(std::string_view value) noexcept;

}  // namespace levqor::limit
