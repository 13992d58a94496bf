// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/abuse/email.h"

#include <algorithm>
#include <array>

#include "levqor/controld/abuse/types.h"

namespace levqor::controld::abuse {
namespace {

[[noreturn]] void bad_email(const std::string& why) { throw InvalidInput("email", "email is invalid: " + why); }

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'; }

bool is_control(unsigned char c) { return c < 0x20 || c == 0x7f; }

constexpr std::array<std::string_view, 13> kPlusTagDomains = {
    "outlook.com",  "hotmail.com", "live.com",  "msn.com",        "icloud.com",    "me.com", "mac.com",
    "fastmail.com", "fastmail.fm", "proton.me", "protonmail.com", "protonmail.ch", "pm.me",
};

bool has(const std::array<std::string_view, 13>& list, std::string_view domain) {
    return std::find(list.begin(), list.end(), domain) != list.end();
}

void check_domain(const std::string& domain) {
    if (domain.empty()) bad_email("the domain is empty");
    if (domain.size() > kMaxDomain) bad_email("the domain is longer than 253 bytes");
    std::size_t label = 0;
    for (std::size_t i = 0; i <= domain.size(); ++i) {
        if (i == domain.size() || domain[i] == '.') {
            if (label == 0) bad_email("the domain has an empty label");
            if (label > 63) bad_email("a domain label is longer than 63 bytes");
            if (domain[i - 1] == '-' || domain[i - label] == '-') bad_email("a domain label starts or ends with '-'");
            label = 0;
            continue;
        }
        const char c = domain[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
            bad_email("the domain may contain only letters, digits, '-' and '.' (IDN in its xn-- form)");
        }
        ++label;
    }
}

std::string cut_at(const std::string& local, char tag) { return local.substr(0, local.find(tag)); }

}  // namespace

std::string normalize_email(std::string_view email) {
    if (email.size() > kMaxEmailInput) bad_email("longer than 1024 bytes");
    while (!email.empty() && is_space(email.front())) email.remove_prefix(1);
    while (!email.empty() && is_space(email.back())) email.remove_suffix(1);
    if (email.empty()) bad_email("empty");

    std::string text(email);
    for (char& c : text) {
        const auto u = static_cast<unsigned char>(c);
        if (is_control(u) || is_space(c)) bad_email("it contains whitespace or a control character");
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    const auto at = text.find('@');
    if (at == std::string::npos) bad_email("no '@'");
    if (text.find('@', at + 1) != std::string::npos) bad_email("more than one '@'");
    std::string local = text.substr(0, at);
    std::string domain = text.substr(at + 1);
    if (!domain.empty() && domain.back() == '.') domain.pop_back();
    if (local.empty()) bad_email("the local part is empty");
    if (local.size() > kMaxLocalPart) bad_email("the local part is longer than 64 bytes");
    check_domain(domain);

    if (domain == "gmail.com" || domain == "googlemail.com") {
        domain = "gmail.com";
        local = cut_at(local, '+');
        local.erase(std::remove(local.begin(), local.end(), '.'), local.end());
    } else if (has(kPlusTagDomains, domain)) {
        local = cut_at(local, '+');
    } else if (domain == "yahoo.com") {
        local = cut_at(local, '-');
    }
    if (local.empty()) bad_email("the local part is empty once normalized");
    return local + "@" + domain;
}

}  // namespace levqor::controld::abuse
