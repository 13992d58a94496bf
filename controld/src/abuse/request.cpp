// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/abuse/request.h"

#include <nlohmann/json.hpp>

#include "levqor/controld/abuse/email.h"
#include "levqor/controld/abuse/settings.h"
#include "levqor/controld/core/json.h"

namespace levqor::controld::abuse {
namespace {

using nlohmann::json;

// A field's text, checked: at most kMaxFieldBytes, no control characters,
// not empty unless allowed. `field` names it in the error.
std::string checked_field(const std::string& field, std::string value, bool allow_empty = false) {
    if (value.size() > kMaxFieldBytes) {
        throw InvalidInput(field, field + " is longer than " + std::to_string(kMaxFieldBytes) + " bytes");
    }
    if (!allow_empty && value.empty()) throw InvalidInput(field, field + " is empty");
    for (const char c : value) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f) throw InvalidInput(field, field + " contains a control character");
    }
    return value;
}

json request_object(std::string_view body) {
    json doc;
    try {
        doc = parse_json(body, JsonLimits{kMaxAbuseBody});
    } catch (const JsonError& e) {
        throw InvalidInput("body", std::string("the body is refused: ") + e.what());
    }
    if (!doc.is_object()) throw InvalidInput("body", "the body must be a JSON object");
    return doc;
}

void refuse_unknown(const json& doc, std::initializer_list<const char*> known) {
    for (const auto& item : doc.items()) {
        bool ok = false;
        for (const char* k : known) ok = ok || item.key() == k;
        if (!ok) {
            // The key is outside input too: bounded before it is echoed.
            // An empty key has no name to give: the body is named instead.
            const auto name = item.key().size() <= 64 ? item.key() : item.key().substr(0, 64);
            throw InvalidInput(name.empty() ? "body" : name, "unknown field \"" + name + "\"");
        }
    }
}

std::string json_string(const json& doc, const char* field) {
    const auto found = doc.find(field);
    if (found == doc.end()) throw InvalidInput(field, std::string(field) + " is missing");
    if (!found->is_string()) throw InvalidInput(field, std::string(field) + " must be a string");
    return checked_field(field, found->get<std::string>());
}

std::optional<std::string> header(const HeaderLookup& headers, const char* name, bool required) {
    auto values = headers(name);
    if (values.empty()) {
        if (required) throw InvalidInput(name, std::string("header ") + name + " is missing");
        return std::nullopt;
    }
    if (values.size() > 1) throw InvalidInput(name, std::string("header ") + name + " is repeated");
    return checked_field(name, std::move(values.front()), !required);
}

}  // namespace

struct RequestParser::DeviceFields {
    std::string account, plan, device, ip;
    const char* account_name;
    const char* plan_name;
    const char* device_name;
    const char* ip_name;
};

struct RequestParser::SignupFields {
    std::string email, ip;
    std::optional<std::string> referrer;
    const char* email_name;
    const char* ip_name;
};

RequestParser::RequestParser(const NetworkResolver& networks, const Digester& digests, const DenyList& email_deny,
                             const DenyList& device_deny)
    : networks_(networks), digests_(digests), email_deny_(email_deny), device_deny_(device_deny) {}

ParsedDevice RequestParser::device(const DeviceFields& f) const {
    try {
        check_plan_name(f.plan);
    } catch (const std::invalid_argument& e) {
        throw InvalidInput(f.plan_name, std::string(f.plan_name) + " is invalid: " + e.what());
    }
    ParsedDevice out;
    try {
        out.request.network = networks_.resolve(f.ip);
    } catch (const InvalidInput& e) {
        throw InvalidInput(f.ip_name, e.what());
    }
    if (const auto hit = device_deny_.match(f.device)) out.denied = DenyMatch{"device_denied", *hit};
    out.request.account_digest = digests_.digest(DigestRole::account, f.account);
    out.request.plan = f.plan;
    out.request.device_digest = digests_.digest(DigestRole::device, f.device);
    return out;
}

ParsedSignup RequestParser::signup(const SignupFields& f) const {
    ParsedSignup out;
    std::string email;
    try {
        email = normalize_email(f.email);
    } catch (const InvalidInput& e) {
        throw InvalidInput(f.email_name, e.what());
    }
    try {
        out.request.network = networks_.resolve(f.ip);
    } catch (const InvalidInput& e) {
        throw InvalidInput(f.ip_name, e.what());
    }
    if (const auto hit = email_deny_.match(email)) out.denied = DenyMatch{"email_denied", *hit};
    out.request.email_digest = digests_.digest(DigestRole::email, email);
    out.request.referral = f.referrer.has_value() && !f.referrer->empty();
    return out;
}

ParsedDevice RequestParser::device_from_json(std::string_view body) const {
    const json doc = request_object(body);
    refuse_unknown(doc, {"account", "plan", "device", "ip"});
    DeviceFields f{json_string(doc, "account"),
                   json_string(doc, "plan"),
                   json_string(doc, "device"),
                   json_string(doc, "ip"),
                   "account",
                   "plan",
                   "device",
                   "ip"};
    return device(f);
}

ParsedDevice RequestParser::device_from_headers(const HeaderLookup& headers) const {
    DeviceFields f{*header(headers, kAccountHeader, true),
                   *header(headers, kPlanHeader, true),
                   *header(headers, kDeviceHeader, true),
                   *header(headers, kIpHeader, true),
                   kAccountHeader,
                   kPlanHeader,
                   kDeviceHeader,
                   kIpHeader};
    return device(f);
}

ParsedSignup RequestParser::signup_from_json(std::string_view body) const {
    const json doc = request_object(body);
    refuse_unknown(doc, {"email", "ip", "referrer"});
    SignupFields f{json_string(doc, "email"), json_string(doc, "ip"), std::nullopt, "email", "ip"};
    const auto referrer = doc.find("referrer");
    if (referrer != doc.end() && !referrer->is_null()) {
        if (!referrer->is_string()) throw InvalidInput("referrer", "referrer must be a string or null");
        f.referrer = checked_field("referrer", referrer->get<std::string>(), true);
    }
    return signup(f);
}

ParsedSignup RequestParser::signup_from_headers(const HeaderLookup& headers) const {
    SignupFields f{*header(headers, kEmailHeader, true), *header(headers, kIpHeader, true),
                   header(headers, kReferrerHeader, false), kEmailHeader, kIpHeader};
    return signup(f);
}

}  // namespace levqor::controld::abuse
