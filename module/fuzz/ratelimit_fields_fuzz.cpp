// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for the upstream rate-limit fields that
// levqor_limit_headers_upstream merge reads from every limited response
// (outside input: whatever the upstream sends): the RFC 8941 List parser,
// the merged-name rule and the item writer.
//
// Invariants: the parser never reads outside its input and keeps at most
// kMaxUpstreamItems; a failed line leaves the list as it was; the merged
// items, written back as one line, parse to the same names and parameters;
// the names a merge gives are distinct from each other and from this tier's.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "levqor/limit_upstream.h"

namespace {

void check(bool ok) {
    if (!ok) std::abort();
}

bool inside(std::string_view part, std::string_view whole) {
    return part.empty() || (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    namespace lim = levqor::limit;
    const std::string text(reinterpret_cast<const char*>(data), size);
    // Up to two lines of one field, split at the first newline.
    const std::size_t nl = text.find('\n');
    const std::string_view first = std::string_view(text).substr(0, nl);
    const std::string_view second =
        nl == std::string::npos ? std::string_view() : std::string_view(text).substr(nl + 1);

    lim::PolicyList list;
    const bool ok1 = lim::parse_policy_list(first, list);
    const std::size_t after_first = list.n;
    if (!ok1) check(list.n == 0 && list.skipped == 0);
    if (!lim::parse_policy_list(second, list)) check(list.n == after_first);
    check(list.n <= lim::kMaxUpstreamItems);
    for (std::size_t i = 0; i < list.n; ++i) {
        check(inside(list.items[i].name, text) && inside(list.items[i].params, text));
    }

    const std::string_view ours[] = {"free-key", "free-ip"};
    lim::MergedNames names(ours, 2);
    std::string line;
    std::vector<std::string> given;
    std::vector<std::string_view> params;
    for (std::size_t i = 0; i < list.n; ++i) {
        const int suffixes = names.claim(list.items[i].name, lim::MergedNames::kPolicy);
        if (suffixes < 0) continue;
        check(suffixes <= static_cast<int>(lim::MergedNames::kMaxSuffixes));
        std::string item(lim::merged_item_max(list.items[i]), '\0');
        item.resize(
            static_cast<std::size_t>(lim::write_merged_item(item.data(), list.items[i], suffixes) - item.data()));
        check(item.size() <= lim::merged_item_max(list.items[i]));
        if (!line.empty()) line += ", ";
        line += item;
        given.emplace_back(list.items[i].name);
        for (int k = 0; k < suffixes; ++k) given.back() += lim::MergedNames::kSuffix;
        params.push_back(list.items[i].params);
    }
    for (std::size_t i = 0; i < given.size(); ++i) {
        for (const std::string_view o : ours) check(given[i] != o);
        for (std::size_t j = 0; j < i; ++j) check(given[i] != given[j]);
    }
    lim::PolicyList again;
    check(lim::parse_policy_list(line, again));
    check(again.n == given.size() && again.skipped == 0);
    for (std::size_t i = 0; i < again.n; ++i) {
        check(again.items[i].name == given[i]);
        check(again.items[i].params == params[i]);
    }
    return 0;
}
