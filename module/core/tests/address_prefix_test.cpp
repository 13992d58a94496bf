// SPDX-License-Identifier: Apache-2.0
#include "levqor/address_prefix.h"

#include <gtest/gtest.h>

#include <arpa/inet.h>

#include <string>

namespace levqor::limit {
namespace {

// The bucket name of a textual address, in text again (for readable checks).
std::string bucket_of(const std::string& text, unsigned prefix6 = kDefaultIpPrefix6) {
    unsigned char out[kAddressBytes];
    const std::size_t n = address_bucket_text(text, prefix6, out);
    if (n == 0) return "not an address";
    char buf[INET6_ADDRSTRLEN];
    return inet_ntop(n == 4 ? AF_INET : AF_INET6, out, buf, sizeof buf);
}

TEST(AddressPrefix, Ipv4IsAlwaysWhole) {
    EXPECT_EQ(bucket_of("192.0.2.7"), "192.0.2.7");
    EXPECT_EQ(bucket_of("192.0.2.7", 32), "192.0.2.7");
    EXPECT_EQ(bucket_of("255.255.255.255"), "255.255.255.255");
}

TEST(AddressPrefix, Ipv6IsCutToThePrefix) {
    EXPECT_EQ(bucket_of("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), "2001:db8:1:2::");
    EXPECT_EQ(bucket_of("2001:db8:1:2::1"), bucket_of("2001:db8:1:2:ffff:ffff:ffff:ffff"));
    EXPECT_NE(bucket_of("2001:db8:1:2::1"), bucket_of("2001:db8:1:3::1"));
    EXPECT_EQ(bucket_of("2001:db8:1:2:aaaa::1", 48), "2001:db8:1::");
    EXPECT_EQ(bucket_of("2001:db8:1:2:aaaa::1", 128), "2001:db8:1:2:aaaa::1");
    EXPECT_EQ(bucket_of("2001:db8:1:2:aaaa::1", 32), "2001:db8::");
}

TEST(AddressPrefix, PrefixesThatAreNotWholeBytes) {
    EXPECT_EQ(bucket_of("2001:db8:1:2:ffff::", 68), "2001:db8:1:2:f000::");
    EXPECT_EQ(bucket_of("2001:db8:1:2:ffff::", 65), "2001:db8:1:2:8000::");
    EXPECT_EQ(bucket_of("2001:db8:ffff::", 47), "2001:db8:fffe::");
    EXPECT_EQ(bucket_of("2001:db8:1:2:ffff:ffff:ffff:ffff", 127), "2001:db8:1:2:ffff:ffff:ffff:fffe");
}

TEST(AddressPrefix, Ipv4MappedIpv6IsTheIpv4Address) {
    // Cut to /64, every IPv4 client of a dual-stack socket would share one bucket.
    EXPECT_EQ(bucket_of("::ffff:192.0.2.7"), "192.0.2.7");
    EXPECT_EQ(bucket_of("::ffff:c000:207"), "192.0.2.7");
    EXPECT_NE(bucket_of("::ffff:192.0.2.7"), bucket_of("::ffff:192.0.2.8"));
    // Not mapped: ::1 and ::192.0.2.7 are IPv6 addresses like any other.
    EXPECT_EQ(bucket_of("::1"), "::");
}

TEST(AddressPrefix, BinaryAndTextAgree) {
    for (const char* text : {"192.0.2.7", "2001:db8:1:2:aaaa::1", "::ffff:10.1.2.3", "::"}) {
        unsigned char bin[16], from_bin[kAddressBytes], from_text[kAddressBytes];
        const bool v6 = std::string(text).find(':') != std::string::npos;
        ASSERT_EQ(inet_pton(v6 ? AF_INET6 : AF_INET, text, bin), 1) << text;
        const std::size_t a = address_bucket(bin, v6 ? 16 : 4, 64, from_bin);
        const std::size_t b = address_bucket_text(text, 64, from_text);
        ASSERT_EQ(a, b) << text;
        EXPECT_EQ(std::string(reinterpret_cast<char*>(from_bin), a), std::string(reinterpret_cast<char*>(from_text), b))
            << text;
    }
}

TEST(AddressPrefix, OtherTextIsNotAnAddress) {
    for (const char* text : {"", "a", "abcd", "client-42", "1.2.3", "1.2.3.4.5", "01.2.3.4", "1.2.3.4 ", " ::1",
                             "[::1]", "fe80::1%eth0", "1.2.3.4, 5.6.7.8", "2001:db8::1::2", "unix:", "::ffff:1.2.3.4.5",
                             "0000:0000:0000:0000:0000:0000:0000:0000:0000"}) {
        EXPECT_EQ(bucket_of(text), "not an address") << '"' << text << '"';
    }
}

TEST(AddressPrefix, BinaryOfAnotherLengthIsRefused) {
    unsigned char in[8] = {}, out[kAddressBytes];
    EXPECT_EQ(address_bucket(in, 8, 64, out), 0u);
    EXPECT_EQ(address_bucket(in, 0, 64, out), 0u);
}

}  // namespace
}  // namespace levqor::limit
