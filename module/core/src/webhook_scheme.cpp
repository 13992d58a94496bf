// SPDX-License-Identifier: Apache-2.0
#include "levqor/webhook_scheme.h"

#include <algorithm>
#include <array>

#include "levqor/base64.h"

namespace levqor::webhook {
namespace {

Scheme row(Provider p, std::string name, std::string sig, std::string ts, std::string id, Syntax syntax,
           std::string prefix, Method method, Encoding enc, SecretFormat fmt, std::string signed_prefix) {
    Scheme s;
    s.provider = p;
    s.name = std::move(name);
    s.headers[kSignature] = std::move(sig);
    s.headers[kTimestamp] = std::move(ts);
    s.headers[kId] = std::move(id);
    s.syntax = syntax;
    s.prefix = std::move(prefix);
    s.method = method;
    s.encoding = enc;
    s.secret_format = fmt;
    s.signed_prefix = std::move(signed_prefix);
    s.timestamp_required = s.signed_prefix.find("%t") != std::string::npos;
    return s;
}

// The providers as their official documentation and SDKs define them
// (docs/directives.md; the unit tests name the SDK tests their vectors come from).
std::vector<Scheme> build_table() {
    using P = Provider;
    using S = Syntax;
    using M = Method;
    using E = Encoding;
    using F = SecretFormat;
    std::vector<Scheme> t;
    t.push_back(
        row(P::Stripe, "stripe", "Stripe-Signature", "", "", S::StripeList, "", M::Hmac, E::Hex, F::Text, "%t."));
    t.push_back(row(P::Slack, "slack", "X-Slack-Signature", "X-Slack-Request-Timestamp", "", S::Prefixed,
                    "v0=", M::Hmac, E::Hex, F::Text, "v0:%t:"));
    t.push_back(row(P::Github, "github", "X-Hub-Signature-256", "", "X-GitHub-Delivery", S::Prefixed,
                    "sha256=", M::Hmac, E::Hex, F::Text, ""));
    t.push_back(row(P::Telegram, "telegram", "X-Telegram-Bot-Api-Secret-Token", "", "", S::Token, "", M::Token, E::Hex,
                    F::TelegramToken, ""));
    t.push_back(
        row(P::Notion, "notion", "X-Notion-Signature", "", "", S::Prefixed, "sha256=", M::Hmac, E::Hex, F::Text, ""));
    t.push_back(row(P::Shopify, "shopify", "X-Shopify-Hmac-Sha256", "", "X-Shopify-Webhook-Id", S::Prefixed, "",
                    M::Hmac, E::Base64, F::Text, ""));
    Scheme standard = row(P::Standard, "standard", "webhook-signature", "webhook-timestamp", "webhook-id",
                          S::StandardList, "", M::Hmac, E::Base64, F::StandardBase64, "%i.%t.");
    standard.alternate[kSignature] = "svix-signature";
    standard.alternate[kTimestamp] = "svix-timestamp";
    standard.alternate[kId] = "svix-id";
    standard.id_required = true;
    t.push_back(std::move(standard));
    t.push_back(
        row(P::Paddle, "paddle", "Paddle-Signature", "", "", S::PaddleList, "", M::Hmac, E::Hex, F::Text, "%t:"));
    t.push_back(row(P::Discord, "discord", "X-Signature-Ed25519", "X-Signature-Timestamp", "", S::Prefixed, "",
                    M::Ed25519, E::Hex, F::Ed25519PublicHex, "%t"));
    return t;
}

const std::vector<Scheme>& table() {
    static const std::vector<Scheme> t = build_table();
    return t;
}

constexpr std::array<std::int8_t, 256> hex_table() {
    std::array<std::int8_t, 256> t{};
    for (auto& v : t) v = -1;
    for (int i = 0; i < 10; ++i) t['0' + i] = static_cast<std::int8_t>(i);
    for (int i = 0; i < 6; ++i) {
        t['a' + i] = static_cast<std::int8_t>(10 + i);
        t['A' + i] = static_cast<std::int8_t>(10 + i);
    }
    return t;
}
constexpr auto kHex = hex_table();

std::string_view trim(std::string_view v) {
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
    return v;
}

bool parse_time(std::string_view v, std::int64_t& out) {
    if (v.empty() || v.size() > kMaxTimestampDigits) return false;
    std::int64_t t = 0;
    for (const char c : v) {
        if (c < '0' || c > '9') return false;
        t = t * 10 + (c - '0');
    }
    out = t;
    return true;
}

// Decodes one signature in the scheme's encoding; false if it can never match.
bool decode_signature(const Scheme& s, std::string_view text, Signature& sig) {
    const std::size_t n = s.signature_size();
    if (s.encoding == Encoding::Hex) {
        if (!decode_hex(text, sig.bytes, n)) return false;
    } else {
        std::size_t got = 0;
        if (!base64_decode(text, sig.bytes, sizeof sig.bytes, got) || got != n) return false;
    }
    sig.len = static_cast<std::uint8_t>(n);
    return true;
}

// Outcome of offering one candidate signature.
enum class Added { Ok, Skipped, Full };

Added add_signature(const Scheme& s, std::string_view text, Delivery& d) {
    if (d.nsigs == kMaxSignatures) return Added::Full;
    if (!decode_signature(s, text, d.sigs[d.nsigs])) return Added::Skipped;
    ++d.nsigs;
    return Added::Ok;
}

ParseError malformed(std::string_view detail, Field f = kSignature) {
    return ParseError{Reason::MalformedHeader, f, detail};
}

// "k=v<sep>k=v..." (Stripe: ',' t and v1; Paddle: ';' ts and h1).
ParseError parse_keyed_list(const Scheme& s, std::string_view v, char sep, std::string_view time_key,
                            std::string_view sig_key, Delivery& d) {
    bool have_time = false;
    while (!v.empty()) {
        const std::size_t end = v.find(sep);
        const std::string_view item = trim(v.substr(0, end));
        v = end == std::string_view::npos ? std::string_view{} : v.substr(end + 1);
        if (item.empty()) continue;
        const std::size_t eq = item.find('=');
        if (eq == std::string_view::npos) return malformed("an item without '='");
        const std::string_view key = item.substr(0, eq);
        const std::string_view value = item.substr(eq + 1);
        if (key == time_key) {
            if (have_time) return malformed("a repeated timestamp");
            if (!parse_time(value, d.time)) return malformed("a timestamp that is not a number of seconds");
            d.timestamp = value;
            have_time = true;
        } else if (key == sig_key) {
            if (add_signature(s, value, d) == Added::Full) return malformed("too many signatures");
        }
        // Other keys (Stripe's v0, versions added later) are skipped.
    }
    if (!have_time) return malformed("no timestamp");
    if (d.nsigs == 0) return malformed("no usable signature");
    return {};
}

// "v1,<base64> v1,<base64> ..." (Standard Webhooks).
ParseError parse_standard_list(const Scheme& s, std::string_view v, Delivery& d) {
    while (!v.empty()) {
        const std::size_t end = v.find(' ');
        const std::string_view item = v.substr(0, end);
        v = end == std::string_view::npos ? std::string_view{} : v.substr(end + 1);
        const std::size_t comma = item.find(',');
        if (comma == std::string_view::npos || item.substr(0, comma) != "v1") continue;
        if (add_signature(s, item.substr(comma + 1), d) == Added::Full) return malformed("too many signatures");
    }
    if (d.nsigs == 0) return malformed("no usable v1 signature");
    return {};
}

}  // namespace

std::size_t Scheme::signature_size() const {
    if (method == Method::Ed25519) return 64;
    if (method == Method::Token) return 0;
    switch (digest) {
        case Digest::Sha1:
            return 20;
        case Digest::Sha512:
            return 64;
        case Digest::Sha256:
            break;
    }
    return 32;
}

const Scheme& scheme(Provider p) {
    for (const auto& s : table()) {
        if (s.provider == p) return s;
    }
    return table().front();
}

const Scheme* find_scheme(std::string_view name) {
    for (const auto& s : table()) {
        if (s.name == name) return &s;
    }
    return nullptr;
}

std::string provider_names() {
    std::string out;
    for (const auto& s : table()) out += (out.empty() ? "" : ", ") + s.name;
    return out;
}

Parsed<Scheme> make_generic(std::string_view header, std::string_view algorithm, std::string_view encoding,
                            std::string_view prefix) {
    if (header.empty()) return Parsed<Scheme>::failure("needs header=<name>");
    for (const char c : header) {
        const bool ok =
            (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
        if (!ok) return Parsed<Scheme>::failure("invalid header name \"" + std::string(header) + "\"");
    }
    Scheme s;
    s.provider = Provider::Generic;
    s.name = "generic";
    s.headers[kSignature] = std::string(header);
    s.syntax = Syntax::Prefixed;
    s.prefix = std::string(prefix);
    if (algorithm == "sha1") s.digest = Digest::Sha1;
    else if (algorithm == "sha256") s.digest = Digest::Sha256;
    else if (algorithm == "sha512") s.digest = Digest::Sha512;
    else
        return Parsed<Scheme>::failure("invalid algorithm \"" + std::string(algorithm) +
                                       "\", expected sha1, sha256 or sha512");
    if (encoding == "hex") s.encoding = Encoding::Hex;
    else if (encoding == "base64") s.encoding = Encoding::Base64;
    else return Parsed<Scheme>::failure("invalid encoding \"" + std::string(encoding) + "\", expected hex or base64");
    return s;
}

std::string_view reason_text(Reason r) {
    switch (r) {
        case Reason::None:
            return "valid";
        case Reason::MissingHeader:
            return "missing header";
        case Reason::DuplicateHeader:
            return "duplicate header";
        case Reason::MalformedHeader:
            return "malformed header";
        case Reason::StaleTimestamp:
            return "stale timestamp";
        case Reason::FutureTimestamp:
            return "timestamp in the future";
        case Reason::Mismatch:
            return "signature mismatch";
        case Reason::Replay:
            return "replay";
    }
    return "unknown";
}

std::string_view reason_label(Reason r) {
    switch (r) {
        case Reason::None:
            return "none";
        case Reason::MissingHeader:
            return "missing_header";
        case Reason::DuplicateHeader:
            return "duplicate_header";
        case Reason::MalformedHeader:
            return "malformed_header";
        case Reason::StaleTimestamp:
            return "stale_timestamp";
        case Reason::FutureTimestamp:
            return "future_timestamp";
        case Reason::Mismatch:
            return "signature_mismatch";
        case Reason::Replay:
            return "replay";
    }
    return "unknown";
}

bool decode_hex(std::string_view in, std::uint8_t* out, std::size_t n) noexcept {
    if (in.size() != 2 * n) return false;
    for (std::size_t i = 0; i < n; ++i) {
        const std::int8_t hi = kHex[static_cast<unsigned char>(in[2 * i])];
        const std::int8_t lo = kHex[static_cast<unsigned char>(in[2 * i + 1])];
        if (hi < 0 || lo < 0) return false;
        out[i] = static_cast<std::uint8_t>((hi << 4) | lo);
    }
    return true;
}

ParseError parse(const Scheme& s, const HeaderValues& in, Delivery& d) noexcept {
    d.timestamp = {};
    d.time = 0;
    d.id = {};
    d.token = {};
    d.nsigs = 0;
    for (std::size_t f = 0; f < kFields; ++f) {
        if (!s.headers[f].empty() && in.count[f] > 1) return {Reason::DuplicateHeader, static_cast<Field>(f), {}};
    }
    if (in.count[kSignature] == 0) return {Reason::MissingHeader, kSignature, {}};
    if (!s.headers[kTimestamp].empty()) {
        if (in.count[kTimestamp] == 0) return {Reason::MissingHeader, kTimestamp, {}};
        if (!parse_time(in.value[kTimestamp], d.time)) {
            return malformed("not a number of seconds", kTimestamp);
        }
        d.timestamp = in.value[kTimestamp];
    }
    if (!s.headers[kId].empty() && in.count[kId] == 1) {
        d.id = in.value[kId];
        if (d.id.empty() && s.id_required) return malformed("empty", kId);
    }
    if (s.id_required && in.count[kId] == 0) return {Reason::MissingHeader, kId, {}};

    const std::string_view v = in.value[kSignature];
    if (v.empty()) return malformed("empty");
    switch (s.syntax) {
        case Syntax::Prefixed:
            if (v.substr(0, s.prefix.size()) != s.prefix) return malformed("the expected prefix is missing");
            if (add_signature(s, v.substr(s.prefix.size()), d) != Added::Ok) {
                return malformed(s.encoding == Encoding::Hex ? "not a hex signature of the right length"
                                                             : "not a base64 signature of the right length");
            }
            return {};
        case Syntax::StripeList:
            return parse_keyed_list(s, v, ',', "t", "v1", d);
        case Syntax::PaddleList:
            return parse_keyed_list(s, v, ';', "ts", "h1", d);
        case Syntax::StandardList:
            return parse_standard_list(s, v, d);
        case Syntax::Token:
            if (v.size() > 256) return malformed("longer than 256 characters");
            d.token = v;
            return {};
    }
    return malformed("unknown syntax");
}

Reason check_time(const Scheme& s, const Delivery& d, std::int64_t now,
                  std::optional<std::uint32_t> tolerance) noexcept {
    if (!s.has_timestamp() || !tolerance) return Reason::None;
    const std::int64_t age = now - d.time;
    if (age > static_cast<std::int64_t>(*tolerance)) return Reason::StaleTimestamp;
    if (-age > static_cast<std::int64_t>(*tolerance)) return Reason::FutureTimestamp;
    return Reason::None;
}

std::uint64_t replay_expiry(const Scheme& s, const Delivery& d, std::int64_t now,
                            std::optional<std::uint32_t> tolerance, std::uint32_t window) noexcept {
    const std::int64_t from = now < 0 ? 0 : now;
    if (!has_usable_timestamp(s, tolerance)) return static_cast<std::uint64_t>(from) + window;
    // d.time has at most 12 digits (parse): no overflow.
    return static_cast<std::uint64_t>(std::max(from, d.time)) + *tolerance + 1;
}

}  // namespace levqor::webhook
