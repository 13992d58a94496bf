// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for the http-job URL allow-list (core/job_url.h): a
// producer chooses the URL, the operator the prefixes.
//
// Input: the URL on the first line, allow-list prefixes on the next ones.
// Invariants: normalisation only throws std::invalid_argument and is
// idempotent; a normal form has a lower-case host, a port, and no ';',
// encoded slash, backslash or dot, nor dot segment in its path; a URL is
// allowed only when a prefix's normal form has the same origin and its path
// is a prefix of the URL's on a segment boundary.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "levqor/controld/core/job_url.h"

namespace cd = levqor::controld;

namespace {

void check(bool ok) {
    if (!ok) std::abort();
}

std::vector<std::string> lines(std::string_view text) {
    std::vector<std::string> out;
    while (!text.empty() && out.size() < 8) {
        const auto nl = text.find('\n');
        out.emplace_back(text.substr(0, nl));
        text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    }
    return out;
}

template <typename Normalize>
std::optional<cd::JobUrl> normal(const std::string& text, Normalize&& normalize) {
    try {
        return normalize(text);
    } catch (const std::invalid_argument&) {
        return std::nullopt;
    }
}

std::string lower(std::string s) {
    for (auto& c : s) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    return s;
}

void check_normal_form(const cd::JobUrl& u) {
    check(u.scheme == "http" || u.scheme == "https");
    check(!u.host.empty() && lower(u.host) == u.host && u.port != 0);
    check(!u.path.empty() && u.path.front() == '/');
    const auto path = lower(u.path);
    for (const char* bad : {";", "\\", "%2f", "%5c", "%2e", "/./", "/../"}) check(path.find(bad) == std::string::npos);
    check(path.size() < 2 || path.compare(path.size() - 2, 2, "/.") != 0);
    check(path.size() < 3 || path.compare(path.size() - 3, 3, "/..") != 0);
}

bool on_boundary(const cd::JobUrl& u, const cd::JobUrl& p) {
    if (u.scheme != p.scheme || u.host != p.host || u.port != p.port) return false;
    if (u.path.compare(0, p.path.size(), p.path) != 0) return false;
    return p.path.back() == '/' || u.path.size() == p.path.size() || u.path[p.path.size()] == '/';
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto input = lines(std::string_view(reinterpret_cast<const char*>(data), size));
    if (input.empty()) return 0;
    const std::vector<std::string> prefixes(input.begin() + 1, input.end());

    const auto url = normal(input.front(), cd::normalize_job_url);
    if (url) {
        check_normal_form(*url);
        const auto again = normal(url->to_string(), cd::normalize_job_url);
        check(again && again->to_string() == url->to_string());
    }
    bool some_prefix_allows = false;
    for (const auto& text : prefixes) {
        const auto prefix = normal(text, cd::normalize_job_url_prefix);
        if (!prefix) continue;
        check_normal_form(*prefix);
        check(prefix->query.empty());
        if (url && cd::job_url_allowed(*url, *prefix)) {
            check(on_boundary(*url, *prefix));
            some_prefix_allows = true;
        }
    }
    check(cd::url_allowed(input.front(), prefixes) == some_prefix_allows);
    return 0;
}
