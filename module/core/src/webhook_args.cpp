// SPDX-License-Identifier: Apache-2.0
#include "levqor/webhook_args.h"

#include <string>

namespace levqor::webhook {
namespace {

std::string quoted(std::string_view v) { return "\"" + std::string(v) + "\""; }

std::optional<std::uint32_t> seconds_in(std::string_view text, std::uint32_t max, SecondsParser seconds) {
    const std::int64_t s = seconds(text);
    if (s < 1 || s > static_cast<std::int64_t>(max)) return std::nullopt;
    return static_cast<std::uint32_t>(s);
}

// The options every levqor_webhook* directive takes: secret_file=,
// tolerance=, replay=, replay_window=. Returns an error message, "" if the
// parameter was taken, or nullopt if it is not one of them.
std::optional<std::string> common_option(std::string_view a, WebhookArgs& o, SecondsParser seconds) {
    const std::size_t eq = a.find('=');
    if (eq == std::string_view::npos) return std::nullopt;
    const std::string_view name = a.substr(0, eq), value = a.substr(eq + 1);
    if (name == "secret_file") {
        if (value.empty()) return std::string("secret_file= needs a path");
        o.secret_files.push_back(value);
        return std::string();
    }
    if (name == "tolerance") {
        o.tolerance_given = true;
        if (value == "off") {
            o.tolerance = std::nullopt;
            return std::string();
        }
        o.tolerance = seconds_in(value, kMaxTolerance, seconds);
        if (!o.tolerance) return "invalid tolerance " + quoted(a) + ", expected seconds (1 to 30d) or off";
        return std::string();
    }
    if (name == "replay_window") {
        o.replay_window = seconds_in(value, kMaxReplayWindow, seconds);
        if (!o.replay_window) return "invalid replay_window " + quoted(a) + ", expected a time from 1s to 30d";
        return std::string();
    }
    if (name == "replay") {
        if (value.empty()) return "invalid parameter " + quoted(a);
        o.replay_zone = value;
        return std::string();
    }
    return std::nullopt;
}

// Combinations that cannot work; "" when the rule may be built.
std::string refused(const WebhookArgs& o) {
    if (!o.replay_zone.empty() && o.scheme.method == Method::Token) {
        return "replay= cannot be used with " + o.scheme.name +
               ": its deliveries carry neither an id nor a per-delivery signature";
    }
    if (o.replay_window && o.replay_zone.empty()) return "replay_window= needs replay=<zone>";
    return std::string();
}

Parsed<WebhookArgs> checked(WebhookArgs o) {
    const std::string problem = refused(o);
    if (!problem.empty()) return Parsed<WebhookArgs>::failure(problem);
    return o;
}

}  // namespace

Parsed<WebhookArgs> parse_webhook_args(std::string_view provider, const std::vector<std::string_view>& params,
                                       SecondsParser seconds) {
    using P = Parsed<WebhookArgs>;
    WebhookArgs o;
    if (provider == "off") {
        if (!params.empty()) return P::failure("off takes no parameters");
        o.off = true;
        return o;
    }
    if (provider == "generic") return P::failure("generic schemes are configured with levqor_webhook_generic");
    const Scheme* scheme = find_scheme(provider);
    if (scheme == nullptr) {
        return P::failure("unknown provider " + quoted(provider) + ", expected " + provider_names() +
                          " (or levqor_webhook_generic)");
    }
    o.scheme = *scheme;
    for (const std::string_view a : params) {
        auto handled = common_option(a, o, seconds);
        if (!handled) return P::failure("invalid parameter " + quoted(a));
        if (!handled->empty()) return P::failure(*handled);
    }
    if (o.secret_files.empty()) return P::failure("needs secret_file=<path>");
    return checked(std::move(o));
}

Parsed<WebhookArgs> parse_generic_args(const std::vector<std::string_view>& params, SecondsParser seconds) {
    using P = Parsed<WebhookArgs>;
    WebhookArgs o;
    std::string_view header, algorithm, encoding, prefix;
    for (const std::string_view a : params) {
        auto handled = common_option(a, o, seconds);
        if (handled) {
            if (!handled->empty()) return P::failure(*handled);
            continue;
        }
        const std::size_t eq = a.find('=');
        if (eq == std::string_view::npos) return P::failure("invalid parameter " + quoted(a));
        const std::string_view name = a.substr(0, eq), value = a.substr(eq + 1);
        if (name == "header") header = value;
        else if (name == "algorithm") algorithm = value;
        else if (name == "encoding") encoding = value;
        else if (name == "prefix") prefix = value;
        else return P::failure("invalid parameter " + quoted(a));
    }
    if (header.empty() || algorithm.empty() || encoding.empty() || o.secret_files.empty()) {
        return P::failure(
            "needs header=<name> algorithm=<sha1|sha256|sha512> encoding=<hex|base64> "
            "secret_file=<path>");
    }
    auto scheme = make_generic(header, algorithm, encoding, prefix);
    if (!scheme) return P::failure(scheme.error());
    o.scheme = std::move(scheme).value();
    return checked(std::move(o));
}

Parsed<Mode> parse_mode(std::string_view v) {
    if (v == "enforce") return Mode::Enforce;
    if (v == "log_only") return Mode::LogOnly;
    return Parsed<Mode>::failure("invalid value " + quoted(v) + ", expected enforce or log_only");
}

}  // namespace levqor::webhook
