// SPDX-License-Identifier: Apache-2.0
#include "levqor/rate_plan.h"

#include <charconv>

namespace levqor::limit {
namespace {

bool parse_u64(std::string_view s, std::uint64_t& out) {
    if (s.empty()) return false;
    const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && ptr == s.data() + s.size();
}

std::string quoted(std::string_view v) { return "\"" + std::string(v) + "\""; }

bool valid_plan_name(std::string_view n) {
    if (n.empty() || n.size() > 64) return false;
    for (const char c : n) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                        c == '-' || c == '.';
        if (!ok) return false;
    }
    return true;
}

}  // namespace

std::string Rate::text() const {
    const char unit = period_s == 1 ? 's' : period_s == 60 ? 'm' : 'h';
    return std::to_string(count) + "r/" + unit;
}

Parsed<Rate> parse_rate(std::string_view text) {
    using P = Parsed<Rate>;
    const auto r = text.find("r/");
    Rate rate;
    if (r == std::string_view::npos || r + 3 != text.size()) {
        return P::failure("invalid rate " + quoted(text) + ", expected <n>r/s, <n>r/m or <n>r/h");
    }
    if (!parse_u64(text.substr(0, r), rate.count) || rate.count == 0 || rate.count > kMaxRateCount) {
        return P::failure("invalid rate " + quoted(text) + ", the count must be 1 to " + std::to_string(kMaxRateCount));
    }
    switch (text.back()) {
        case 's':
            rate.period_s = 1;
            break;
        case 'm':
            rate.period_s = 60;
            break;
        case 'h':
            rate.period_s = 3600;
            break;
        default:
            return P::failure("invalid rate " + quoted(text) + ", the unit must be s, m or h");
    }
    return rate;
}

Parsed<Plan> parse_plan(std::string_view name, const std::vector<std::string_view>& params) {
    using P = Parsed<Plan>;
    if (!valid_plan_name(name)) {
        return P::failure("invalid plan name " + quoted(name) + ", use up to 64 of [A-Za-z0-9_.-]");
    }
    Plan plan;
    plan.name = std::string(name);
    bool have_key = false, have_ip = false;
    for (const auto p : params) {
        const auto eq = p.find('=');
        const auto k = p.substr(0, eq);
        const auto v = eq == std::string_view::npos ? std::string_view() : p.substr(eq + 1);
        if (k == "key" || k == "ip") {
            bool& seen = k == "key" ? have_key : have_ip;
            if (seen) return P::failure("duplicate parameter " + quoted(p));
            auto rate = parse_rate(v);
            if (!rate) return P::failure(rate.error());
            (k == "key" ? plan.key : plan.ip) = rate.value();
            seen = true;
        } else if (k == "key_burst" || k == "ip_burst") {
            std::uint64_t& burst = k == "key_burst" ? plan.key_burst : plan.ip_burst;
            if (burst != 0) return P::failure("duplicate parameter " + quoted(p));
            if (!parse_u64(v, burst) || burst == 0 || burst > kMaxBurst) {
                return P::failure("invalid " + std::string(k) + " " + quoted(p) + ", expected 1 to " +
                                  std::to_string(kMaxBurst));
            }
        } else {
            return P::failure("invalid parameter " + quoted(p) +
                              ", expected key=<rate> ip=<rate> [key_burst=<n>] [ip_burst=<n>]");
        }
    }
    if (!have_key || !have_ip) return P::failure("plan " + quoted(name) + " needs both key=<rate> and ip=<rate>");
    if (plan.key_burst == 0) plan.key_burst = plan.key.count;
    if (plan.ip_burst == 0) plan.ip_burst = plan.ip.count;
    // interval * burst must fit in 63 bits (it is the bucket's capacity in ns).
    for (const auto& [limit, label] : {std::pair{plan.key_limit(), "key"}, std::pair{plan.ip_limit(), "ip"}}) {
        if (limit.interval_ns == 0 || limit.burst > kMaxChargeNs / limit.interval_ns) {
            return P::failure(std::string(label) + " burst too large for its rate in plan " + quoted(name));
        }
    }
    return plan;
}

std::vector<Plan> default_plans() {
    return {parse_plan("free", {"key=60r/m", "ip=30r/m"}).value(),
            parse_plan("pro", {"key=600r/m", "ip=120r/m"}).value()};
}

}  // namespace levqor::limit
