// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/core/urls.h"

#include <algorithm>
#include <cctype>
#include <stdexcept>
#include <vector>

#include "levqor/controld/core/text.h"
#include "levqor/url_credentials.h"

namespace levqor::controld {
namespace {

[[noreturn]] void fail(const std::string& why, std::string_view example) {
    throw std::invalid_argument(why + " (expected e.g. " + std::string(example) + ")");
}

bool all_digits(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
}

// host[:port] -> host, port. Brackets stay on IPv6 hosts.
void split_host_port(std::string_view authority, std::string& host, std::uint16_t& port, bool& explicit_port,
                     std::string_view example) {
    std::string_view port_text;
    if (!authority.empty() && authority.front() == '[') {
        const auto close = authority.find(']');
        if (close == std::string_view::npos) fail("missing ']' after an IPv6 host", example);
        host = std::string(authority.substr(0, close + 1));
        auto rest = authority.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':') fail("unexpected text after ']'", example);
            port_text = rest.substr(1);
            explicit_port = true;
        }
    } else {
        const auto colon = authority.rfind(':');
        if (colon != std::string_view::npos) {
            host = std::string(authority.substr(0, colon));
            port_text = authority.substr(colon + 1);
            explicit_port = true;
        } else {
            host = std::string(authority);
        }
    }
    if (host.empty()) fail("missing host", example);
    if (host.find_first_of(" \t/?#@") != std::string::npos) fail("invalid host", example);
    if (explicit_port) {
        if (!all_digits(port_text) || port_text.size() > 5 || std::stoul(std::string(port_text)) == 0 ||
            std::stoul(std::string(port_text)) > 65535) {
            fail("port \"" + std::string(port_text) + "\" is not a number from 1 to 65535", example);
        }
        port = static_cast<std::uint16_t>(std::stoul(std::string(port_text)));
    }
}

// Splits scheme://rest; the scheme is lower-cased.
std::string split_scheme(std::string_view url, std::string_view& rest, std::string_view example) {
    const auto sep = url.find("://");
    if (sep == std::string_view::npos) fail("missing scheme", example);
    rest = url.substr(sep + 3);
    return to_lower(url.substr(0, sep));
}

}  // namespace

std::string HttpUrl::authority() const { return explicit_port ? host + ":" + std::to_string(port) : host; }

HttpUrl parse_http_url(std::string_view url) {
    constexpr std::string_view kExample = "http://127.0.0.1:8080/levqor/status";
    if (url.find_first_of(" \t\r\n") != std::string_view::npos) fail("contains whitespace", kExample);
    std::string_view rest;
    HttpUrl out;
    out.scheme = split_scheme(url, rest, kExample);
    if (out.scheme != "http" && out.scheme != "https") fail("scheme must be http or https", kExample);
    if (rest.find('#') != std::string_view::npos) fail("fragments are not allowed", kExample);
    const auto path_start = rest.find_first_of("/?");
    const auto authority = rest.substr(0, path_start);
    if (authority.find('@') != std::string_view::npos) {
        fail("credentials in the URL are not supported", kExample);
    }
    out.port = out.scheme == "https" ? 443 : 80;
    split_host_port(authority, out.host, out.port, out.explicit_port, kExample);
    out.path = path_start == std::string_view::npos ? "/" : std::string(rest.substr(path_start));
    if (out.path.front() == '?') out.path.insert(out.path.begin(), '/');
    return out;
}

std::string SentryDsn::envelope_url() const {
    return scheme + "://" + host_port + path_prefix + "/api/" + project_id + "/envelope/";
}

std::string SentryDsn::redacted() const { return scheme + "://***@" + host_port + path_prefix + "/" + project_id; }

SentryDsn parse_sentry_dsn(std::string_view dsn) {
    constexpr std::string_view kExample = "https://<key>@o0.ingest.sentry.io/<project id>";
    std::string_view rest;
    SentryDsn out;
    out.scheme = split_scheme(dsn, rest, kExample);
    if (out.scheme != "http" && out.scheme != "https") fail("scheme must be https or http", kExample);
    const auto at = rest.rfind('@');
    if (at == std::string_view::npos) fail("missing the public key before '@'", kExample);
    auto key = rest.substr(0, at);
    key = key.substr(0, key.find(':'));  // the legacy secret part is not used
    if (key.empty()) fail("empty public key", kExample);
    out.public_key = std::string(key);
    rest = rest.substr(at + 1);
    if (rest.find_first_of("?#") != std::string_view::npos) {
        fail("query strings and fragments are not allowed", kExample);
    }
    while (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
    const auto last_slash = rest.rfind('/');
    if (last_slash == std::string_view::npos) fail("missing the project id", kExample);
    const auto project = rest.substr(last_slash + 1);
    if (!all_digits(project)) fail("the project id must be a number", kExample);
    out.project_id = std::string(project);
    const auto host_and_path = rest.substr(0, last_slash);
    const auto slash = host_and_path.find('/');
    out.host_port = std::string(host_and_path.substr(0, slash));
    if (slash != std::string_view::npos) out.path_prefix = std::string(host_and_path.substr(slash));
    std::string host;
    std::uint16_t port = 0;
    bool explicit_port = false;
    split_host_port(out.host_port, host, port, explicit_port, kExample);
    return out;
}

RedisUrl redis_server_url(std::string_view url) {
    auto parsed = parse_redis_url(url);
    if (!parsed) throw std::invalid_argument(parsed.error());
    if (parsed.value().kind != RedisUrl::Kind::server) {
        throw std::invalid_argument(std::string(redis_url_scheme(parsed.value().kind)) +
                                    " URLs are not supported by levqor-controld yet; give one server "
                                    "as redis://[[user]:password@]host[:port][/db]");
    }
    return std::move(parsed).value();
}

void check_database_url(std::string_view url) {
    constexpr std::string_view kExample = "postgresql://levqor@127.0.0.1:5432/levqor";
    if (url.find("://") == std::string_view::npos) {
        if (url.find('=') == std::string_view::npos) {
            fail("neither a postgresql:// URL nor a key=value connection string", kExample);
        }
        return;
    }
    std::string_view rest;
    const auto scheme = split_scheme(url, rest, kExample);
    if (scheme != "postgres" && scheme != "postgresql") {
        fail("scheme must be postgresql or postgres", kExample);
    }
}

namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::string percent_decoded(std::string_view text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '%' && i + 2 < text.size() && hex_value(text[i + 1]) >= 0 && hex_value(text[i + 2]) >= 0) {
            out += static_cast<char>(hex_value(text[i + 1]) * 16 + hex_value(text[i + 2]));
            i += 2;
        } else {
            out += text[i];
        }
    }
    return out;
}

// The password as written and, when different, as libpq reads it.
void add_password(std::vector<std::string>& out, std::string_view written, std::string read) {
    if (written.empty()) return;
    out.emplace_back(written);
    if (read != written) out.push_back(std::move(read));
}

void url_passwords(std::string_view url, std::vector<std::string>& out) {
    const auto rest = url.substr(url.find("://") + 3);
    const auto authority = rest.substr(0, rest.find_first_of("/?"));
    const auto at = authority.rfind('@');
    if (at != std::string_view::npos) {
        const auto userinfo = authority.substr(0, at);
        const auto colon = userinfo.find(':');
        if (colon != std::string_view::npos) {
            const auto written = userinfo.substr(colon + 1);
            add_password(out, written, percent_decoded(written));
        }
    }
    const auto query = url.find('?');
    if (query == std::string_view::npos) return;
    for (auto params = url.substr(query + 1); !params.empty();) {
        const auto amp = params.find('&');
        const auto param = params.substr(0, amp);
        const auto eq = param.find('=');
        if (eq != std::string_view::npos && percent_decoded(param.substr(0, eq)) == "password") {
            const auto written = param.substr(eq + 1);
            add_password(out, written, percent_decoded(written));
        }
        params = amp == std::string_view::npos ? std::string_view() : params.substr(amp + 1);
    }
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

// libpq's conninfo syntax: keyword = value pairs separated by whitespace; a
// value is single-quoted or runs to the next whitespace, and a backslash
// escapes the next character in both.
void keyword_value_passwords(std::string_view text, std::vector<std::string>& out) {
    std::size_t i = 0;
    const auto skip_spaces = [&] {
        while (i < text.size() && is_space(text[i])) ++i;
    };
    while (i < text.size()) {
        skip_spaces();
        const auto key_start = i;
        while (i < text.size() && text[i] != '=' && !is_space(text[i])) ++i;
        const auto keyword = text.substr(key_start, i - key_start);
        skip_spaces();
        if (i >= text.size() || text[i] != '=') return;  // not conninfo; libpq refuses it
        ++i;
        skip_spaces();
        const bool quoted = i < text.size() && text[i] == '\'';
        if (quoted) ++i;
        const auto value_start = i;
        std::string value;
        while (i < text.size() && (quoted ? text[i] != '\'' : !is_space(text[i]))) {
            if (text[i] == '\\' && i + 1 < text.size()) ++i;
            value += text[i++];
        }
        const auto written = text.substr(value_start, i - value_start);
        if (quoted && i < text.size()) ++i;  // the closing quote
        if (keyword == "password") add_password(out, written, value);
    }
}

}  // namespace

std::vector<std::string> database_url_passwords(std::string_view url) {
    std::vector<std::string> out;
    if (url.find("://") != std::string_view::npos) {
        url_passwords(url, out);
    } else {
        keyword_value_passwords(url, out);
    }
    return out;
}

std::string masked_connection_url(std::string_view url) {
    auto out = url.find("://") != std::string_view::npos ? levqor::mask_url(url) : std::string(url);
    // What is left is a password=<value> parameter (URL query or libpq
    // keyword, perhaps quoted or spaced around '='): mask each password found
    // where such a parameter's value starts.
    const auto passwords = database_url_passwords(url);
    for (std::size_t at = out.find("password"); at != std::string::npos; at = out.find("password", at + 1)) {
        auto value = at + 8;
        while (value < out.size() && (out[value] == ' ' || out[value] == '=' || out[value] == '\'')) ++value;
        for (const auto& password : passwords) {
            if (!password.empty() && out.compare(value, password.size(), password) == 0) {
                out.replace(value, password.size(), "***");
                break;
            }
        }
    }
    return out;
}

}  // namespace levqor::controld
