// SPDX-License-Identifier: Apache-2.0
// Abuse controls (issue 15): the values the input side hands the decision engine.
// Only keyed digests and network keys: never a raw email, device string or IP.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>

namespace levqor::controld::abuse {

// A request field that is missing or malformed (the route's 400 names `field`).
class InvalidInput : public std::invalid_argument {
public:
    InvalidInput(std::string field, const std::string& message)
        : std::invalid_argument(message), field_(std::move(field)) {}
    const std::string& field() const { return field_; }

private:
    std::string field_;
};

// The network an IP belongs to: "AS15169" (kind "asn") or "198.51.100.0/24",
// "2001:db8:1::/48" (kind "prefix") when there is no ASN database or no entry.
struct Network {
    std::string key;
    std::string kind;
};

// POST/GET /abuse/device, after the input side: digests are lowercase hex HMAC-SHA256.
struct DeviceRequest {
    std::string account_digest;
    std::string plan;
    std::string device_digest;
    Network network;
};

// POST/GET /abuse/signup, after the input side.
struct SignupRequest {
    std::string email_digest;
    Network network;
    bool referral = false;  // referrer non-empty
};

struct Decision {
    bool allow = true;
    std::string reason;         // "ok", "device_changes_exceeded", "referral_signups_exceeded", "email_denied", ...
    long count = 0;             // changes_24h or signups_today, after this request
    std::optional<long> limit;  // none: unlimited plan
};

}  // namespace levqor::controld::abuse
