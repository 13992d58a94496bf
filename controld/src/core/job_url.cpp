// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/core/job_url.h"

#include <curl/curl.h>

#include <memory>
#include <stdexcept>

#include "levqor/controld/core/text.h"

namespace levqor::controld {
namespace {

[[noreturn]] void refuse(const std::string& why) { throw std::invalid_argument(why); }

struct UrlDeleter {
    void operator()(CURLU* url) const { curl_url_cleanup(url); }
};
using UrlHandle = std::unique_ptr<CURLU, UrlDeleter>;

// One part of a parsed URL; "" when absent.
std::string part(CURLU* url, CURLUPart which, unsigned flags = 0) {
    char* value = nullptr;
    if (curl_url_get(url, which, &value, flags) != CURLUE_OK || value == nullptr) return "";
    std::string out(value);
    curl_free(value);
    return out;
}

constexpr std::string_view kSchemeCharacters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.";

// What is refused before the text reaches the parser.
void check_characters(std::string_view url) {
    for (unsigned char c : url) {
        if (c <= 0x20 || c >= 0x7f) {
            refuse("contains whitespace, control or non-ASCII characters (percent-encode them)");
        }
    }
    if (url.find('\\') != std::string_view::npos) refuse("contains a backslash");
    if (url.find('#') != std::string_view::npos) refuse("fragments are not allowed");
    // The first "://" must end the scheme: libcurl also reads "https:/host"
    // (one slash), and a later "://" would make these checks read another part.
    const auto scheme_end = url.find("://");
    if (scheme_end == std::string_view::npos || scheme_end == 0 ||
        url.substr(0, scheme_end).find_first_not_of(kSchemeCharacters) != std::string_view::npos) {
        refuse("expected http://host/... or https://host/...");
    }
    // libcurl reads "http:///x" as host x; no host is no host.
    const auto authority = url.substr(scheme_end + 3, 1);
    if (authority.empty() || authority == "/" || authority == "?") refuse("missing host");
}

// "host[:port]" as written (with any userinfo), between "://" and the path or query.
std::string_view authority(std::string_view url) {
    const auto start = url.find("://") + 3;
    return url.substr(start, url.find_first_of("/?", start) - start);
}

void check_path(const std::string& path) {
    if (path.find(';') != std::string::npos) {
        refuse("';' in the path is not allowed (servers such as Tomcat read \"/..;/\" as \"/../\")");
    }
    const auto lower = to_lower(path);
    if (lower.find("%2f") != std::string::npos || lower.find("%5c") != std::string::npos) {
        refuse("encoded slashes or backslashes (%2f, %5c) in the path are not allowed");
    }
    if (lower.find("%2e") != std::string::npos) {
        refuse("encoded dots (%2e) in the path are not allowed");
    }
    for (std::size_t start = 1; start <= path.size();) {
        auto end = path.find('/', start);
        if (end == std::string::npos) end = path.size();
        const auto segment = std::string_view(path).substr(start, end - start);
        if (segment == "." || segment == "..") {
            refuse("dot segments (/./, /../) in the path are not allowed");
        }
        start = end + 1;
    }
}

}  // namespace

std::string JobUrl::to_string() const {
    return scheme + "://" + host + ":" + std::to_string(port) + path + (query.empty() ? "" : "?" + query);
}

JobUrl normalize_job_url(std::string_view text) {
    check_characters(text);
    UrlHandle url(curl_url());
    if (!url) throw std::runtime_error("curl_url: out of memory");
    const std::string copy(text);
    // PATH_AS_IS: libcurl would resolve dot segments; they are refused instead.
    const auto rc = curl_url_set(url.get(), CURLUPART_URL, copy.c_str(), CURLU_PATH_AS_IS);
    if (rc != CURLUE_OK) refuse(curl_url_strerror(rc));
    JobUrl out;
    out.scheme = to_lower(part(url.get(), CURLUPART_SCHEME));
    if (out.scheme != "http" && out.scheme != "https") refuse("the scheme must be http or https");
    if (!part(url.get(), CURLUPART_USER).empty() || !part(url.get(), CURLUPART_PASSWORD).empty() ||
        !part(url.get(), CURLUPART_OPTIONS).empty() || authority(text).find('@') != std::string_view::npos) {
        refuse("credentials (user:password@) in the URL are not allowed");
    }
    if (!part(url.get(), CURLUPART_ZONEID).empty()) refuse("IPv6 zone ids are not allowed");
    // libcurl decodes a percent-encoded host after it has put IPv4 forms in
    // dotted decimal: "1%2e4" would stay "1.4" (the address 1.0.0.4).
    if (authority(text).find('%') != std::string_view::npos) {
        refuse("percent-encoded host names are not allowed");
    }
    out.host = to_lower(part(url.get(), CURLUPART_HOST));
    if (out.host.empty()) refuse("missing host");
    const auto port = part(url.get(), CURLUPART_PORT, CURLU_DEFAULT_PORT);
    if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
        std::stoul(port) == 0 || std::stoul(port) > 65535) {
        refuse("the port must be a number from 1 to 65535");
    }
    out.port = static_cast<std::uint16_t>(std::stoul(port));
    out.path = part(url.get(), CURLUPART_PATH);
    if (out.path.empty() || out.path.front() != '/') out.path.insert(out.path.begin(), '/');
    check_path(out.path);
    out.query = part(url.get(), CURLUPART_QUERY);
    return out;
}

JobUrl normalize_job_url_prefix(std::string_view prefix) {
    auto out = normalize_job_url(prefix);
    if (!out.query.empty() || prefix.find('?') != std::string_view::npos) {
        refuse("an allow-list prefix has no query");
    }
    return out;
}

bool job_url_allowed(const JobUrl& url, const JobUrl& prefix) {
    if (url.scheme != prefix.scheme || url.host != prefix.host || url.port != prefix.port) {
        return false;
    }
    const auto& p = prefix.path;
    if (p.back() == '/') return url.path.compare(0, p.size(), p) == 0;
    return url.path == p ||
           (url.path.size() > p.size() && url.path.compare(0, p.size(), p) == 0 && url.path[p.size()] == '/');
}

bool url_allowed(std::string_view url, const std::vector<std::string>& prefixes) {
    JobUrl normalized;
    try {
        normalized = normalize_job_url(url);
    } catch (const std::invalid_argument&) {
        return false;
    }
    for (const auto& prefix : prefixes) {
        try {
            if (job_url_allowed(normalized, normalize_job_url_prefix(prefix))) return true;
        } catch (const std::invalid_argument&) {}
    }
    return false;
}

}  // namespace levqor::controld
