// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/metrics/text_parser.h"

#include <string>
#include <unordered_map>

namespace levqor::controld::metrics {
namespace {

bool is_blank(char c) { return c == ' ' || c == '\t'; }

std::string_view skip_blanks(std::string_view s) {
    while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
    return s;
}

// The leading run of name characters (metric names allow ':').
std::string_view take_name(std::string_view& s, bool colon_ok) {
    std::size_t n = 0;
    while (n < s.size()) {
        const char c = s[n];
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon_ok && c == ':') ||
                        (n > 0 && c >= '0' && c <= '9');
        if (!ok) break;
        ++n;
    }
    const auto name = s.substr(0, n);
    s.remove_prefix(n);
    return name;
}

std::string_view take_token(std::string_view& s) {
    std::size_t n = 0;
    while (n < s.size() && !is_blank(s[n])) ++n;
    const auto token = s.substr(0, n);
    s.remove_prefix(n);
    return token;
}

class Parser {
public:
    std::vector<MetricFamily> parse(std::string_view text) {
        while (!text.empty()) {
            const auto nl = text.find('\n');
            auto line = text.substr(0, nl);
            text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
            ++line_no_;
            if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
            const auto content = skip_blanks(line);
            if (content.empty()) continue;
            if (content.front() == '#') {
                comment(content.substr(1));
            } else {
                sample(content);
            }
        }
        return std::move(families_);
    }

private:
    [[noreturn]] void fail(const std::string& why) const {
        throw ParseError("line " + std::to_string(line_no_) + ": " + why);
    }

    std::size_t family_index(const std::string& name) {
        auto [it, inserted] = index_.emplace(name, families_.size());
        if (inserted) {
            MetricFamily family;
            family.name = name;
            families_.push_back(std::move(family));
        }
        return it->second;
    }

    void comment(std::string_view rest) {
        rest = skip_blanks(rest);
        const auto keyword = take_token(rest);
        if (keyword != "HELP" && keyword != "TYPE") return;  // a plain comment
        if (rest.empty() || !is_blank(rest.front())) {
            fail(std::string(keyword) + " without a metric name");
        }
        rest = skip_blanks(rest);
        const auto name = take_name(rest, true);
        if (name.empty() || (!rest.empty() && !is_blank(rest.front()))) {
            fail("invalid metric name in " + std::string(keyword));
        }
        if (!rest.empty()) rest.remove_prefix(1);  // the one separator before the text
        const std::string family_name(name);
        const bool known = index_.count(family_name) != 0;
        auto& family = families_[family_index(family_name)];
        auto& seen = declared_[family_name];
        if (keyword == "HELP") {
            if (seen.help) fail("second HELP for " + family_name);
            seen.help = true;
            family.help = unescape_help(rest);
            return;
        }
        if (seen.type) fail("second TYPE for " + family_name);
        if (known && !family.samples.empty()) fail("TYPE for " + family_name + " after its samples");
        seen.type = true;
        rest = skip_blanks(rest);
        const auto type_text = take_token(rest);
        if (!skip_blanks(rest).empty()) fail("unexpected text after the TYPE of " + family_name);
        const auto type = parse_metric_type(type_text);
        if (!type) fail("unknown TYPE \"" + std::string(type_text) + "\" for " + family_name);
        family.type = *type;
    }

    std::string unescape_help(std::string_view text) const {
        std::string out;
        out.reserve(text.size());
        for (std::size_t i = 0; i < text.size(); ++i) {
            if (text[i] != '\\' || i + 1 == text.size()) {
                out.push_back(text[i]);
                continue;
            }
            const char next = text[++i];
            if (next == 'n') {
                out.push_back('\n');
            } else if (next == '\\') {
                out.push_back('\\');
            } else {
                out.push_back('\\');
                out.push_back(next);
            }
        }
        return out;
    }

    // The family a sample belongs to (see the header).
    std::size_t family_for(const std::string& sample_name) {
        auto it = index_.find(sample_name);
        if (it != index_.end()) {
            const auto type = families_[it->second].type;
            if (type != MetricType::histogram || !declared_[sample_name].type) return it->second;
        }
        for (std::string_view suffix : {"_bucket", "_sum", "_count"}) {
            if (sample_name.size() <= suffix.size() ||
                sample_name.compare(sample_name.size() - suffix.size(), suffix.size(), suffix) != 0) {
                continue;
            }
            auto base = index_.find(sample_name.substr(0, sample_name.size() - suffix.size()));
            if (base == index_.end()) continue;
            const auto type = families_[base->second].type;
            if (type == MetricType::histogram || (type == MetricType::summary && suffix != "_bucket")) {
                return base->second;
            }
        }
        if (it != index_.end()) return it->second;
        return family_index(sample_name);
    }

    void sample(std::string_view rest) {
        Sample sample;
        const auto name = take_name(rest, true);
        if (name.empty()) fail("expected a metric name");
        sample.name = std::string(name);
        if (const auto after = skip_blanks(rest); !after.empty() && after.front() == '{') {
            rest = after.substr(1);
            sample.labels = labels(rest);
        }
        if (rest.empty() || !is_blank(rest.front())) fail("expected a value after " + sample.name);
        rest = skip_blanks(rest);
        const auto value = take_token(rest);
        if (!parse_value(value)) {
            fail("invalid value \"" + std::string(value) + "\" for " + sample.name);
        }
        sample.value = std::string(value);
        rest = skip_blanks(rest);
        if (!rest.empty()) {
            const auto timestamp = take_token(rest);
            std::string_view digits = timestamp;
            if (!digits.empty() && digits.front() == '-') digits.remove_prefix(1);
            if (digits.empty() || digits.find_first_not_of("0123456789") != std::string_view::npos) {
                fail("invalid timestamp \"" + std::string(timestamp) + "\" for " + sample.name);
            }
            sample.timestamp = std::string(timestamp);
            if (!skip_blanks(rest).empty()) fail("unexpected text after the sample " + sample.name);
        }
        families_[family_for(sample.name)].samples.push_back(std::move(sample));
    }

    // After '{': name="value" pairs up to and including '}'.
    Labels labels(std::string_view& rest) {
        Labels out;
        // Room for the usual few labels plus the instance label the merger
        // inserts, so neither grows the vector.
        out.reserve(6);
        for (;;) {
            rest = skip_blanks(rest);
            if (rest.empty()) fail("unterminated label set");
            if (rest.front() == '}') {
                rest.remove_prefix(1);
                return out;
            }
            const auto name = take_name(rest, false);
            if (name.empty()) fail("invalid label name");
            for (const auto& label : out) {
                if (label.name == name) fail("label " + std::string(name) + " appears twice");
            }
            rest = skip_blanks(rest);
            if (rest.empty() || rest.front() != '=') {
                fail("expected '=' after label " + std::string(name));
            }
            rest = skip_blanks(rest.substr(1));
            if (rest.empty() || rest.front() != '"') {
                fail("expected '\"' to open the value of label " + std::string(name));
            }
            rest.remove_prefix(1);
            Label label{std::string(name), {}};
            for (;;) {
                if (rest.empty()) fail("unterminated value of label " + label.name);
                const char c = rest.front();
                rest.remove_prefix(1);
                if (c == '"') break;
                if (c != '\\') {
                    label.value.push_back(c);
                    continue;
                }
                if (rest.empty()) fail("unterminated value of label " + label.name);
                const char escaped = rest.front();
                rest.remove_prefix(1);
                if (escaped == 'n') {
                    label.value.push_back('\n');
                } else if (escaped == '\\' || escaped == '"') {
                    label.value.push_back(escaped);
                } else {
                    fail(std::string("invalid escape \\") + escaped + " in label " + label.name);
                }
            }
            out.push_back(std::move(label));
            rest = skip_blanks(rest);
            if (!rest.empty() && rest.front() == ',') {
                rest.remove_prefix(1);
            } else if (rest.empty() || rest.front() != '}') {
                fail("expected ',' or '}' after a label");
            }
        }
    }

    struct Declared {
        bool help = false;
        bool type = false;
    };
    std::vector<MetricFamily> families_;
    std::unordered_map<std::string, std::size_t> index_;
    std::unordered_map<std::string, Declared> declared_;
    std::size_t line_no_ = 0;
};

}  // namespace

std::vector<MetricFamily> parse_exposition(std::string_view text) { return Parser().parse(text); }

}  // namespace levqor::controld::metrics
