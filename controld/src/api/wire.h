// SPDX-License-Identifier: Apache-2.0
// Private to the HTTP server: a response as bytes on the wire (status line,
// framing headers, Date, gzip when accepted). Pure functions, thread-safe.
#pragma once

#include <string>
#include <string_view>

#include <httplib.h>

namespace levqor::controld::api {

// What the front writes on the wire. Pure functions.

// The whole response: status line, the handler's headers (minus the
// framing ones, which are the server's: Content-Length, Transfer-Encoding,
// Connection), Content-Length (not for 1xx/204/304), Connection, Date, then
// the body unless the request was HEAD. A compressible body (text, JSON,
// XML, SVG; 1 KiB or more) is gzip-compressed when the request accepts gzip;
// brotli is never used (slow at the quality a client would get).
std::string serialize_response(const httplib::Request& req, httplib::Response& res, bool keep_alive);

// "OK", "Not Found", ...; "Unknown" for a status without a phrase here.
std::string_view reason_phrase(int status);

// Whether an Accept-Encoding value admits gzip ("gzip", "x-gzip" or "*",
// with a q-value above 0).
bool accepts_gzip(std::string_view accept_encoding);

// gzip (RFC 1952) of `data`; empty if zlib fails.
std::string gzip(std::string_view data);

}  // namespace levqor::controld::api
