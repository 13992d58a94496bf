// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/api/request_parser.h"

#include <algorithm>
#include <cctype>

#include "levqor/controld/core/text.h"

namespace levqor::controld::api {
namespace {

// A chunk-size line is hex digits plus optional extensions; nothing
// legitimate comes near this.
constexpr std::size_t kMaxChunkSizeLine = 1024;
// Hex digits of a chunk size: 16 would already overflow the body cap.
constexpr std::size_t kMaxChunkSizeDigits = 15;

bool is_tchar(unsigned char c) {
    if (std::isalnum(c)) return true;
    switch (c) {
        case '!':
        case '#':
        case '$':
        case '%':
        case '&':
        case '\'':
        case '*':
        case '+':
        case '-':
        case '.':
        case '^':
        case '_':
        case '`':
        case '|':
        case '~':
            return true;
        default:
            return false;
    }
}

bool is_token(std::string_view text) {
    return !text.empty() &&
           std::all_of(text.begin(), text.end(), [](char c) { return is_tchar(static_cast<unsigned char>(c)); });
}

// Field values: visible characters, spaces, tabs and obs-text; no other
// control characters (a bare CR, NUL, ...).
bool is_field_value(std::string_view text) {
    return std::all_of(text.begin(), text.end(), [](char ch) {
        const auto c = static_cast<unsigned char>(ch);
        return c == '\t' || (c >= 0x20 && c != 0x7f);
    });
}

bool is_target(std::string_view text) {
    return !text.empty() && std::all_of(text.begin(), text.end(), [](char ch) {
        const auto c = static_cast<unsigned char>(ch);
        return c > 0x20 && c != 0x7f;
    });
}

bool iequals(std::string_view a, std::string_view b) { return a.size() == b.size() && to_lower(a) == to_lower(b); }

// Calls visit(trimmed element) for each element of a comma-separated
// header list ("a, b,c"), skipping empty ones.
template <typename Visit>
void for_each_element(std::string_view list, Visit&& visit) {
    while (!list.empty()) {
        const auto comma = list.find(',');
        const auto element = trim(list.substr(0, comma));
        if (!element.empty()) visit(element);
        if (comma == std::string_view::npos) break;
        list.remove_prefix(comma + 1);
    }
}

bool has_element(const httplib::Headers& headers, const std::string& name, std::string_view token) {
    bool found = false;
    auto [begin, end] = headers.equal_range(name);
    for (auto it = begin; it != end; ++it) {
        for_each_element(it->second, [&](std::string_view element) { found |= iequals(element, token); });
    }
    return found;
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Splits "path?query" and decodes both parts into the request.
void set_target(httplib::Request& req) {
    std::string_view target = req.target;
    // absolute-form ("http://host/path"): only the path and query matter here.
    for (std::string_view scheme : {"http://", "https://"}) {
        if (target.size() > scheme.size() && iequals(target.substr(0, scheme.size()), scheme)) {
            const auto slash = target.find('/', scheme.size());
            target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
            break;
        }
    }
    const auto question = target.find('?');
    req.path = decode_url_component(target.substr(0, question), false);
    if (question == std::string_view::npos) return;
    auto query = target.substr(question + 1);
    while (!query.empty()) {
        const auto amp = query.find('&');
        const auto pair = query.substr(0, amp);
        if (!pair.empty()) {
            const auto eq = pair.find('=');
            req.params.emplace(
                decode_url_component(pair.substr(0, eq), true),
                eq == std::string_view::npos ? std::string() : decode_url_component(pair.substr(eq + 1), true));
        }
        if (amp == std::string_view::npos) break;
        query.remove_prefix(amp + 1);
    }
}

}  // namespace

std::string decode_url_component(std::string_view text, bool plus_is_space) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '%' && i + 2 < text.size()) {
            const int hi = hex_value(text[i + 1]);
            const int lo = hex_value(text[i + 2]);
            if (hi >= 0 && lo >= 0) {
                out += static_cast<char>(hi * 16 + lo);
                i += 2;
                continue;
            }
        }
        out += (plus_is_space && c == '+') ? ' ' : c;
    }
    return out;
}

RequestParser::RequestParser(RequestLimits limits) : limits_(limits) {}

void RequestParser::reset() {
    step_ = Step::request_line;
    state_ = State::request_line;
    started_ = false;
    line_.clear();
    header_bytes_ = 0;
    header_count_ = 0;
    framing_ = Framing::none;
    remaining_ = 0;
    expects_continue_ = false;
    keep_alive_ = false;
    error_ = RequestError{};
    request_ = httplib::Request{};
}

void RequestParser::set_step(Step step) {
    step_ = step;
    switch (step) {
        case Step::request_line:
            state_ = State::request_line;
            break;
        case Step::header_line:
            state_ = State::headers;
            break;
        case Step::headers_done:
            state_ = State::headers_done;
            break;
        case Step::complete:
            state_ = State::complete;
            break;
        case Step::failed:
            state_ = State::failed;
            break;
        default:
            state_ = State::body;
            break;
    }
}

void RequestParser::fail(int status, std::string_view code, std::string message) {
    error_ = RequestError{status, std::string(code), std::move(message)};
    set_step(Step::failed);
}

std::size_t RequestParser::feed(std::string_view data) {
    std::size_t used = 0;
    while (used < data.size()) {
        const auto rest = data.substr(used);
        switch (step_) {
            case Step::request_line:
            case Step::header_line:
            case Step::chunk_size_line:
            case Step::chunk_data_end:
            case Step::trailer_line:
                used += feed_line(rest);
                break;
            case Step::length_body:
            case Step::chunk_data:
                used += feed_body(rest);
                break;
            case Step::headers_done:
            case Step::complete:
            case Step::failed:
                return used;
        }
    }
    return used;
}

// The most a line of the current step may hold (without its line end);
// passing it fails the request with the step's status.
std::size_t RequestParser::line_cap() const {
    switch (step_) {
        case Step::request_line:
            return limits_.max_request_line_bytes;
        case Step::header_line:
        case Step::trailer_line:
            return limits_.max_header_bytes - std::min(header_bytes_, limits_.max_header_bytes);
        case Step::chunk_size_line:
            return kMaxChunkSizeLine;
        default:
            return 0;  // chunk_data_end: the CRLF after chunk data, nothing else
    }
}

std::size_t RequestParser::feed_line(std::string_view data) {
    // Empty lines before the request line are ignored (RFC 9112, 2.2).
    if (step_ == Step::request_line && line_.empty()) {
        std::size_t skipped = 0;
        while (skipped < data.size() && (data[skipped] == '\r' || data[skipped] == '\n')) ++skipped;
        if (skipped > 0) {
            started_ = true;
            return skipped;
        }
    }
    started_ = true;
    const auto newline = data.find('\n');
    const auto take = newline == std::string_view::npos ? data.size() : newline;
    std::size_t length = line_.size() + take;
    // A CR at the end is (or may yet turn out to be) the line end, not
    // content; if it is not, the line is malformed anyway.
    if (length > 0 && (take > 0 ? data[take - 1] == '\r' : line_.back() == '\r')) --length;
    if (length > line_cap()) {
        switch (step_) {
            case Step::request_line:
                fail(414, "uri_too_long",
                     "the request line exceeds " + std::to_string(limits_.max_request_line_bytes) +
                         " bytes (http.max_request_line_bytes)");
                break;
            case Step::header_line:
            case Step::trailer_line:
                fail(431, "request_header_fields_too_large",
                     "the request headers exceed " + std::to_string(limits_.max_header_bytes) +
                         " bytes (http.max_header_bytes)");
                break;
            default:
                fail(400, "bad_request", "malformed chunked body");
                break;
        }
        return take;
    }
    line_.append(data.substr(0, take));
    if (newline == std::string_view::npos) return take;
    if (!line_.empty() && line_.back() == '\r') line_.pop_back();
    line_done();
    line_.clear();
    return take + 1;
}

void RequestParser::line_done() {
    switch (step_) {
        case Step::request_line:
            request_line(line_);
            break;
        case Step::header_line:
            header_line(line_);
            break;
        case Step::chunk_size_line:
            chunk_size_line(line_);
            break;
        case Step::chunk_data_end:
            if (!line_.empty()) {
                fail(400, "bad_request", "malformed chunked body: chunk data longer than its size");
                return;
            }
            set_step(Step::chunk_size_line);
            break;
        case Step::trailer_line:
            if (line_.empty()) {
                set_step(Step::complete);
                return;
            }
            // Trailer fields are held to the header caps, then dropped: no
            // handler reads them.
            header_bytes_ += line_.size() + 2;
            if (++header_count_ > limits_.max_headers) {
                fail(431, "request_header_fields_too_large",
                     "more than " + std::to_string(limits_.max_headers) + " header fields (http.max_headers)");
            }
            break;
        default:
            break;
    }
}

void RequestParser::request_line(std::string_view line) {
    const auto first = line.find(' ');
    const auto second = first == std::string_view::npos ? first : line.find(' ', first + 1);
    if (second == std::string_view::npos || line.find(' ', second + 1) != std::string_view::npos) {
        fail(400, "bad_request", "malformed request line; expected METHOD TARGET HTTP/1.1");
        return;
    }
    const auto method = line.substr(0, first);
    const auto target = line.substr(first + 1, second - first - 1);
    const auto version = line.substr(second + 1);
    if (!is_token(method) || !is_target(target)) {
        fail(400, "bad_request", "malformed request line; expected METHOD TARGET HTTP/1.1");
        return;
    }
    if (version != "HTTP/1.1" && version != "HTTP/1.0") {
        const bool http = version.size() == 8 && version.substr(0, 5) == "HTTP/" &&
                          std::isdigit(static_cast<unsigned char>(version[5])) && version[6] == '.' &&
                          std::isdigit(static_cast<unsigned char>(version[7]));
        if (http) {
            fail(505, "http_version_not_supported", "only HTTP/1.0 and HTTP/1.1 are supported");
        } else {
            fail(400, "bad_request", "malformed request line; expected METHOD TARGET HTTP/1.1");
        }
        return;
    }
    request_.method = std::string(method);
    request_.target = std::string(target);
    request_.version = std::string(version);
    set_target(request_);
    set_step(Step::header_line);
}

void RequestParser::header_line(std::string_view line) {
    if (line.empty()) {
        finish_headers();
        return;
    }
    header_bytes_ += line.size() + 2;
    if (++header_count_ > limits_.max_headers) {
        fail(431, "request_header_fields_too_large",
             "more than " + std::to_string(limits_.max_headers) + " header fields (http.max_headers)");
        return;
    }
    if (line.front() == ' ' || line.front() == '\t') {
        fail(400, "bad_request", "obsolete line folding in the headers is not accepted");
        return;
    }
    const auto colon = line.find(':');
    if (colon == std::string_view::npos || !is_token(line.substr(0, colon))) {
        fail(400, "bad_request", "malformed header line");
        return;
    }
    const auto value = line.substr(colon + 1);
    const auto trimmed = trim(value);
    if (!is_field_value(value)) {
        fail(400, "bad_request", "a header value contains control characters");
        return;
    }
    request_.headers.emplace(std::string(line.substr(0, colon)), std::string(trimmed));
}

void RequestParser::finish_headers() {
    const auto& headers = request_.headers;
    const bool http11 = request_.version == "HTTP/1.1";
    const auto hosts = headers.count("Host");
    if (hosts > 1 || (http11 && hosts == 0)) {
        fail(400, "bad_request", "an HTTP/1.1 request needs exactly one Host header");
        return;
    }
    finish_framing();
    if (step_ == Step::failed) return;

    auto [begin, end] = headers.equal_range("Content-Encoding");
    for (auto it = begin; it != end; ++it) {
        bool identity = true;
        for_each_element(it->second, [&](std::string_view element) { identity &= iequals(element, "identity"); });
        if (!identity) {
            fail(415, "unsupported_media_type",
                 "Content-Encoding \"" + it->second + "\" is not accepted; send the body uncompressed");
            return;
        }
    }
    if (headers.count("Expect") != 0) {
        if (headers.count("Expect") > 1 || !iequals(trim(request_.get_header_value("Expect")), "100-continue")) {
            fail(417, "expectation_failed", "only Expect: 100-continue is supported");
            return;
        }
        expects_continue_ = http11;  // never a 100 to an HTTP/1.0 client (RFC 9110, 15.2)
    }
    keep_alive_ =
        http11 ? !has_element(headers, "Connection", "close") : has_element(headers, "Connection", "keep-alive");
    set_step(Step::headers_done);
}

// Content-Length or chunked, never both, never anything else.
void RequestParser::finish_framing() {
    const auto& headers = request_.headers;
    if (headers.count("Transfer-Encoding") != 0) {
        if (request_.version != "HTTP/1.1") {
            fail(400, "bad_request", "Transfer-Encoding needs HTTP/1.1");
            return;
        }
        if (headers.count("Content-Length") != 0) {
            fail(400, "bad_request", "a request may not have both Transfer-Encoding and Content-Length");
            return;
        }
        std::size_t codings = 0;
        bool chunked_only = true;
        auto [begin, end] = headers.equal_range("Transfer-Encoding");
        for (auto it = begin; it != end; ++it) {
            for_each_element(it->second, [&](std::string_view element) {
                ++codings;
                chunked_only &= iequals(element, "chunked");
            });
        }
        if (codings != 1 || !chunked_only) {
            fail(501, "not_implemented", "only Transfer-Encoding: chunked is supported");
            return;
        }
        framing_ = Framing::chunked;
        return;
    }
    auto [begin, end] = headers.equal_range("Content-Length");
    if (begin == end) return;
    const std::string& first = begin->second;
    for (auto it = begin; it != end; ++it) {
        const auto& value = it->second;
        if (value != first || value.empty() || value.size() > 18 ||
            value.find_first_not_of("0123456789") != std::string::npos) {
            fail(400, "bad_request", "malformed or conflicting Content-Length");
            return;
        }
    }
    const auto length = std::stoull(first);
    if (length > limits_.max_body_bytes) {
        fail(413, "payload_too_large",
             "request body exceeds " + std::to_string(limits_.max_body_bytes) + " bytes (http.max_body_bytes)");
        return;
    }
    remaining_ = length;
    framing_ = length == 0 ? Framing::none : Framing::length;
}

void RequestParser::read_body() {
    if (step_ != Step::headers_done) return;
    switch (framing_) {
        case Framing::none:
            set_step(Step::complete);
            break;
        case Framing::length:
            request_.body.reserve(static_cast<std::size_t>(remaining_));
            set_step(Step::length_body);
            break;
        case Framing::chunked:
            set_step(Step::chunk_size_line);
            break;
    }
}

void RequestParser::chunk_size_line(std::string_view line) {
    const auto size_text = trim(line.substr(0, line.find(';')));
    if (size_text.empty() || size_text.size() > kMaxChunkSizeDigits ||
        !std::all_of(size_text.begin(), size_text.end(), [](char c) { return hex_value(c) >= 0; })) {
        fail(400, "bad_request", "malformed chunked body: bad chunk size");
        return;
    }
    std::uint64_t size = 0;
    for (char c : size_text) size = size * 16 + static_cast<std::uint64_t>(hex_value(c));
    if (size == 0) {
        set_step(Step::trailer_line);
        return;
    }
    if (size > limits_.max_body_bytes - request_.body.size()) {
        fail(413, "payload_too_large",
             "request body exceeds " + std::to_string(limits_.max_body_bytes) + " bytes (http.max_body_bytes)");
        return;
    }
    remaining_ = size;
    set_step(Step::chunk_data);
}

std::size_t RequestParser::feed_body(std::string_view data) {
    const auto take = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, data.size()));
    request_.body.append(data.substr(0, take));
    remaining_ -= take;
    if (remaining_ == 0) set_step(step_ == Step::length_body ? Step::complete : Step::chunk_data_end);
    return take;
}

}  // namespace levqor::controld::api
