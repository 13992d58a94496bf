// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/abuse/routes.h"

#include <nlohmann/json.hpp>

#include "levqor/controld/abuse/deny_list.h"
#include "levqor/controld/api/errors.h"

namespace levqor::controld::abuse {
namespace {

constexpr const char* kReasonHeader = "X-Levqor-Abuse-Reason";

Mode current_mode(const flags::FlagStore& flags) {
    switch (flags.current().get(Flag::abuse_guards)) {
        case FlagState::off:
            return Mode::off;
        case FlagState::shadow:
            return Mode::shadow;
        case FlagState::on:
            return Mode::on;
    }
    return Mode::on;
}

HeaderLookup header_lookup(const httplib::Request& req) {
    return [&req](const std::string& name) {
        std::vector<std::string> values;
        const auto n = req.get_header_value_count(name);
        for (std::size_t i = 0; i < n; ++i) values.push_back(req.get_header_value(name, i));
        return values;
    };
}

nlohmann::ordered_json answer(const Decision& d, const char* count_key) {
    nlohmann::ordered_json out{{"decision", d.allow ? "allow" : "deny"}, {"reason", d.reason}, {count_key, d.count}};
    out["limit"] = d.limit ? nlohmann::ordered_json(*d.limit) : nlohmann::ordered_json(nullptr);
    return out;
}

// Parses with the current input side and decides; every failure becomes
// its answer. `get`: the auth_request form (204 / 403).
template <typename Parse, typename Decide>
void handle(AbuseService& service, const flags::FlagStore& flags, tracking::ErrorTracker& errors,
            httplib::Response& res, bool get, const char* count_key, Parse parse, Decide decide) {
    const auto inputs = service.inputs();
    if (!inputs) {
        api::set_error(res, 503, "abuse_unconfigured",
                       "abuse.pepper_file is not set: abuse checks are unavailable (fail closed)");
        return;
    }
    try {
        const auto parsed = parse(inputs->parser());
        const auto decision = decide(parsed, current_mode(flags), Clock::now());
        const auto body = answer(decision, count_key).dump();
        res.set_header(kReasonHeader, decision.reason);
        if (get && decision.allow) {
            res.status = 204;
            return;
        }
        api::set_json(res, get ? 403 : 200, body);  // POST: 200 either way
    } catch (const InvalidInput& e) {
        api::set_json(
            res, 400,
            nlohmann::ordered_json{{"error", "invalid_request"}, {"message", e.what()}, {"field", e.field()}}.dump());
    } catch (const DenyMatchError& e) {
        errors.capture("abuse", "a deny pattern hit PCRE2's match limits", {{"error", e.what()}});
        api::set_error(res, 503, "deny_list_error", e.what());
    } catch (const StoreError& e) {
        errors.capture("abuse", "the abuse store is unavailable", {{"error", e.what()}});
        api::set_error(res, 503, "store_unavailable", e.what());
    }
}

// One check's POST and GET routes: the parser's two forms and the service's decision.
template <typename Parsed>
void add_check(api::Router& router, const api::Guard& guard, AbuseService& service, const flags::FlagStore& flags,
               tracking::ErrorTracker& errors, const std::string& path, const char* count_key,
               Parsed (RequestParser::*from_json)(std::string_view) const,
               Parsed (RequestParser::*from_headers)(const HeaderLookup&) const,
               Decision (AbuseService::*decide)(const Parsed&, Mode, TimePoint)) {
    for (const bool get : {false, true}) {
        router.add(
            get ? api::Method::get : api::Method::post, path,
            guard.require(auth::Role::producer, [=, &service, &flags, &errors](const httplib::Request& req,
                                                                               httplib::Response& res, auth::Role) {
                handle(
                    service, flags, errors, res, get, count_key,
                    [&](const RequestParser& p) {
                        return get ? (p.*from_headers)(header_lookup(req)) : (p.*from_json)(req.body);
                    },
                    [&](const Parsed& parsed, Mode m, TimePoint now) { return (service.*decide)(parsed, m, now); });
            }));
    }
}

}  // namespace

void add_routes(api::Router& router, const api::Guard& guard, AbuseService& service, const flags::FlagStore& flags,
                tracking::ErrorTracker& errors) {
    add_check<ParsedDevice>(router, guard, service, flags, errors, "/abuse/device", "changes_24h",
                            &RequestParser::device_from_json, &RequestParser::device_from_headers,
                            &AbuseService::device);
    add_check<ParsedSignup>(router, guard, service, flags, errors, "/abuse/signup", "signups_today",
                            &RequestParser::signup_from_json, &RequestParser::signup_from_headers,
                            &AbuseService::signup);
}

}  // namespace levqor::controld::abuse
