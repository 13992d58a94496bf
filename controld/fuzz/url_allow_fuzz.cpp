// libFuzzer target for the http-job URL allow-list (queue::normalize_url and
// url_allowed): a producer chooses the URL, the operator the prefixes.
// A thin file on purpose: when the allow-list moves to another function,
// only the two calls below change.
//
// Input: the URL on the first line, allow-list prefixes on the next ones.
// Invariants: normalisation is idempotent; a URL is allowed only when its
// normal form starts with a prefix's normal form; a normal form never holds
// a dot segment or a backslash in its path.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "levqor/controld/queue/executor.h"

namespace q = levqor::controld::queue;

namespace {

std::vector<std::string> lines(std::string_view text) {
    std::vector<std::string> out;
    while (!text.empty() && out.size() < 8) {
        const auto nl = text.find('\n');
        out.emplace_back(text.substr(0, nl));
        text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    }
    return out;
}

bool normalizes(const std::string& url, std::string& out) {
    try {
        out = q::normalize_url(url);
        return true;
    } catch (const std::invalid_argument&) {
        return false;
    }
}

void check(bool ok) {
    if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto input = lines(std::string_view(reinterpret_cast<const char*>(data), size));
    if (input.empty()) return 0;
    const std::string url = input.front();
    const std::vector<std::string> prefixes(input.begin() + 1, input.end());

    std::string normal;
    const bool ok = normalizes(url, normal);
    if (ok) {
        std::string twice;
        check(normalizes(normal, twice) && twice == normal);
        const auto rest = normal.substr(normal.find("://") + 3);
        const auto slash = rest.find('/');
        check(slash != std::string::npos);
        const auto path = rest.substr(slash, rest.find('?', slash) - slash);
        check(path.find("/../") == std::string::npos && path.find("/./") == std::string::npos &&
              path.find('\\') == std::string::npos);
    }
    if (!q::url_allowed(url, prefixes)) return 0;
    check(ok);
    bool matched = false;
    for (const auto& prefix : prefixes) {
        std::string p;
        if (normalizes(prefix, p) && normal.rfind(p, 0) == 0) matched = true;
    }
    check(matched);
    return 0;
}
