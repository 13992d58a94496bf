// SPDX-License-Identifier: Apache-2.0
// The names of the security headers the module sends (levqor_headers), which
// `levqorctl verify` (controld) checks on a live nginx: one list both sides
// use. Header-only constants.
#pragma once

#include <array>
#include <string_view>

namespace levqor::headers::names {

inline constexpr std::string_view kCsp = "Content-Security-Policy";
inline constexpr std::string_view kCspReportOnly = "Content-Security-Policy-Report-Only";
inline constexpr std::string_view kHsts = "Strict-Transport-Security";
inline constexpr std::string_view kFrame = "X-Frame-Options";
inline constexpr std::string_view kNosniff = "X-Content-Type-Options";
inline constexpr std::string_view kReferrer = "Referrer-Policy";
inline constexpr std::string_view kPermissions = "Permissions-Policy";
inline constexpr std::string_view kCoop = "Cross-Origin-Opener-Policy";
inline constexpr std::string_view kCorp = "Cross-Origin-Resource-Policy";
inline constexpr std::string_view kCoopReportOnly = "Cross-Origin-Opener-Policy-Report-Only";

// Every header levqor may send (any profile, any override).
inline constexpr std::array<std::string_view, 10> kManaged{kCsp,      kCspReportOnly, kHsts, kFrame,          kNosniff,
                                                           kReferrer, kPermissions,   kCoop, kCoopReportOnly, kCorp};
// What SECURITY_HEADERS_ENABLED=shadow still sends: the report-only forms.
inline constexpr std::array<std::string_view, 2> kReportOnly{kCspReportOnly, kCoopReportOnly};

}  // namespace levqor::headers::names
