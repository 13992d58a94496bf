// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/tracking/scrubber.h"

#include <algorithm>
#include <cctype>
#include <optional>
#include <utility>

#include "levqor/controld/core/text.h"
#include "levqor/url_credentials.h"

namespace levqor::controld::tracking {
namespace {

constexpr std::string_view kFiltered = "[Filtered]";
constexpr std::size_t kMinSecretLength = 4;

void replace_all(std::string& text, std::string_view needle, std::string_view with) {
    if (needle.empty()) return;
    for (auto pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + with.size())) {
        text.replace(pos, needle.size(), with);
    }
}

bool printable(char c) { return c > 0x20 && c < 0x7f; }
// Where a token may start or end inside a run of printable characters: a
// quote, or what usually surrounds a value (x=..., (...), [...], a, b).
bool cut(char c) { return std::string_view("\"'=:,;()[]{}<>").find(c) != std::string_view::npos; }

// A token may contain any printable ASCII but space, quotes and these
// delimiters included, and a message may quote it: within a run of printable
// characters, every stretch that starts at the run's start or just after a
// cut character and ends at the run's end or just before one is a candidate.
// Bounded: the first kMaxCuts cut characters of a run are used.
constexpr std::size_t kMaxCuts = 16;
constexpr std::size_t kMinTokenLength = 16;
constexpr std::size_t kMaxTokenLength = 4096;

// [start, end) of a stretch of `run` that is a token, if any.
template <typename IsToken>
std::optional<std::pair<std::size_t, std::size_t>> token_in(std::string_view run, const IsToken& is_token) {
    std::vector<std::size_t> starts{0};
    std::vector<std::size_t> ends{run.size()};
    for (std::size_t i = 0; i < run.size() && starts.size() <= kMaxCuts; ++i) {
        if (!cut(run[i])) continue;
        starts.push_back(i + 1);
        ends.push_back(i);
    }
    for (const auto start : starts) {
        for (const auto end : ends) {
            if (end <= start || end - start < kMinTokenLength || end - start > kMaxTokenLength) continue;
            if (is_token(run.substr(start, end - start))) return std::make_pair(start, end);
        }
    }
    return std::nullopt;
}

// "password=secret", "password = 'se cret'" (libpq), "?password=x&" (URLs):
// the value, quoted or up to the next space or '&', whatever the keyword's case.
void redact_password_values(std::string& text) {
    constexpr std::string_view kKey = "password";
    std::string out;
    std::size_t copied = 0;
    std::size_t from = 0;
    const auto lower = to_lower(text);
    for (auto pos = lower.find(kKey); pos != std::string::npos; pos = lower.find(kKey, from)) {
        from = pos + kKey.size();
        auto i = from;
        while (i < text.size() && text[i] == ' ') ++i;
        if (i >= text.size() || text[i] != '=') continue;
        ++i;
        while (i < text.size() && text[i] == ' ') ++i;
        auto end = i;
        if (end < text.size() && text[end] == '\'') {
            for (++end; end < text.size() && text[end] != '\''; ++end) {
                if (text[end] == '\\') ++end;
            }
            end = std::min(end + 1, text.size());  // with the closing quote
        } else {
            while (end < text.size() && printable(text[end]) && text[end] != '&') ++end;
        }
        if (end == i) continue;
        out.append(text, copied, i - copied);
        out += kFiltered;
        copied = end;
        from = end;
    }
    if (copied == 0) return;
    out.append(text, copied, std::string::npos);
    text = std::move(out);
}

}  // namespace

Scrubber::Scrubber(std::vector<std::string> secrets, TokenCheck is_token) : is_token_(std::move(is_token)) {
    for (auto& secret : secrets) {
        if (secret.size() >= kMinSecretLength) secrets_.push_back(std::move(secret));
    }
    // Longest first, so a secret containing another is replaced whole.
    std::sort(secrets_.begin(), secrets_.end(),
              [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
}

bool Scrubber::sensitive_key(std::string_view key) {
    const auto k = to_lower(key);
    for (std::string_view marker : {"token", "authorization", "password", "passwd", "secret", "dsn", "cookie",
                                    "api_key", "apikey", "credential"}) {
        if (k.find(marker) != std::string::npos) return true;
    }
    return false;
}

std::string Scrubber::scrub(std::string_view text) const {
    std::string out(text);
    for (const auto& secret : secrets_) replace_all(out, secret, kFiltered);

    // Any configured token first: it may contain quotes, which the word
    // rules below would split.
    if (is_token_) {
        for (std::size_t start = 0; start < out.size();) {
            while (start < out.size() && !printable(out[start])) ++start;
            auto end = start;
            while (end < out.size() && printable(out[end])) ++end;
            const auto run = std::string_view(out).substr(start, end - start);
            if (const auto found = token_in(run, is_token_)) {
                out.replace(start + found->first, found->second - found->first, kFiltered);
                continue;  // the same run again: it may hold another
            }
            start = end;
        }
    }

    // Bearer credentials, whatever they are: up to the next space, quotes too.
    for (auto pos = to_lower(out).find("bearer "); pos != std::string::npos;
         pos = to_lower(out).find("bearer ", pos + 7 + kFiltered.size())) {
        auto end = pos + 7;
        while (end < out.size() && printable(out[end])) ++end;
        if (end > pos + 7) out.replace(pos + 7, end - (pos + 7), kFiltered);
    }

    out = mask_url_credentials(out);
    redact_password_values(out);
    return out;
}

void Scrubber::scrub(nlohmann::json& value) const {
    if (value.is_string()) {
        value = scrub(value.get<std::string>());
    } else if (value.is_object()) {
        for (auto& [key, item] : value.items()) {
            if (sensitive_key(key)) {
                item = std::string(kFiltered);
            } else {
                scrub(item);
            }
        }
    } else if (value.is_array()) {
        for (auto& item : value) scrub(item);
    }
}

}  // namespace levqor::controld::tracking
