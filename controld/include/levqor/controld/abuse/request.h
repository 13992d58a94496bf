// SPDX-License-Identifier: Apache-2.0
// The input side of the four abuse routes: a POST body or the GET form's
// headers -> DeviceRequest / SignupRequest (types.h). Every field is checked
// (present, a string, at most kMaxFieldBytes, no control characters), the IP
// resolved to its network, the email normalized, the deny-lists matched on
// the normalized email and the raw device string, and only then are account,
// device and email turned into keyed digests: nothing raw leaves this file.
// A RequestParser only reads what it was built from (which must outlive it;
// InputSide in inputs.h owns them all): thread-safe.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "levqor/controld/abuse/deny_list.h"
#include "levqor/controld/abuse/digest.h"
#include "levqor/controld/abuse/network.h"
#include "levqor/controld/abuse/types.h"

namespace levqor::controld::abuse {

// A string field or header value, in bytes.
inline constexpr std::size_t kMaxFieldBytes = 1024;
// A POST body (four fields of at most 1 KB each, with their JSON).
inline constexpr std::size_t kMaxAbuseBody = 8192;

// The GET forms' headers.
inline constexpr const char* kAccountHeader = "X-Levqor-Account";
inline constexpr const char* kPlanHeader = "X-Levqor-Plan";
inline constexpr const char* kDeviceHeader = "X-Levqor-Device";
inline constexpr const char* kIpHeader = "X-Real-IP";
inline constexpr const char* kEmailHeader = "X-Levqor-Email";
inline constexpr const char* kReferrerHeader = "X-Levqor-Referrer";

// Every value of a request header (case-insensitive name), in order; empty
// when absent. routes.cpp adapts httplib::Request to it.
using HeaderLookup = std::function<std::vector<std::string>(const std::string& name)>;

// A deny-list that matched: the reason for the Decision and the pattern's
// index (safe to log: it names the config, not the input).
struct DenyMatch {
    std::string reason;  // "email_denied" or "device_denied"
    std::size_t pattern = 0;
};

struct ParsedDevice {
    DeviceRequest request;
    std::optional<DenyMatch> denied;
};

struct ParsedSignup {
    SignupRequest request;
    std::optional<DenyMatch> denied;
};

// What a bad request is refused with: InvalidInput whose field() is the JSON
// field ("account", "plan", "device", "ip", "email", "referrer"; "body" for
// a body that is not a bounded JSON object; an unknown field's own name) or,
// for the GET forms, the header's name ("X-Real-IP"). Messages never contain
// the value. A deny pattern stopped by PCRE2's limits throws DenyMatchError.
class RequestParser {
public:
    RequestParser(const NetworkResolver& networks, const Digester& digests, const DenyList& email_deny,
                  const DenyList& device_deny);

    // {"account","plan","device","ip"}: all four required strings.
    ParsedDevice device_from_json(std::string_view body) const;
    // X-Levqor-Account, X-Levqor-Plan, X-Levqor-Device, X-Real-IP: each
    // exactly once.
    ParsedDevice device_from_headers(const HeaderLookup& headers) const;

    // {"email","ip","referrer"}: email and ip required; referrer optional
    // (absent, null or "" is no referral).
    ParsedSignup signup_from_json(std::string_view body) const;
    // X-Levqor-Email and X-Real-IP exactly once, X-Levqor-Referrer at most once.
    ParsedSignup signup_from_headers(const HeaderLookup& headers) const;

private:
    struct DeviceFields;
    struct SignupFields;
    ParsedDevice device(const DeviceFields& fields) const;
    ParsedSignup signup(const SignupFields& fields) const;

    const NetworkResolver& networks_;
    const Digester& digests_;
    const DenyList& email_deny_;
    const DenyList& device_deny_;
};

}  // namespace levqor::controld::abuse
