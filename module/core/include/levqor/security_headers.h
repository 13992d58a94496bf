// SPDX-License-Identifier: Apache-2.0
// Security response headers: the profiles (strict, api, relaxed), the
// per-directive overrides, and their resolution into the list of headers a
// location sends. Config-time code; values are validated here so that nginx -t
// can name the bad directive value. Thread-safe: plain values, no globals.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "levqor/parsed.h"

namespace levqor::headers {

enum class Profile : std::uint8_t { Strict, Api, Relaxed };
enum class FrameOptions : std::uint8_t { Deny, SameOrigin, Off };
enum class UpstreamMode : std::uint8_t { Replace, Keep };

// A header value with nonce slots: pieces[0] <nonce> pieces[1] ... pieces[n].
struct ValueTemplate {
    std::vector<std::string> pieces;

    static ValueTemplate literal(std::string text) { return ValueTemplate{{std::move(text)}}; }
    std::size_t nonce_slots() const { return pieces.empty() ? 0 : pieces.size() - 1; }
    std::size_t literal_size() const;
    // The value with every nonce slot replaced by `nonce`.
    std::string render(std::string_view nonce) const;
    bool operator==(const ValueTemplate& o) const { return pieces == o.pieces; }
};

struct Csp {
    bool enabled = true;
    ValueTemplate policy;
    bool report_only = false;
};

struct Hsts {
    bool enabled = true;
    std::uint64_t max_age = 0;
    bool include_subdomains = false;
    bool preload = false;
    std::string value() const;
};

// What one configuration level (http, server, location) says; nullopt means
// "not set here, inherit".
struct Settings {
    std::optional<bool> enabled;
    std::optional<Profile> profile;
    std::optional<Csp> csp;
    std::optional<Hsts> hsts;
    std::optional<FrameOptions> frame_options;
    std::optional<std::string> referrer_policy;     // empty string: off
    std::optional<std::string> permissions_policy;  // empty string: off
    std::optional<UpstreamMode> upstream;

    // Every field not set here is taken from parent.
    void inherit_from(const Settings& parent);
    // No field set: a level without levqor_headers* directives (it inherits everything).
    bool empty() const;
};

struct HeaderSpec {
    std::string name;
    ValueTemplate value;
    bool https_only = false;
};

// The headers a location with these (fully inherited) settings sends, in a
// stable order. Unset fields take the defaults: profile strict.
std::vector<HeaderSpec> resolve(const Settings& s);

// The shadow form of a header set (SECURITY_HEADERS_ENABLED=shadow): only
// what browsers can report without enforcing — the CSP as
// Content-Security-Policy-Report-Only and COOP as
// Cross-Origin-Opener-Policy-Report-Only; every header that would block
// something (framing, sniffing, features, HSTS) is left out.
std::vector<HeaderSpec> report_only(const std::vector<HeaderSpec>& specs);

// The header names levqor may send (any profile, any override).
const std::vector<std::string_view>& managed_header_names();

// ---- directive value parsers (messages name the bad value) ----------------
Parsed<Profile> parse_profile(std::string_view v);
std::string_view profile_name(Profile p);
Parsed<ValueTemplate> parse_csp_policy(std::string_view v);
Parsed<Hsts> parse_hsts(const std::vector<std::string_view>& args);
Parsed<FrameOptions> parse_frame_options(std::string_view v);
Parsed<std::string> parse_referrer_policy(std::string_view v);
Parsed<std::string> parse_permissions_policy(std::string_view v);
Parsed<UpstreamMode> parse_upstream_mode(std::string_view v);

// Names of the nonce variable as it may be written in a policy.
inline constexpr std::string_view kNonceVariable = "levqor_csp_nonce";

}  // namespace levqor::headers
