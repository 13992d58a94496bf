// SPDX-License-Identifier: Apache-2.0
#include "levqor/url_credentials.h"

#include <algorithm>
#include <cctype>

namespace levqor {
namespace {

constexpr std::string_view kMask = "***";

// Masks the credentials of the URL whose "://" ends at `start` and that
// runs to `end`; returns where the text after the mask starts.
std::size_t mask_between(std::string& text, std::size_t start, std::size_t end) {
    const auto at = end > start ? text.rfind('@', end - 1) : std::string::npos;
    if (at == std::string::npos || at <= start) return start;
    text.replace(start, at - start, kMask);
    return start + kMask.size();
}

// Where the URL whose scheme ends with the "://" at `sep` begins.
std::size_t scheme_start(const std::string& text, std::size_t sep, std::size_t floor) {
    auto p = sep;
    while (p > floor && (std::isalnum(static_cast<unsigned char>(text[p - 1])) || text[p - 1] == '+' ||
                         text[p - 1] == '-' || text[p - 1] == '.')) {
        --p;
    }
    return p;
}

}  // namespace

std::string mask_url(std::string_view url) {
    std::string out(url);
    const auto sep = out.find("://");
    if (sep != std::string::npos) mask_between(out, sep + 3, out.size());
    return out;
}

std::string mask_url_credentials(std::string_view text) {
    std::string out(text);
    for (auto sep = out.find("://"); sep != std::string::npos;) {
        const auto start = sep + 3;
        const auto next = out.find("://", start);
        const auto end = std::min(std::min(out.find_first_of("\"'\r\n", start), out.size()),
                                  next == std::string::npos ? out.size() : scheme_start(out, next, start));
        const auto resume = mask_between(out, start, end);
        sep = out.find("://", resume);
    }
    return out;
}

}  // namespace levqor
