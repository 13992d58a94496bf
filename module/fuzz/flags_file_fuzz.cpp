// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for the runtime flags file parser (levqor::flags::parse_file),
// which nginx (levqor_flags_file) and levqor-controld read: operator input,
// and whatever is in the file when it is damaged or half-written.
//
// Invariants: a parse either succeeds or says why (a non-empty message that
// names a line or the missing flag); a successful parse survives the round
// trip through format_file, the text controld writes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "levqor/flags.h"

namespace flags = levqor::flags;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const auto parsed = flags::parse_file(text);
    if (!parsed) {
        if (parsed.error().empty()) std::abort();
        return 0;
    }
    const auto again = flags::parse_file(flags::format_file(parsed.value()));
    if (!again || again.value() != parsed.value()) std::abort();
    return 0;
}
