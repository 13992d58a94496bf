#include "levqor/controld/tracking/scrubber.h"

#include <algorithm>
#include <cctype>

#include "levqor/controld/core/text.h"
#include "levqor/controld/core/urls.h"

namespace levqor::controld::tracking {
namespace {

constexpr std::string_view kFiltered = "[Filtered]";
constexpr std::size_t kMinSecretLength = 4;

void replace_all(std::string& text, std::string_view needle, std::string_view with) {
  if (needle.empty()) return;
  for (auto pos = text.find(needle); pos != std::string::npos;
       pos = text.find(needle, pos + with.size())) {
    text.replace(pos, needle.size(), with);
  }
}

bool word_char(char c) { return c > 0x20 && c < 0x7f && c != '"' && c != '\''; }

}  // namespace

Scrubber::Scrubber(std::vector<std::string> secrets, TokenCheck is_token)
    : is_token_(std::move(is_token)) {
  for (auto& secret : secrets) {
    if (secret.size() >= kMinSecretLength) secrets_.push_back(std::move(secret));
  }
  // Longest first, so a secret containing another is replaced whole.
  std::sort(secrets_.begin(), secrets_.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
}

bool Scrubber::sensitive_key(std::string_view key) {
  const auto k = to_lower(key);
  for (std::string_view marker : {"token", "authorization", "password", "passwd", "secret", "dsn",
                                  "cookie", "api_key", "apikey", "credential"}) {
    if (k.find(marker) != std::string::npos) return true;
  }
  return false;
}

std::string Scrubber::scrub(std::string_view text) const {
  std::string out(text);
  for (const auto& secret : secrets_) replace_all(out, secret, kFiltered);

  // Bearer credentials, whatever they are.
  for (auto pos = to_lower(out).find("bearer "); pos != std::string::npos;
       pos = to_lower(out).find("bearer ", pos + 7 + kFiltered.size())) {
    auto end = pos + 7;
    while (end < out.size() && word_char(out[end])) ++end;
    out.replace(pos + 7, end - (pos + 7), kFiltered);
  }

  out = redact_url_credentials(out);

  // Any word that is a configured token.
  if (is_token_) {
    for (std::size_t start = 0; start < out.size();) {
      while (start < out.size() && !word_char(out[start])) ++start;
      auto end = start;
      while (end < out.size() && word_char(out[end])) ++end;
      if (end - start >= 16 && is_token_(std::string_view(out).substr(start, end - start))) {
        out.replace(start, end - start, kFiltered);
        end = start + kFiltered.size();
      }
      start = end;
    }
  }
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
