// SPDX-License-Identifier: Apache-2.0
#include "levqor/redis_url.h"

#include "levqor/url_credentials.h"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace levqor {
namespace {

constexpr std::string_view kForms =
    "redis://[[user]:password@]host[:port][/db], unix:/path[?db=N], "
    "redis-sentinel://[[user]:password@]host[:port][,host[:port]...]/<master name>[/db] or "
    "redis-cluster://[[user]:password@]host[:port][,host[:port]...]";

using Result = Parsed<RedisUrl>;

// Every message names the URL as it may be logged: credentials masked.
class Errors {
public:
    explicit Errors(std::string_view url) : quoted_("\"" + mask_url(url) + "\"") {}
    Result fail(std::string_view what, std::string_view expected) const {
        std::string message(what);
        message.append(" redis url ").append(quoted_);
        if (!expected.empty()) message.append(", expected ").append(expected);
        return Result::failure(std::move(message));
    }

private:
    std::string quoted_;
};

bool starts_with_nocase(std::string_view text, std::string_view prefix) {
    return text.size() >= prefix.size() && std::equal(prefix.begin(), prefix.end(), text.begin(), [](char a, char b) {
               return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
           });
}

// Decimal digits only (no sign, no spaces), lo..hi.
bool parse_number(std::string_view text, int lo, int hi, int& out) {
    if (text.empty() || !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return false;
    }
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc() && end == text.data() + text.size() && out >= lo && out <= hi;
}

constexpr std::string_view kDbRange = "0 to 1048576";
static_assert(kRedisMaxDb == 1048576, "kDbRange says the limit");

bool parse_db(std::string_view text, int& db) {
    if (text.empty()) return true;  // "redis://host/": database 0
    return parse_number(text, 0, kRedisMaxDb, db);
}

// host[:port] or [v6][:port]; the brackets are dropped.
const char* parse_host(std::string_view item, int default_port, RedisHost& out) {
    std::string_view host = item, port;
    bool explicit_port = false;
    if (!item.empty() && item.front() == '[') {
        const auto close = item.find(']');
        if (close == std::string_view::npos || close == 1) return "invalid IPv6 address in";
        host = item.substr(1, close - 1);
        const std::string_view after = item.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') return "invalid IPv6 address in";
            port = after.substr(1);
            explicit_port = true;
        }
    } else if (const auto colon = item.rfind(':'); colon != std::string_view::npos) {
        host = item.substr(0, colon);
        port = item.substr(colon + 1);
        explicit_port = true;
    }
    if (host.empty()) return "no host in";
    const bool bad_char = std::any_of(host.begin(), host.end(), [](char c) {
        return std::isspace(static_cast<unsigned char>(c)) ||
               std::string_view("/?#@[],").find(c) != std::string_view::npos;
    });
    if (bad_char) return "invalid host in";
    out.host = std::string(host);
    out.port = default_port;
    if (explicit_port && !parse_number(port, 1, 65535, out.port)) return "invalid port in";
    return nullptr;
}

Result parse_unix(std::string_view rest, const Errors& errors) {
    RedisUrl out;
    out.kind = RedisUrl::Kind::unix_socket;
    const auto q = rest.find('?');
    if (q != std::string_view::npos) {
        const std::string_view query = rest.substr(q + 1);
        if (query.substr(0, 3) != "db=" || !parse_number(query.substr(3), 0, kRedisMaxDb, out.db)) {
            return errors.fail("invalid", "unix:/path[?db=N]");
        }
        rest = rest.substr(0, q);
    }
    if (rest.empty() || rest.front() != '/') {
        return errors.fail("the socket path must be absolute in", "unix:/path[?db=N]");
    }
    out.socket_path = std::string(rest);
    return out;
}

// [[user]:password@]: the credentials end at the last '@', so a password may
// contain '@', ':' and '/'. A user alone ("app@") is refused: it would be a
// password to some clients and a user to others.
const char* parse_credentials(std::string_view credentials, RedisUrl& out) {
    const auto colon = credentials.find(':');
    if (colon == std::string_view::npos) return "credentials without ':' in";
    out.user = std::string(credentials.substr(0, colon));
    out.password = std::string(credentials.substr(colon + 1));
    if (out.password.empty()) return "an empty password in";
    return nullptr;
}

constexpr std::string_view kCredentialsHelp =
    "redis://:password@host for a password, or redis://user:password@host for an ACL user";

}  // namespace

std::string_view redis_url_scheme(RedisUrl::Kind kind) {
    switch (kind) {
        case RedisUrl::Kind::server:
            return "redis://";
        case RedisUrl::Kind::unix_socket:
            return "unix:";
        case RedisUrl::Kind::sentinel:
            return "redis-sentinel://";
        case RedisUrl::Kind::cluster:
            return "redis-cluster://";
    }
    return "redis://";
}

Parsed<RedisUrl> parse_redis_url(std::string_view url) {
    const Errors errors(url);
    if (starts_with_nocase(url, "unix:")) return parse_unix(url.substr(5), errors);
    RedisUrl out;
    std::string_view rest;
    if (starts_with_nocase(url, "redis://")) {
        rest = url.substr(8);
    } else if (starts_with_nocase(url, "redis-sentinel://")) {
        out.kind = RedisUrl::Kind::sentinel;
        rest = url.substr(17);
    } else if (starts_with_nocase(url, "redis-cluster://")) {
        out.kind = RedisUrl::Kind::cluster;
        rest = url.substr(16);
    } else if (starts_with_nocase(url, "rediss://")) {
        return errors.fail("TLS (rediss://) is not supported in", kForms);
    } else {
        return errors.fail("invalid", kForms);
    }

    if (const auto at = rest.rfind('@'); at != std::string_view::npos) {
        if (const char* what = parse_credentials(rest.substr(0, at), out)) return errors.fail(what, kCredentialsHelp);
        rest = rest.substr(at + 1);
    }
    if (rest.find_first_of("?#") != std::string_view::npos) {
        return errors.fail("a query or fragment in", kForms);
    }
    const auto slash = rest.find('/');
    const std::string_view host_list = rest.substr(0, slash);
    const std::string_view path = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);

    const int default_port = out.kind == RedisUrl::Kind::sentinel ? 26379 : 6379;
    for (std::size_t start = 0;;) {
        const auto comma = host_list.find(',', start);
        RedisHost host;
        if (const char* what = parse_host(host_list.substr(start, comma - start), default_port, host)) {
            return errors.fail(what, std::string_view(what) == "invalid port in" ? "1 to 65535" : "");
        }
        out.hosts.push_back(std::move(host));
        if (comma == std::string_view::npos) break;
        start = comma + 1;
    }

    switch (out.kind) {
        case RedisUrl::Kind::server:
            if (out.hosts.size() > 1) {
                return errors.fail("several hosts in",
                                   "one host for one server (redis-sentinel:// or redis-cluster:// take several)");
            }
            if (!parse_db(path, out.db)) return errors.fail("invalid database number in", kDbRange);
            break;
        case RedisUrl::Kind::sentinel: {
            const auto db_slash = path.find('/');
            out.master_name = std::string(path.substr(0, db_slash));
            if (out.master_name.empty()) {
                return errors.fail(
                    "no master name in",
                    "redis-sentinel://[[user]:password@]host[:port][,host[:port]...]/<master name>[/db]");
            }
            if (db_slash != std::string_view::npos && !parse_db(path.substr(db_slash + 1), out.db)) {
                return errors.fail("invalid database number in", kDbRange);
            }
            break;
        }
        case RedisUrl::Kind::cluster:
            if (!path.empty()) return errors.fail("a path in", "no /db: Redis Cluster has only database 0");
            break;
        case RedisUrl::Kind::unix_socket:
            break;
    }
    return out;
}

}  // namespace levqor
