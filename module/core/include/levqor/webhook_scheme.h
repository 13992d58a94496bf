// SPDX-License-Identifier: Apache-2.0
// Webhook signature schemes: one table row per provider (the headers, how the
// signature header is written, what is signed, the algorithm, the encoding and
// the secret format) and the request-path parser that turns a delivery's
// header values into a Delivery: its timestamp, id and decoded candidate
// signatures. Adding a provider is a row here and, if its header syntax is
// new, one parser. Parsing never allocates and never throws; every input is
// bounded by the header's own length. Pure functions over values; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "levqor/parsed.h"

namespace levqor::webhook {

enum class Provider : std::uint8_t {
    Stripe,
    Slack,
    Github,
    Telegram,
    Notion,
    Shopify,
    Standard,
    Paddle,
    Discord,
    Generic,
};
inline constexpr std::size_t kProviders = 10;

enum class Digest : std::uint8_t { Sha1, Sha256, Sha512 };
enum class Encoding : std::uint8_t { Hex, Base64 };

// How a delivery proves it comes from the provider.
enum class Method : std::uint8_t {
    Hmac,     // HMAC of the signed message with a shared secret
    Ed25519,  // signature over the signed message, verified with a public key
    Token,    // the header carries the shared secret itself (Telegram)
};

// What a secret file holds.
enum class SecretFormat : std::uint8_t {
    Text,              // the key bytes, used verbatim (Stripe's whsec_ included)
    StandardBase64,    // [whsec_]<base64>: the key is the decoded base64
    Ed25519PublicHex,  // 64 hex digits: a 32-byte Ed25519 public key
    TelegramToken,     // 1-256 characters of A-Z a-z 0-9 _ -
};

// How the signature header is written.
enum class Syntax : std::uint8_t {
    Prefixed,      // <prefix><signature>: GitHub/Notion "sha256=", Slack "v0=", Shopify, Discord, generic
    StripeList,    // t=<ts>,v1=<hex>[,v1=<hex>][,v0=...]
    StandardList,  // v1,<base64>[ v1,<base64> ...]
    PaddleList,    // ts=<ts>;h1=<hex>[;h1=<hex>]
    Token,         // the whole value is the token
};

// The request headers a scheme reads.
enum Field : std::uint8_t { kSignature = 0, kTimestamp = 1, kId = 2 };
inline constexpr std::size_t kFields = 3;

struct Scheme {
    Provider provider = Provider::Generic;
    std::string name;  // "stripe"; the provider in logs, metrics and the 401 body
    // Header names as providers document them (matched case-insensitively);
    // empty: the scheme does not use that field. `alternate` names are tried
    // when the signature header is absent (svix-* for Standard Webhooks).
    std::string headers[kFields];
    std::string alternate[kFields];
    bool timestamp_required = false;  // in its own header or inside the signature header
    bool id_required = false;
    Syntax syntax = Syntax::Prefixed;
    std::string prefix;  // Prefixed: text before the signature ("sha256=")
    Method method = Method::Hmac;
    Digest digest = Digest::Sha256;
    Encoding encoding = Encoding::Hex;
    SecretFormat secret_format = SecretFormat::Text;
    // What precedes the body in the signed message: %t is the timestamp as
    // sent, %i the id, %% a percent sign, anything else literal. "" for
    // schemes that sign the body alone.
    std::string signed_prefix;

    std::size_t signature_size() const;  // decoded bytes of one signature
    bool has_timestamp() const { return timestamp_required; }
    // Whether the id header is part of the signed message. When it is not
    // (GitHub, Shopify), a captured delivery can be resent under a new id, so
    // replay protection must also key on the signature.
    bool id_signed() const { return signed_prefix.find("%i") != std::string::npos; }
};

// The table row of a provider (not Generic, which is built by make_generic).
const Scheme& scheme(Provider p);
// "stripe" → its row; nullptr for an unknown name or "generic".
const Scheme* find_scheme(std::string_view name);
// Every named provider, for messages ("expected stripe, slack, ...").
std::string provider_names();

// levqor_webhook_generic: an HMAC over the body in one header.
Parsed<Scheme> make_generic(std::string_view header, std::string_view algorithm, std::string_view encoding,
                            std::string_view prefix);

// ---- the request path ------------------------------------------------------------

inline constexpr std::size_t kMaxSignatures = 8;      // candidates kept from one header
inline constexpr std::size_t kMaxSignatureSize = 64;  // SHA-512, Ed25519
inline constexpr std::size_t kMaxTimestampDigits = 12;

// What a request carried, per field: the first value and how many times the
// header occurred (0: absent; more than 1: duplicated).
struct HeaderValues {
    std::string_view value[kFields];
    std::uint8_t count[kFields];
};

struct Signature {
    std::uint8_t len;
    std::uint8_t bytes[kMaxSignatureSize];
};

// A parsed delivery; points into the header values (no copies of them).
// Trivially destructible, so it can live in nginx's request pool.
struct Delivery {
    std::string_view timestamp;  // as sent: it is signed verbatim
    std::int64_t time;           // seconds since the epoch
    std::string_view id;
    std::string_view token;  // Syntax::Token
    std::uint8_t nsigs;
    Signature sigs[kMaxSignatures];
};
static_assert(std::is_trivially_destructible_v<Delivery>);

enum class Reason : std::uint8_t {
    None,
    MissingHeader,
    DuplicateHeader,
    MalformedHeader,
    StaleTimestamp,
    FutureTimestamp,
    Mismatch,
    Replay,
};
inline constexpr std::size_t kReasons = 8;
std::string_view reason_text(Reason r);   // "stale timestamp"
std::string_view reason_label(Reason r);  // "stale_timestamp" (metrics)

struct ParseError {
    Reason reason = Reason::None;
    Field field = kSignature;
    std::string_view detail;  // static text: what was wrong with the value
};

// Reads a delivery's headers. Signatures of versions the scheme does not
// know are skipped; a known version whose value cannot be decoded can never
// match and is skipped too, but a header left with no usable signature is
// malformed. Never reads beyond the values, never allocates.
ParseError parse(const Scheme& s, const HeaderValues& in, Delivery& out) noexcept;

// Checks the delivery's timestamp against now (seconds): None, StaleTimestamp
// (older than tolerance) or FutureTimestamp (newer than now + tolerance). No
// tolerance (tolerance=off), or a scheme without timestamps: None.
Reason check_time(const Scheme& s, const Delivery& d, std::int64_t now,
                  std::optional<std::uint32_t> tolerance) noexcept;

// Replay windows: the default for deliveries without a usable timestamp, and
// the bounds of replay_window=.
inline constexpr std::uint32_t kDefaultReplayWindow = 24 * 3600;
inline constexpr std::uint32_t kMaxReplayWindow = 30 * 24 * 3600;

// Whether check_time() can ever refuse the delivery as stale: the scheme
// carries a timestamp and the tolerance is not off.
inline bool has_usable_timestamp(const Scheme& s, std::optional<std::uint32_t> tolerance) {
    return s.has_timestamp() && tolerance.has_value();
}

// When a verified delivery's replay entry may go (the first second at which
// it no longer counts): never while check_time() would still accept the
// delivery. One with a usable timestamp is accepted through time + tolerance
// (both bounds of check_time() are inclusive, and a future timestamp is
// accepted too), so its entry lives until max(now, time) + tolerance + 1. Any
// other delivery never goes stale; it is remembered for `window` seconds.
std::uint64_t replay_expiry(const Scheme& s, const Delivery& d, std::int64_t now,
                            std::optional<std::uint32_t> tolerance, std::uint32_t window) noexcept;

// Feeds the signed prefix (the part of the signed message before the body) to
// sink(data, len) in pieces.
template <class Sink>
void signed_prefix(const Scheme& s, const Delivery& d, Sink&& sink) {
    const std::string& t = s.signed_prefix;
    std::size_t lit = 0;
    for (std::size_t i = 0; i < t.size(); ++i) {
        if (t[i] != '%' || i + 1 == t.size()) continue;
        if (i > lit) sink(t.data() + lit, i - lit);
        const char c = t[++i];
        if (c == 't') sink(d.timestamp.data(), d.timestamp.size());
        else if (c == 'i') sink(d.id.data(), d.id.size());
        else sink(t.data() + i, 1);
        lit = i + 1;
    }
    if (lit < t.size()) sink(t.data() + lit, t.size() - lit);
}

// Decoding helpers shared with the secret parsers. Exact length, no
// whitespace; hex in either case.
bool decode_hex(std::string_view in, std::uint8_t* out, std::size_t n) noexcept;

}  // namespace levqor::webhook
