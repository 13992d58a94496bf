// SPDX-License-Identifier: Apache-2.0
#include "wire.h"

#include <zlib.h>

#include <cstdlib>
#include <ctime>

#include "levqor/controld/core/text.h"

namespace levqor::controld::api {
namespace {

// Below this, the gzip header and a deflate block cost about what they save.
constexpr std::size_t kMinCompressBytes = 1024;

bool compressible(const std::string& content_type) {
    const auto type = to_lower(trim(std::string_view(content_type).substr(0, content_type.find(';'))));
    return (type.rfind("text/", 0) == 0 && type != "text/event-stream") || type == "application/json" ||
           type == "application/xml" || type == "application/javascript" || type == "image/svg+xml";
}

bool has_no_body(int status) { return status < 200 || status == 204 || status == 304; }

std::string http_date() {
    const std::time_t now = std::time(nullptr);
    std::tm tm{};
    ::gmtime_r(&now, &tm);
    char text[64];
    const auto n = std::strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    return std::string(text, n);
}

bool framing_header(const std::string& name) {
    const auto lower = to_lower(name);
    return lower == "content-length" || lower == "transfer-encoding" || lower == "connection";
}

}  // namespace

std::string_view reason_phrase(int status) {
    switch (status) {
        case 100:
            return "Continue";
        case 200:
            return "OK";
        case 201:
            return "Created";
        case 202:
            return "Accepted";
        case 204:
            return "No Content";
        case 304:
            return "Not Modified";
        case 400:
            return "Bad Request";
        case 401:
            return "Unauthorized";
        case 403:
            return "Forbidden";
        case 404:
            return "Not Found";
        case 405:
            return "Method Not Allowed";
        case 408:
            return "Request Timeout";
        case 409:
            return "Conflict";
        case 413:
            return "Payload Too Large";
        case 414:
            return "URI Too Long";
        case 415:
            return "Unsupported Media Type";
        case 417:
            return "Expectation Failed";
        case 421:
            return "Misdirected Request";
        case 422:
            return "Unprocessable Entity";
        case 429:
            return "Too Many Requests";
        case 431:
            return "Request Header Fields Too Large";
        case 500:
            return "Internal Server Error";
        case 501:
            return "Not Implemented";
        case 503:
            return "Service Unavailable";
        case 505:
            return "HTTP Version Not Supported";
        case 507:
            return "Insufficient Storage";
        default:
            return "Unknown";
    }
}

bool accepts_gzip(std::string_view accept_encoding) {
    bool gzip_ok = false;
    bool gzip_named = false;
    bool star_ok = false;
    while (!accept_encoding.empty()) {
        const auto comma = accept_encoding.find(',');
        const auto element = trim(accept_encoding.substr(0, comma));
        const auto semicolon = element.find(';');
        const auto coding = to_lower(trim(element.substr(0, semicolon)));
        bool positive = true;
        if (semicolon != std::string_view::npos) {
            const auto param = trim(element.substr(semicolon + 1));
            if (param.size() > 2 && (param[0] == 'q' || param[0] == 'Q') && param[1] == '=') {
                positive = std::strtod(std::string(param.substr(2)).c_str(), nullptr) > 0;
            }
        }
        if (coding == "gzip" || coding == "x-gzip") {
            gzip_named = true;
            gzip_ok = gzip_ok || positive;
        } else if (coding == "*") {
            star_ok = positive;
        }
        if (comma == std::string_view::npos) break;
        accept_encoding.remove_prefix(comma + 1);
    }
    return gzip_ok || (!gzip_named && star_ok);
}

std::string gzip(std::string_view data) {
    z_stream stream{};
    // windowBits 15 + 16: a gzip wrapper rather than zlib's.
    if (deflateInit2(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        return {};
    }
    std::string out(deflateBound(&stream, static_cast<uLong>(data.size())), '\0');
    stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    stream.avail_in = static_cast<uInt>(data.size());
    stream.next_out = reinterpret_cast<Bytef*>(out.data());
    stream.avail_out = static_cast<uInt>(out.size());
    const int rc = deflate(&stream, Z_FINISH);
    out.resize(stream.total_out);
    deflateEnd(&stream);
    return rc == Z_STREAM_END ? out : std::string();
}

std::string serialize_response(const httplib::Request& req, httplib::Response& res, bool keep_alive) {
    const bool head = req.method == "HEAD";
    const bool bodyless = has_no_body(res.status);
    bool gzipped = false;
    const bool varies = !bodyless && compressible(res.get_header_value("Content-Type"));
    if (varies && !head && res.body.size() >= kMinCompressBytes && !res.has_header("Content-Encoding") &&
        accepts_gzip(req.get_header_value("Accept-Encoding"))) {
        auto compressed = gzip(res.body);
        if (!compressed.empty()) {
            res.body = std::move(compressed);
            gzipped = true;
        }
    }

    std::string out;
    out.reserve(256 + (head || bodyless ? 0 : res.body.size()));
    out += "HTTP/1.1 " + std::to_string(res.status) + " ";
    out += reason_phrase(res.status);
    out += "\r\n";
    for (const auto& [name, value] : res.headers) {
        if (framing_header(name)) continue;
        out += name + ": " + value + "\r\n";
    }
    if (gzipped) out += "Content-Encoding: gzip\r\n";
    if (varies) out += "Vary: Accept-Encoding\r\n";
    if (!bodyless) out += "Content-Length: " + std::to_string(res.body.size()) + "\r\n";
    out += keep_alive ? "Connection: keep-alive\r\n" : "Connection: close\r\n";
    out += "Date: " + http_date() + "\r\n\r\n";
    if (!head && !bodyless) out += res.body;
    return out;
}

}  // namespace levqor::controld::api
