// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/core/listen_address.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace levqor::controld {
namespace {

TEST(ListenAddress, ParsesIpv4HostAndPort) {
    EXPECT_EQ(parse_listen_address("127.0.0.1:8089"), (ListenAddress{"127.0.0.1", 8089}));
    EXPECT_EQ(parse_listen_address("0.0.0.0:65535"), (ListenAddress{"0.0.0.0", 65535}));
}

TEST(ListenAddress, PortZeroMeansPickAFreePort) {
    EXPECT_EQ(parse_listen_address("127.0.0.1:0"), (ListenAddress{"127.0.0.1", 0}));
}

TEST(ListenAddress, ParsesHostNames) {
    EXPECT_EQ(parse_listen_address("localhost:80"), (ListenAddress{"localhost", 80}));
    EXPECT_EQ(parse_listen_address("ops-1.example.com:9000"), (ListenAddress{"ops-1.example.com", 9000}));
}

TEST(ListenAddress, ParsesBracketedIpv6) {
    EXPECT_EQ(parse_listen_address("[::1]:8089"), (ListenAddress{"::1", 8089}));
    EXPECT_EQ(parse_listen_address("[fe80::a:b]:1"), (ListenAddress{"fe80::a:b", 1}));
}

TEST(ListenAddress, ToStringRoundTrips) {
    for (const char* text : {"127.0.0.1:8089", "[::1]:8089", "localhost:0"}) {
        EXPECT_EQ(parse_listen_address(text).to_string(), text);
    }
}

void expect_invalid(const std::string& text, const std::string& reason) {
    try {
        parse_listen_address(text);
        ADD_FAILURE() << "accepted \"" << text << "\"";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find(reason), std::string::npos) << "\"" << text << "\": " << e.what();
        EXPECT_NE(std::string(e.what()).find("e.g. 127.0.0.1:8089"), std::string::npos)
            << "the message should show a valid example";
    }
}

TEST(ListenAddress, RejectsMissingParts) {
    expect_invalid("", "empty");
    expect_invalid("127.0.0.1", "missing port");
    expect_invalid("127.0.0.1:", "missing port");
    expect_invalid(":8089", "missing host");
}

TEST(ListenAddress, RejectsBadPorts) {
    expect_invalid("127.0.0.1:65536", "greater than 65535");
    expect_invalid("127.0.0.1:http", "not a number");
    expect_invalid("127.0.0.1:-1", "not a number");
    expect_invalid("127.0.0.1:123456", "not a number");
    expect_invalid("127.0.0.1: 80", "not a number");
}

TEST(ListenAddress, RejectsBadHosts) {
    expect_invalid("256.0.0.1:80", "neither an IPv4 address nor a host name");
    expect_invalid("1.2.3:80", "neither");
    expect_invalid("exa mple:80", "neither");
    expect_invalid("-bad.example:80", "neither");
    expect_invalid("a..b:80", "neither");
    expect_invalid("::1:8089", "brackets");
    expect_invalid("[::1]8089", "missing ':port'");
    expect_invalid("[::1:8089", "missing ']'");
    expect_invalid("[127.0.0.1]:80", "not an IPv6 address");
    expect_invalid("[::1]:", "missing port");
}

}  // namespace
}  // namespace levqor::controld
