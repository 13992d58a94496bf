// SPDX-License-Identifier: Apache-2.0
#include "levqor/limit_upstream.h"

#include <cstring>
#include <string>

namespace levqor::limit {

Parsed<UpstreamMode> parse_upstream_mode(std::string_view v) {
    if (v == "merge") return UpstreamMode::Merge;
    if (v == "replace") return UpstreamMode::Replace;
    if (v == "pass") return UpstreamMode::Pass;
    return Parsed<UpstreamMode>::failure("invalid value \"" + std::string(v) + "\", expected merge, replace or pass");
}

namespace {

// RFC 8941 §4.2 over a view: each parse_* consumes what it accepts from `in`
// and returns false on a syntax error (the field is then ignored).
class SfReader {
public:
    explicit SfReader(std::string_view in) : in_(in) {}

    bool empty() const { return in_.empty(); }
    char peek() const { return in_.front(); }
    std::string_view rest() const { return in_; }
    void skip(std::size_t n = 1) { in_.remove_prefix(n); }
    void skip_sp() {
        while (!in_.empty() && in_.front() == ' ') skip();
    }
    void skip_ows() {
        while (!in_.empty() && (in_.front() == ' ' || in_.front() == '\t')) skip();
    }

    // Returns the kind of bare item read: 's' string, 't' token, 'o' other.
    bool bare_item(char& kind, std::string_view& value) {
        if (in_.empty()) return false;
        const char c = peek();
        kind = 'o';
        if (c == '-' || is_digit(c)) return number();
        if (c == ':') return binary();
        if (c == '?') return boolean();
        if (c == '"') {
            kind = 's';
            return string(value);
        }
        if (is_alpha(c) || c == '*') {
            kind = 't';
            return token(value);
        }
        return false;
    }

    bool parameters() {
        while (!in_.empty() && peek() == ';') {
            skip();
            skip_sp();
            if (in_.empty() || !(is_lcalpha(peek()) || peek() == '*')) return false;
            while (!in_.empty() && (is_lcalpha(peek()) || is_digit(peek()) || std::strchr("_-.*", peek()) != nullptr)) {
                skip();
            }
            if (!in_.empty() && peek() == '=') {
                skip();
                char kind;
                std::string_view ignored;
                if (!bare_item(kind, ignored)) return false;
            }
        }
        return true;
    }

    bool inner_list() {
        skip();  // '('
        while (!in_.empty()) {
            skip_sp();
            if (!in_.empty() && peek() == ')') {
                skip();
                return parameters();
            }
            char kind;
            std::string_view ignored;
            if (!bare_item(kind, ignored) || !parameters()) return false;
            if (in_.empty() || (peek() != ' ' && peek() != ')')) return false;
        }
        return false;
    }

private:
    static bool is_digit(char c) { return c >= '0' && c <= '9'; }
    static bool is_lcalpha(char c) { return c >= 'a' && c <= 'z'; }
    static bool is_alpha(char c) { return is_lcalpha(c) || (c >= 'A' && c <= 'Z'); }
    static bool is_tchar(char c) {
        return is_alpha(c) || is_digit(c) || (c != '\0' && std::strchr("!#$%&'*+-.^_`|~", c) != nullptr);
    }

    bool number() {
        if (peek() == '-') skip();
        std::size_t digits = 0;
        while (!in_.empty() && is_digit(peek())) skip(), ++digits;
        if (digits == 0) return false;
        if (in_.empty() || peek() != '.') return digits <= 15;
        if (digits > 12) return false;
        skip();
        std::size_t frac = 0;
        while (!in_.empty() && is_digit(peek())) skip(), ++frac;
        return frac >= 1 && frac <= 3;
    }

    bool string(std::string_view& value) {
        skip();  // '"'
        const char* start = in_.data();
        while (!in_.empty()) {
            const char c = peek();
            if (c == '"') {
                value = std::string_view(start, static_cast<std::size_t>(in_.data() - start));
                skip();
                return true;
            }
            if (c == '\\') {
                skip();
                if (in_.empty() || (peek() != '"' && peek() != '\\')) return false;
            } else if (c < 0x20 || c > 0x7e) {
                return false;
            }
            skip();
        }
        return false;
    }

    bool token(std::string_view& value) {
        const char* start = in_.data();
        while (!in_.empty() && (is_tchar(peek()) || peek() == ':' || peek() == '/')) skip();
        value = std::string_view(start, static_cast<std::size_t>(in_.data() - start));
        return true;
    }

    bool binary() {
        skip();  // ':'
        while (!in_.empty() && (is_alpha(peek()) || is_digit(peek()) || std::strchr("+/=", peek()) != nullptr)) skip();
        if (in_.empty() || peek() != ':') return false;
        skip();
        return true;
    }

    bool boolean() {
        skip();  // '?'
        if (in_.empty() || (peek() != '0' && peek() != '1')) return false;
        skip();
        return true;
    }

    std::string_view in_;
};

}  // namespace

bool parse_policy_list(std::string_view line, PolicyList& out) noexcept {
    // Items are appended in place; a line that fails takes back what it added.
    const std::size_t n0 = out.n, skipped0 = out.skipped;
    auto fail = [&] {
        out.n = n0;
        out.skipped = skipped0;
        return false;
    };
    SfReader r(line);
    r.skip_ows();
    while (!r.empty()) {
        if (r.peek() == '(') {
            if (!r.inner_list()) return fail();
            ++out.skipped;
        } else {
            char kind;
            std::string_view name;
            if (!r.bare_item(kind, name)) return fail();
            const char* params_at = r.rest().data();
            if (!r.parameters()) return fail();
            const std::string_view params(params_at, static_cast<std::size_t>(r.rest().data() - params_at));
            if (kind == 'o' || out.n == kMaxUpstreamItems) {
                ++out.skipped;
            } else {
                out.items[out.n++] = PolicyItem{name, params};
            }
        }
        r.skip_ows();
        if (r.empty()) break;
        if (r.peek() != ',') return fail();
        r.skip();
        r.skip_ows();
        if (r.empty()) return fail();  // a trailing comma
    }
    return true;
}

namespace {

// a == b followed by `m` suffixes.
bool equals_suffixed(std::string_view a, std::string_view b, unsigned m) {
    const std::string_view s = MergedNames::kSuffix;
    if (a.size() != b.size() + m * s.size() || a.compare(0, b.size(), b) != 0) return false;
    for (unsigned i = 0; i < m; ++i) {
        if (a.compare(b.size() + i * s.size(), s.size(), s) != 0) return false;
    }
    return true;
}

// a + ka suffixes == b + kb suffixes.
bool same_name(std::string_view a, unsigned ka, std::string_view b, unsigned kb) {
    return ka <= kb ? equals_suffixed(a, b, kb - ka) : equals_suffixed(b, a, ka - kb);
}

}  // namespace

bool MergedNames::taken(std::string_view base, unsigned k) const noexcept {
    for (std::size_t i = 0; i < n_ours_; ++i) {
        if (same_name(ours_[i], 0, base, k)) return true;
    }
    for (std::size_t i = 0; i < n_; ++i) {
        if (entries_[i].suffixes >= 0 &&
            same_name(entries_[i].view(), static_cast<unsigned>(entries_[i].suffixes), base, k)) {
            return true;
        }
    }
    return false;
}

int MergedNames::claim(std::string_view name, Field field) noexcept {
    for (std::size_t i = 0; i < n_; ++i) {
        Entry& e = entries_[i];
        if (e.view() != name) continue;
        if (e.suffixes < 0 || (e.emitted & field) != 0) return -1;
        e.emitted |= field;
        return e.suffixes;
    }
    if (name.size() > kMaxUpstreamName || n_ == sizeof entries_ / sizeof entries_[0]) return -1;
    int suffixes = -1;
    for (unsigned k = 0; k <= kMaxSuffixes; ++k) {
        if (!taken(name, k)) {
            suffixes = static_cast<int>(k);
            break;
        }
    }
    entries_[n_++] = Entry{name.data(), name.size(), suffixes, static_cast<std::uint8_t>(field)};
    return suffixes;
}

char* write_merged_item(char* p, const PolicyItem& item, int suffixes) noexcept {
    auto put = [&p](std::string_view s) { p = static_cast<char*>(std::memcpy(p, s.data(), s.size())) + s.size(); };
    put("\"");
    put(item.name);
    for (int i = 0; i < suffixes; ++i) put(MergedNames::kSuffix);
    put("\"");
    put(item.params);
    return p;
}

std::optional<std::uint64_t> parse_legacy_number(std::string_view v) noexcept {
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
    if (v.empty() || v.size() > 20) return std::nullopt;
    std::uint64_t n = 0;
    for (const char c : v) {
        if (c < '0' || c > '9') return std::nullopt;
        const auto d = static_cast<std::uint64_t>(c - '0');
        if (n > (UINT64_MAX - d) / 10) return std::nullopt;
        n = n * 10 + d;
    }
    return n;
}

}  // namespace levqor::limit
