// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for the abuse routes' inputs (abuse::RequestParser): the
// POST bodies of /abuse/device and /abuse/signup and their GET header forms,
// through the email normalizer, the IP parser and ASN lookup (MaxMind's test
// database), the deny-lists and the keyed digests.
//
// The first byte picks the form; for the header forms the rest is split at
// '\n' into the header values in order (a missing value is a missing header).
// Invariants: an input is accepted or refused with InvalidInput naming a
// field (a 400); any other exception would be a 500. An accepted request has
// 64-hex digests, a network of kind "asn" ("AS<n>") or "prefix" ("/24" or
// "/48"), and a deny match only with its list's reason. A normalized email is
// a fixed point of the normalizer.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "levqor/controld/abuse/email.h"
#include "levqor/controld/abuse/request.h"

namespace abuse = levqor::controld::abuse;

namespace {

void check(bool ok) {
    if (!ok) std::abort();
}

bool hex64(const std::string& s) {
    return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

void check_network(const abuse::Network& n) {
    if (n.kind == "asn") {
        check(n.key.size() > 2 && n.key.compare(0, 2, "AS") == 0);
    } else {
        check(n.kind == "prefix");
        const auto slash = n.key.rfind('/');
        check(slash != std::string::npos);
        const auto bits = n.key.substr(slash + 1);
        check(bits == "24" || bits == "48");
    }
}

struct Inputs {
    abuse::NetworkResolver networks{std::string(LEVQOR_CONTROLD_TEST_DATA) + "/GeoLite2-ASN-Test.mmdb"};
    abuse::Digester digests{"fuzz-pepper-0123456789abcdef0123456789"};
    abuse::DenyList email_deny{"abuse.email_deny_patterns", {R"(@mailinator\.com$)", "^a+b"}};
    abuse::DenyList device_deny{"abuse.device_deny_patterns", {"Headless", "(?i)bot"}};
    abuse::RequestParser parser{networks, digests, email_deny, device_deny};
};

abuse::HeaderLookup split_headers(std::string_view rest, const std::vector<const char*>& names) {
    std::map<std::string, std::vector<std::string>> values;
    std::size_t i = 0;
    while (i < names.size() && !rest.empty()) {
        const auto nl = rest.find('\n');
        values[names[i]].emplace_back(rest.substr(0, nl));
        rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
        ++i;
    }
    return [values = std::move(values)](const std::string& name) {
        const auto it = values.find(name);
        return it == values.end() ? std::vector<std::string>() : it->second;
    };
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const Inputs inputs;
    if (size == 0) return 0;
    const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
    try {
        switch (data[0] % 5) {
            case 0:
            case 2: {
                const auto parsed = data[0] % 5 == 0 ? inputs.parser.device_from_json(rest)
                                                     : inputs.parser.device_from_headers(split_headers(
                                                           rest, {abuse::kAccountHeader, abuse::kPlanHeader,
                                                                  abuse::kDeviceHeader, abuse::kIpHeader}));
                check(hex64(parsed.request.account_digest) && hex64(parsed.request.device_digest));
                check(!parsed.request.plan.empty());
                check_network(parsed.request.network);
                check(!parsed.denied || parsed.denied->reason == "device_denied");
                break;
            }
            case 1:
            case 3: {
                const auto parsed = data[0] % 5 == 1
                                        ? inputs.parser.signup_from_json(rest)
                                        : inputs.parser.signup_from_headers(split_headers(
                                              rest, {abuse::kEmailHeader, abuse::kIpHeader, abuse::kReferrerHeader}));
                check(hex64(parsed.request.email_digest));
                check_network(parsed.request.network);
                check(!parsed.denied || parsed.denied->reason == "email_denied");
                break;
            }
            default: {
                const auto email = abuse::normalize_email(rest);
                check(!email.empty() && email.size() <= abuse::kMaxEmailInput);
                check(abuse::normalize_email(email) == email);
                break;
            }
        }
    } catch (const abuse::InvalidInput& e) {
        check(!e.field().empty());
    }
    return 0;
}
