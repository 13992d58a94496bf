// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/cost/usage.h"

#include <optional>

#include <nlohmann/json.hpp>

#include "levqor/controld/core/json.h"
#include "levqor/controld/cost/amount.h"

namespace levqor::controld::cost {
namespace {

using nlohmann::json;

const char* const kUsageShape = "send {\"connector\":\"<name>\",\"usd\":0.0123}";

// Finds the text of the top-level "usd" value when it is a number, through
// nlohmann's SAX interface, which hands number_float its text: the amount is
// then read exactly, never through a double.
class UsdNumberText final : public nlohmann::json_sax<json> {
public:
    std::optional<std::string> text;

    bool null() override { return value(); }
    bool boolean(bool) override { return value(); }
    bool number_integer(number_integer_t v) override { return number(std::to_string(v)); }
    bool number_unsigned(number_unsigned_t v) override { return number(std::to_string(v)); }
    bool number_float(number_float_t, const string_t& s) override { return number(s); }
    bool string(string_t&) override { return value(); }
    bool binary(binary_t&) override { return value(); }
    bool start_object(std::size_t) override {
        ++depth_;
        usd_key_ = false;
        return true;
    }
    bool key(string_t& k) override {
        usd_key_ = depth_ == 1 && k == "usd";
        return true;
    }
    bool end_object() override {
        --depth_;
        usd_key_ = false;
        return true;
    }
    bool start_array(std::size_t) override {
        ++depth_;
        usd_key_ = false;
        return true;
    }
    bool end_array() override {
        --depth_;
        return true;
    }
    bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override { return false; }

private:
    bool value() {
        usd_key_ = false;
        return true;
    }
    bool number(std::string s) {
        if (usd_key_) text = std::move(s);
        usd_key_ = false;
        return true;
    }
    int depth_ = 0;
    bool usd_key_ = false;
};

[[noreturn]] void refuse(const std::string& message) { throw UsageError("invalid_usage", message); }

}  // namespace

Usage parse_usage(std::string_view body) {
    json doc;
    try {
        doc = parse_json(body, JsonLimits{kMaxUsageBodyBytes, 4});
    } catch (const JsonError& e) {
        throw UsageError("invalid_json", std::string("the body is refused: ") + e.what() + "; " + kUsageShape);
    }
    if (!doc.is_object())
        throw UsageError("invalid_json", std::string("the body is not a JSON object; ") + kUsageShape);
    for (const auto& [name, value] : doc.items()) {
        if (name != "connector" && name != "usd")
            refuse("unknown field \"" + name.substr(0, 64) + "\"; " + kUsageShape);
    }
    const auto connector = doc.find("connector");
    if (connector == doc.end() || !connector->is_string())
        refuse(std::string("connector: expected a string; ") + kUsageShape);
    Usage usage;
    usage.connector = connector->get<std::string>();
    if (!valid_connector_name(usage.connector)) {
        refuse("connector: expected " + std::string(levqor::cost::kConnectorRule));
    }
    const auto usd = doc.find("usd");
    if (usd == doc.end()) refuse(std::string("usd: missing; ") + kUsageShape);
    std::string text;
    if (usd->is_string()) {
        text = usd->get<std::string>();
    } else if (usd->is_number()) {
        UsdNumberText sax;
        json::sax_parse(body.begin(), body.end(), &sax);
        if (!sax.text) refuse("usd: cannot read the number");
        text = *sax.text;
    } else {
        refuse("usd: expected a number or a decimal string such as \"0.0123\"");
    }
    const auto nanos = parse_usd_nanos(text, kMaxUsageNanos);
    if (!nanos) {
        refuse("usd: " + (text.size() > 64 ? text.substr(0, 60) + "..." : text) + " is refused: " + nanos.error() +
               " (expected 0 to 1000000 USD, exact to 1e-9)");
    }
    usage.nanos = nanos.value();
    return usage;
}

}  // namespace levqor::controld::cost
