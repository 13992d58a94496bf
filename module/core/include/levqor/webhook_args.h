// SPDX-License-Identifier: Apache-2.0
// The arguments of levqor_webhook and levqor_webhook_generic, parsed and
// checked without nginx: every key, bound, combination rule and message of
// the two directives lives here. The glue then reads the secret files, finds
// the replay zone and builds the Verifier. Times use nginx's syntax ("90",
// "5m", "24h", "30d"); the caller passes the parser (nginx's own in the
// module), so the grammar is exactly nginx's. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "levqor/parsed.h"
#include "levqor/webhook_scheme.h"

namespace levqor::webhook {

// Seconds in a time value, or a negative number when text is not a time.
using SecondsParser = std::int64_t (*)(std::string_view text);

inline constexpr std::uint32_t kDefaultTolerance = 300;
inline constexpr std::uint32_t kMaxTolerance = 30 * 24 * 3600;

struct WebhookArgs {
    bool off = false;  // levqor_webhook off
    Scheme scheme;
    std::vector<std::string_view> secret_files;                  // as given, in order (views into the parameters)
    std::optional<std::uint32_t> tolerance = kDefaultTolerance;  // nullopt: tolerance=off
    bool tolerance_given = false;
    std::string_view replay_zone;                // empty: no replay protection
    std::optional<std::uint32_t> replay_window;  // nullopt: not given

    std::uint32_t window() const { return replay_window.value_or(kDefaultReplayWindow); }
};

// levqor_webhook <provider>|off [secret_file=<path> ...] [tolerance=<time>|off]
//                [replay=<zone> [replay_window=<time>]]
Parsed<WebhookArgs> parse_webhook_args(std::string_view provider, const std::vector<std::string_view>& params,
                                       SecondsParser seconds);
// levqor_webhook_generic header=<name> algorithm=<alg> encoding=<enc> [prefix=<text>]
//                        secret_file=<path> ... and the options above
Parsed<WebhookArgs> parse_generic_args(const std::vector<std::string_view>& params, SecondsParser seconds);

// levqor_webhook_mode enforce|log_only
enum class Mode : std::uint8_t { Enforce = 0, LogOnly = 1 };
Parsed<Mode> parse_mode(std::string_view value);

}  // namespace levqor::webhook
