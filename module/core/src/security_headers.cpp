// SPDX-License-Identifier: Apache-2.0
#include "levqor/security_headers.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cctype>

#include "levqor/security_header_names.h"

namespace levqor::headers {
namespace {

using names::kCoop;
using names::kCoopReportOnly;
using names::kCorp;
using names::kCsp;
using names::kCspReportOnly;
using names::kFrame;
using names::kHsts;
using names::kNosniff;
using names::kPermissions;
using names::kReferrer;

constexpr std::uint64_t kTwoYears = 63072000;
constexpr std::uint64_t kOneYear = 31536000;
// HSTS max-age is a delta-seconds; browsers cap it, we refuse absurd values.
constexpr std::uint64_t kMaxHstsAge = 10 * kOneYear;

constexpr std::string_view kStrictPermissions =
    "accelerometer=(), autoplay=(), camera=(), display-capture=(), "
    "encrypted-media=(), fullscreen=(), geolocation=(), gyroscope=(), hid=(), "
    "magnetometer=(), microphone=(), midi=(), payment=(), picture-in-picture=(), "
    "publickey-credentials-get=(), screen-wake-lock=(), serial=(), usb=(), "
    "xr-spatial-tracking=()";
constexpr std::string_view kRelaxedPermissions = "camera=(), microphone=(), geolocation=(), payment=(), usb=()";

struct ProfileDefaults {
    Csp csp;
    Hsts hsts;
    FrameOptions frame;
    std::string_view referrer;
    std::string_view permissions;
    bool cross_origin_isolation;  // COOP + CORP same-origin
    bool corp_only;               // CORP same-origin without COOP
};

ValueTemplate strict_csp() {
    return ValueTemplate{{"default-src 'none'; script-src 'nonce-",
                          "' 'strict-dynamic'; style-src 'self'; img-src 'self'; "
                          "font-src 'self'; connect-src 'self'; manifest-src 'self'; "
                          "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
                          "object-src 'none'"}};
}

ProfileDefaults defaults_for(Profile p) {
    switch (p) {
        case Profile::Api:
            return {Csp{true, ValueTemplate::literal("default-src 'none'; frame-ancestors 'none'"), false},
                    Hsts{true, kTwoYears, true, false},
                    FrameOptions::Deny,
                    "no-referrer",
                    "",
                    false,
                    true};
        case Profile::Relaxed:
            return {Csp{true,
                        ValueTemplate::literal("default-src 'self'; object-src 'none'; "
                                               "base-uri 'self'; frame-ancestors 'self'"),
                        true},
                    Hsts{true, kOneYear, false, false},
                    FrameOptions::SameOrigin,
                    "strict-origin-when-cross-origin",
                    kRelaxedPermissions,
                    false,
                    false};
        case Profile::Strict:
            break;
    }
    return {Csp{true, strict_csp(), false},
            Hsts{true, kTwoYears, true, false},
            FrameOptions::Deny,
            "no-referrer",
            kStrictPermissions,
            true,
            false};
}

bool is_header_safe(std::string_view v) {
    return std::none_of(v.begin(), v.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return (u < 0x20 && u != '\t') || u == 0x7f;
    });
}

std::string quoted(std::string_view v) { return "\"" + std::string(v) + "\""; }

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

bool is_name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

}  // namespace

std::size_t ValueTemplate::literal_size() const {
    std::size_t n = 0;
    for (const auto& p : pieces) n += p.size();
    return n;
}

std::string ValueTemplate::render(std::string_view nonce) const {
    std::string out;
    for (std::size_t i = 0; i < pieces.size(); ++i) {
        if (i > 0) out.append(nonce);
        out.append(pieces[i]);
    }
    return out;
}

std::string Hsts::value() const {
    std::string v = "max-age=" + std::to_string(max_age);
    if (include_subdomains) v += "; includeSubDomains";
    if (preload) v += "; preload";
    return v;
}

void Settings::inherit_from(const Settings& parent) {
    if (!enabled) enabled = parent.enabled;
    if (!profile) profile = parent.profile;
    if (!csp) csp = parent.csp;
    if (!hsts) hsts = parent.hsts;
    if (!frame_options) frame_options = parent.frame_options;
    if (!referrer_policy) referrer_policy = parent.referrer_policy;
    if (!permissions_policy) permissions_policy = parent.permissions_policy;
    if (!upstream) upstream = parent.upstream;
}

bool Settings::empty() const {
    return !enabled && !profile && !csp && !hsts && !frame_options && !referrer_policy && !permissions_policy &&
           !upstream;
}

std::vector<HeaderSpec> resolve(const Settings& s) {
    const ProfileDefaults d = defaults_for(s.profile.value_or(Profile::Strict));
    const Csp csp = s.csp.value_or(d.csp);
    const Hsts hsts = s.hsts.value_or(d.hsts);
    const FrameOptions frame = s.frame_options.value_or(d.frame);
    const std::string referrer = s.referrer_policy.value_or(std::string(d.referrer));
    const std::string permissions = s.permissions_policy.value_or(std::string(d.permissions));

    std::vector<HeaderSpec> out;
    if (csp.enabled) {
        out.push_back({std::string(csp.report_only ? kCspReportOnly : kCsp), csp.policy, false});
    }
    if (hsts.enabled) out.push_back({std::string(kHsts), ValueTemplate::literal(hsts.value()), true});
    if (frame != FrameOptions::Off) {
        out.push_back(
            {std::string(kFrame), ValueTemplate::literal(frame == FrameOptions::Deny ? "DENY" : "SAMEORIGIN"), false});
    }
    out.push_back({std::string(kNosniff), ValueTemplate::literal("nosniff"), false});
    if (!referrer.empty()) out.push_back({std::string(kReferrer), ValueTemplate::literal(referrer), false});
    if (!permissions.empty()) {
        out.push_back({std::string(kPermissions), ValueTemplate::literal(permissions), false});
    }
    if (d.cross_origin_isolation) {
        out.push_back({std::string(kCoop), ValueTemplate::literal("same-origin"), false});
    }
    if (d.cross_origin_isolation || d.corp_only) {
        out.push_back({std::string(kCorp), ValueTemplate::literal("same-origin"), false});
    }
    return out;
}

std::vector<HeaderSpec> report_only(const std::vector<HeaderSpec>& specs) {
    std::vector<HeaderSpec> out;
    for (const auto& h : specs) {
        if (h.name == kCsp || h.name == kCspReportOnly) {
            out.push_back({std::string(kCspReportOnly), h.value, h.https_only});
        } else if (h.name == kCoop) {
            out.push_back({std::string(kCoopReportOnly), h.value, h.https_only});
        }
    }
    return out;
}

const std::vector<std::string_view>& managed_header_names() {
    static const std::vector<std::string_view> managed(names::kManaged.begin(), names::kManaged.end());
    return managed;
}

Parsed<Profile> parse_profile(std::string_view v) {
    if (v == "strict") return Profile::Strict;
    if (v == "api") return Profile::Api;
    if (v == "relaxed") return Profile::Relaxed;
    return Parsed<Profile>::failure("unknown profile " + quoted(v) + ", expected strict, api or relaxed");
}

std::string_view profile_name(Profile p) {
    switch (p) {
        case Profile::Api:
            return "api";
        case Profile::Relaxed:
            return "relaxed";
        case Profile::Strict:
            break;
    }
    return "strict";
}

Parsed<ValueTemplate> parse_csp_policy(std::string_view v) {
    using P = Parsed<ValueTemplate>;
    if (trim(v).empty()) return P::failure("empty policy " + quoted(v));
    if (!is_header_safe(v)) return P::failure("policy contains control characters");
    ValueTemplate t;
    std::string piece;
    for (std::size_t i = 0; i < v.size();) {
        if (v[i] != '$') {
            piece.push_back(v[i++]);
            continue;
        }
        const bool braced = i + 1 < v.size() && v[i + 1] == '{';
        std::size_t start = i + (braced ? 2 : 1);
        std::size_t end = start;
        while (end < v.size() && is_name_char(v[end])) ++end;
        const std::string_view name = v.substr(start, end - start);
        if (braced && (end >= v.size() || v[end] != '}')) {
            return P::failure("unterminated variable in policy " + quoted(v));
        }
        if (name.empty()) {  // a lone '$' is literal text
            piece.push_back(v[i++]);
            continue;
        }
        if (name != kNonceVariable) {
            return P::failure("only $levqor_csp_nonce may be used in a policy, found \"$" + std::string(name) + "\"");
        }
        t.pieces.push_back(std::move(piece));
        piece.clear();
        i = braced ? end + 1 : end;
    }
    t.pieces.push_back(std::move(piece));
    return t;
}

Parsed<Hsts> parse_hsts(const std::vector<std::string_view>& args) {
    using P = Parsed<Hsts>;
    if (args.size() == 1 && args[0] == "off") return Hsts{false, 0, false, false};
    Hsts h;
    bool have_age = false;
    for (const auto a : args) {
        if (a.substr(0, 8) == "max_age=") {
            const auto num = a.substr(8);
            std::uint64_t age = 0;
            const auto [ptr, ec] = std::from_chars(num.data(), num.data() + num.size(), age);
            if (have_age) return P::failure("duplicate parameter " + quoted(a));
            if (num.empty() || ec != std::errc() || ptr != num.data() + num.size() || age > kMaxHstsAge) {
                return P::failure("invalid max_age " + quoted(a) + ", expected seconds from 0 to " +
                                  std::to_string(kMaxHstsAge));
            }
            h.max_age = age;
            have_age = true;
        } else if (a == "include_subdomains") {
            if (h.include_subdomains) return P::failure("duplicate parameter " + quoted(a));
            h.include_subdomains = true;
        } else if (a == "preload") {
            if (h.preload) return P::failure("duplicate parameter " + quoted(a));
            h.preload = true;
        } else {
            return P::failure("invalid parameter " + quoted(a) +
                              ", expected max_age=<seconds> [include_subdomains] [preload] or off");
        }
    }
    if (!have_age) return P::failure("missing max_age=<seconds>");
    if (h.preload && (!h.include_subdomains || h.max_age < kOneYear)) {
        return P::failure("\"preload\" needs include_subdomains and max_age of at least " + std::to_string(kOneYear) +
                          " (the preload list's requirements)");
    }
    return h;
}

Parsed<FrameOptions> parse_frame_options(std::string_view v) {
    if (v == "DENY" || v == "deny") return FrameOptions::Deny;
    if (v == "SAMEORIGIN" || v == "sameorigin") return FrameOptions::SameOrigin;
    if (v == "off") return FrameOptions::Off;
    return Parsed<FrameOptions>::failure("invalid value " + quoted(v) + ", expected DENY, SAMEORIGIN or off");
}

Parsed<std::string> parse_referrer_policy(std::string_view v) {
    static constexpr std::array<std::string_view, 8> kTokens{
        "no-referrer",   "no-referrer-when-downgrade",      "origin",    "origin-when-cross-origin", "same-origin",
        "strict-origin", "strict-origin-when-cross-origin", "unsafe-url"};
    if (v == "off") return std::string();
    std::string_view rest = v;
    std::string out;
    while (true) {
        const auto comma = rest.find(',');
        const auto token = trim(rest.substr(0, comma));
        if (std::find(kTokens.begin(), kTokens.end(), token) == kTokens.end()) {
            return Parsed<std::string>::failure("invalid value " + quoted(v) + ": " + quoted(token) +
                                                " is not a referrer policy (no-referrer, same-origin, strict-origin, "
                                                "strict-origin-when-cross-origin, ...) or off");
        }
        if (!out.empty()) out += ", ";
        out.append(token);
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
    }
    return out;
}

Parsed<std::string> parse_permissions_policy(std::string_view v) {
    using P = Parsed<std::string>;
    if (v == "off") return std::string();
    if (trim(v).empty()) return P::failure("empty policy " + quoted(v) + ", use off to send none");
    if (!is_header_safe(v)) return P::failure("policy contains control characters");
    // A structured-field dictionary: feature=allowlist, ... (RFC 8941). We check
    // its shape so that Feature-Policy syntax ("camera 'none'") is caught.
    int depth = 0;
    bool in_string = false;
    std::size_t member_start = 0;
    for (std::size_t i = 0; i <= v.size(); ++i) {
        const char c = i < v.size() ? v[i] : ',';
        if (in_string) {
            if (c == '"') in_string = false;
            continue;
        }
        if (c == '"') in_string = true;
        else if (c == '(') ++depth;
        else if (c == ')') --depth;
        if (depth < 0) return P::failure("unbalanced parentheses in " + quoted(v));
        if (c != ',' || depth != 0) continue;
        const auto member = trim(v.substr(member_start, i - member_start));
        member_start = i + 1;
        const auto eq = member.find('=');
        const auto key = member.substr(0, eq);
        const bool key_ok = !key.empty() && std::islower(static_cast<unsigned char>(key[0])) &&
                            std::all_of(key.begin(), key.end(), [](char k) {
                                return std::islower(static_cast<unsigned char>(k)) ||
                                       std::isdigit(static_cast<unsigned char>(k)) || k == '-' || k == '_' ||
                                       k == '.' || k == '*';
                            });
        if (!key_ok || eq == std::string_view::npos || eq + 1 == member.size()) {
            return P::failure("invalid member " + quoted(member) + " in " + quoted(v) +
                              ", expected feature=(allowlist), e.g. camera=() or "
                              "geolocation=(self \"https://maps.example\")");
        }
    }
    if (in_string || depth != 0) return P::failure("unbalanced quotes or parentheses in " + quoted(v));
    return std::string(v);
}

Parsed<UpstreamMode> parse_upstream_mode(std::string_view v) {
    if (v == "replace") return UpstreamMode::Replace;
    if (v == "keep") return UpstreamMode::Keep;
    return Parsed<UpstreamMode>::failure("invalid value " + quoted(v) + ", expected keep or replace");
}

}  // namespace levqor::headers
