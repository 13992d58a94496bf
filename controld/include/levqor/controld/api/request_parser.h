// SPDX-License-Identifier: Apache-2.0
// The incremental HTTP/1.1 request parser the front feeds bytes to as they
// arrive: it enforces RequestLimits while it reads and refuses ambiguous
// framing (request smuggling) with a RequestError. Not thread-safe: one parser
// per connection, used by one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <httplib.h>

namespace levqor::controld::api {

// The bounds every request must keep before it reaches a handler
// (docs/controld.md, "http").
struct RequestLimits {
    std::size_t max_request_line_bytes = 8192;  // longer: 414
    std::size_t max_header_bytes = 16384;       // all header lines together: 431
    std::size_t max_headers = 100;              // more header fields: 431
    std::size_t max_body_bytes = 1024 * 1024;   // decoded body, any framing: 413
};

// Why the front refused a request: the status, the stable `error` code of
// the JSON body, and a message for people.
struct RequestError {
    int status = 0;
    std::string code;
    std::string message;
};

// An incremental HTTP/1.1 request parser that never holds more than the
// limits allow: the request line, header lines and chunk-size lines are
// checked against their caps while they arrive (before their line end), and
// a body is refused as soon as its declared or decoded size passes
// max_body_bytes, before any of it past the cap is stored.
//
// It stops twice per request so the caller can act between the two:
// after the headers (state headers_done: check the Host, the token, send
// 100 Continue, or refuse without reading the body) and when the request
// is complete. feed() then consumes no more bytes, so what follows a
// complete request (a pipelined one) stays with the caller.
//
// Refused outright (state failed, error() says why):
// - a malformed request line, header line or chunk (400), obsolete line
//   folding (400), a header name followed by whitespace (400);
// - HTTP versions other than 1.0 and 1.1 (505), HTTP/1.1 without exactly one
//   Host (400);
// - Transfer-Encoding other than "chunked" (501), chunked on HTTP/1.0 (400),
//   Transfer-Encoding together with Content-Length (400), conflicting or
//   malformed Content-Length (400): the framing ambiguities behind request
//   smuggling;
// - any Content-Encoding but identity (415): compressed bodies are never
//   expanded;
// - an Expect other than 100-continue (417).
//
// The request it builds: method, target, version, path (percent-decoded,
// without the query), params (the decoded query), headers, body (decoded
// from chunked framing; trailers are read within the header caps and
// dropped). A request with neither Content-Length nor Transfer-Encoding has
// an empty body.
//
// Thread-safety: none; one parser per connection, used by one thread.
class RequestParser {
public:
    enum class State {
        request_line,  // waiting for (the rest of) the request line
        headers,       // reading header lines
        headers_done,  // stopped: call read_body() to go on
        body,          // reading the body
        complete,      // stopped: take_request(), then reset()
        failed,        // stopped: error()
    };

    explicit RequestParser(RequestLimits limits);

    // Consumes bytes from the front of `data` and returns how many it used;
    // fewer than data.size() only once it has stopped (headers_done,
    // complete, failed).
    std::size_t feed(std::string_view data);
    // After headers_done: goes on with the body (or straight to complete
    // when there is none).
    void read_body();
    // Ready for the next request on the same connection.
    void reset();

    State state() const { return state_; }
    // True once any byte of the current request was consumed.
    bool started() const { return started_; }
    const RequestError& error() const { return error_; }

    // Valid from headers_done on.
    bool expects_body() const { return framing_ != Framing::none; }
    bool expects_continue() const { return expects_continue_; }
    // Whether the client wants the connection kept open after the answer
    // (HTTP/1.1 unless "Connection: close"; HTTP/1.0 only with keep-alive).
    bool keep_alive() const { return keep_alive_; }

    // The request as parsed so far (complete from headers_done on, except
    // the body).
    const httplib::Request& request() const { return request_; }
    httplib::Request take_request() { return std::move(request_); }

private:
    enum class Step {
        request_line,
        header_line,
        headers_done,
        length_body,
        chunk_size_line,
        chunk_data,
        chunk_data_end,
        trailer_line,
        complete,
        failed
    };
    enum class Framing { none, length, chunked };

    std::size_t feed_line(std::string_view data);
    std::size_t feed_body(std::string_view data);
    void line_done();
    void request_line(std::string_view line);
    void header_line(std::string_view line);
    void chunk_size_line(std::string_view line);
    void finish_headers();
    void finish_framing();
    void set_step(Step step);
    void fail(int status, std::string_view code, std::string message);
    std::size_t line_cap() const;

    const RequestLimits limits_;
    Step step_ = Step::request_line;
    State state_ = State::request_line;
    bool started_ = false;
    std::string line_;              // the line being read, without its end
    std::size_t header_bytes_ = 0;  // header and trailer lines so far
    std::size_t header_count_ = 0;
    Framing framing_ = Framing::none;
    std::uint64_t remaining_ = 0;  // of the Content-Length body or the chunk
    bool expects_continue_ = false;
    bool keep_alive_ = false;
    RequestError error_;
    httplib::Request request_;
};

// Percent-decodes a URL component; '+' becomes a space when plus_is_space
// (query strings). Malformed escapes are kept as they are.
std::string decode_url_component(std::string_view text, bool plus_is_space);

}  // namespace levqor::controld::api
