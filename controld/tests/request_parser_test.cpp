// SPDX-License-Identifier: Apache-2.0
// RequestParser without sockets: framing, caps at their exact boundaries,
// and the same result however the bytes are split.
#include "levqor/controld/api/request_parser.h"

#include <gtest/gtest.h>

#include <string>

namespace levqor::controld::api {
namespace {

using State = RequestParser::State;

RequestLimits small_limits() {
    RequestLimits limits;
    limits.max_request_line_bytes = 64;
    limits.max_header_bytes = 128;
    limits.max_headers = 4;
    limits.max_body_bytes = 16;
    return limits;
}

// Feeds everything (going on after the headers); returns the bytes used.
std::size_t parse(RequestParser& parser, std::string_view data) {
    std::size_t used = parser.feed(data);
    if (parser.state() == State::headers_done) {
        parser.read_body();
        used += parser.feed(data.substr(used));
    }
    return used;
}

TEST(RequestParser, SimpleGetWithQuery) {
    RequestParser parser(RequestLimits{});
    const std::string text = "GET /a%20b/c?x=1&y=two+words&z=%2F&flag HTTP/1.1\r\nHost: h\r\n\r\n";
    EXPECT_EQ(parse(parser, text), text.size());
    ASSERT_EQ(parser.state(), State::complete);
    const auto& req = parser.request();
    EXPECT_EQ(req.method, "GET");
    EXPECT_EQ(req.path, "/a b/c");
    EXPECT_EQ(req.get_param_value("x"), "1");
    EXPECT_EQ(req.get_param_value("y"), "two words");
    EXPECT_EQ(req.get_param_value("z"), "/");
    EXPECT_TRUE(req.has_param("flag"));
    EXPECT_EQ(req.get_header_value("host"), "h");
    EXPECT_TRUE(req.body.empty());
    EXPECT_TRUE(parser.keep_alive());
}

TEST(RequestParser, ByteByByteGivesTheSameRequest) {
    const std::string text =
        "POST /jobs HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nX-A:  spaced  \r\n\r\n"
        "3\r\nabc\r\n2;x=y\r\nde\r\n0\r\nTrailer: 1\r\n\r\n";
    RequestParser parser(RequestLimits{});
    for (char c : text) {
        ASSERT_NE(parser.state(), State::failed) << parser.error().message;
        if (parser.state() == State::headers_done) parser.read_body();
        ASSERT_EQ(parser.feed(std::string_view(&c, 1)), 1u);
    }
    ASSERT_EQ(parser.state(), State::complete);
    EXPECT_EQ(parser.request().body, "abcde");
    EXPECT_EQ(parser.request().get_header_value("X-A"), "spaced");
    EXPECT_FALSE(parser.request().has_header("Trailer"));
}

TEST(RequestParser, StopsAtTheEndOfARequest) {
    const std::string first = "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc";
    const std::string second = "GET /b HTTP/1.1\r\nHost: h\r\n\r\n";
    RequestParser parser(RequestLimits{});
    EXPECT_EQ(parse(parser, first + second), first.size());
    EXPECT_EQ(parser.request().body, "abc");
    parser.reset();
    EXPECT_EQ(parse(parser, second), second.size());
    EXPECT_EQ(parser.request().path, "/b");
}

TEST(RequestParser, StopsAfterTheHeadersUntilToldToReadTheBody) {
    RequestParser parser(RequestLimits{});
    const std::string head = "PUT /x HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nExpect: 100-Continue\r\n\r\n";
    EXPECT_EQ(parser.feed(head + "ok"), head.size());
    ASSERT_EQ(parser.state(), State::headers_done);
    EXPECT_TRUE(parser.expects_body());
    EXPECT_TRUE(parser.expects_continue());
    parser.read_body();
    EXPECT_EQ(parser.feed("ok"), 2u);
    EXPECT_EQ(parser.state(), State::complete);
}

TEST(RequestParser, NoLengthNoBody) {
    RequestParser parser(RequestLimits{});
    parse(parser, "POST /x HTTP/1.1\r\nHost: h\r\n\r\n");
    EXPECT_EQ(parser.state(), State::complete);
    EXPECT_FALSE(parser.expects_body());
}

TEST(RequestParser, RequestLineCapIsExact) {
    const std::string fits = "GET /" + std::string(64 - 14, 'a') + " HTTP/1.1";  // 64 bytes
    ASSERT_EQ(fits.size(), 64u);
    RequestParser ok(small_limits());
    parse(ok, fits + "\r\nHost: h\r\n\r\n");
    EXPECT_EQ(ok.state(), State::complete);

    RequestParser over(small_limits());
    // One byte more, and no line end yet: refused already.
    over.feed("GET /" + std::string(64 - 14 + 1, 'a') + " HTTP/1.1");
    ASSERT_EQ(over.state(), State::failed);
    EXPECT_EQ(over.error().status, 414);
    EXPECT_EQ(over.error().code, "uri_too_long");
}

TEST(RequestParser, HeaderCapsAreExact) {
    RequestParser count(small_limits());
    parse(count, "GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n");
    EXPECT_EQ(count.state(), State::complete);
    RequestParser too_many(small_limits());
    parse(too_many, "GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n");
    ASSERT_EQ(too_many.state(), State::failed);
    EXPECT_EQ(too_many.error().status, 431);

    // 128 bytes of header lines, line ends included.
    const std::string fill = "X: " + std::string(128 - 9 - 5 - 2, 'v') + "\r\n";
    RequestParser bytes(small_limits());
    parse(bytes, "GET / HTTP/1.1\r\nHost: h\r\n" + fill + "\r\n");
    EXPECT_EQ(bytes.state(), State::complete) << bytes.error().message;
    RequestParser over(small_limits());
    over.feed("GET / HTTP/1.1\r\nHost: h\r\nX: " + std::string(128, 'v'));
    ASSERT_EQ(over.state(), State::failed);
    EXPECT_EQ(over.error().status, 431);
    EXPECT_EQ(over.error().code, "request_header_fields_too_large");
}

TEST(RequestParser, BodyCapHoldsForEveryFraming) {
    const auto status = [](const std::string& text) {
        RequestParser parser(small_limits());
        parse(parser, text);
        return parser.state() == State::failed ? parser.error().status : 0;
    };
    const std::string head = "POST / HTTP/1.1\r\nHost: h\r\n";
    EXPECT_EQ(status(head + "Content-Length: 16\r\n\r\n" + std::string(16, 'x')), 0);
    EXPECT_EQ(status(head + "Content-Length: 17\r\n\r\n"), 413);
    EXPECT_EQ(status(head + "Content-Length: 99999999999999999999\r\n\r\n"), 400);
    EXPECT_EQ(status(head + "Transfer-Encoding: chunked\r\n\r\n8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n"), 0);
    EXPECT_EQ(status(head + "Transfer-Encoding: chunked\r\n\r\n8\r\n12345678\r\n9\r\n"), 413);
    EXPECT_EQ(status(head + "Transfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n"), 400);
    EXPECT_EQ(status(head + "Transfer-Encoding: chunked\r\n\r\nzz\r\n"), 400);
    EXPECT_EQ(status(head + "Transfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n"), 400);
}

TEST(RequestParser, RefusesWhatItCannotFrameOrDecode) {
    const auto error = [](const std::string& headers) {
        RequestParser parser(RequestLimits{});
        parse(parser, "POST / HTTP/1.1\r\nHost: h\r\n" + headers + "\r\n");
        return parser.state() == State::failed ? parser.error().code : std::string("accepted");
    };
    EXPECT_EQ(error("Content-Encoding: gzip\r\n"), "unsupported_media_type");
    EXPECT_EQ(error("Content-Encoding: identity\r\n"), "accepted");
    EXPECT_EQ(error("Transfer-Encoding: chunked\r\nContent-Length: 1\r\n"), "bad_request");
    EXPECT_EQ(error("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"), "not_implemented");
    EXPECT_EQ(error("Transfer-Encoding: identity\r\n"), "not_implemented");
    EXPECT_EQ(error("Content-Length: 1\r\nContent-Length: 2\r\n"), "bad_request");
    EXPECT_EQ(error("Content-Length: 0\r\nContent-Length: 0\r\n"), "accepted");
    EXPECT_EQ(error("Content-Length: +1\r\n"), "bad_request");
    EXPECT_EQ(error("Host: again\r\n"), "bad_request");
    EXPECT_EQ(error("Name : x\r\n"), "bad_request");
    EXPECT_EQ(error("Bad\x01: x\r\n"), "bad_request");
    EXPECT_EQ(error("X: a\rb\r\n"), "bad_request");
    EXPECT_EQ(error("Expect: 200-ok\r\n"), "expectation_failed");
}

TEST(RequestParser, MalformedRequestLines) {
    for (const char* line : {"GET\r\n", "GET /\r\n", "GET  / HTTP/1.1\r\n", "GET / HTTP/1.1 x\r\n",
                             "G(T / HTTP/1.1\r\n", "GET / HTTP/x\r\n"}) {
        RequestParser parser(RequestLimits{});
        parser.feed(line);
        ASSERT_EQ(parser.state(), State::failed) << line;
        EXPECT_EQ(parser.error().status, 400) << line;
    }
    RequestParser http2(RequestLimits{});
    http2.feed("GET / HTTP/2.0\r\n");
    EXPECT_EQ(http2.error().status, 505);
}

TEST(RequestParser, LeadingEmptyLinesAndBareLineFeeds) {
    RequestParser parser(RequestLimits{});
    parse(parser, "\r\n\r\nGET /x HTTP/1.0\nConnection: Keep-Alive\n\n");
    ASSERT_EQ(parser.state(), State::complete);
    EXPECT_EQ(parser.request().path, "/x");
    EXPECT_TRUE(parser.keep_alive());
}

TEST(RequestParser, ConnectionCloseAndHttp10) {
    RequestParser closing(RequestLimits{});
    parse(closing, "GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, Close\r\n\r\n");
    EXPECT_FALSE(closing.keep_alive());
    RequestParser old(RequestLimits{});
    parse(old, "GET / HTTP/1.0\r\n\r\n");
    EXPECT_EQ(old.state(), State::complete);
    EXPECT_FALSE(old.keep_alive());
}

TEST(RequestParser, AbsoluteFormTargetIsItsPath) {
    RequestParser parser(RequestLimits{});
    parse(parser, "GET http://h:1/ops/flags?a=b HTTP/1.1\r\nHost: h\r\n\r\n");
    EXPECT_EQ(parser.request().path, "/ops/flags");
    EXPECT_EQ(parser.request().get_param_value("a"), "b");
}

TEST(DecodeUrl, EscapesPlusAndMalformed) {
    EXPECT_EQ(decode_url_component("a%2Fb%zz%4", false), "a/b%zz%4");
    EXPECT_EQ(decode_url_component("a+b", false), "a+b");
    EXPECT_EQ(decode_url_component("a+b", true), "a b");
}

}  // namespace
}  // namespace levqor::controld::api
