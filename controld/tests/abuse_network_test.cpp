// SPDX-License-Identifier: Apache-2.0
// Network identity for the abuse rules: ASN from MaxMind's GeoLite2-ASN test
// database (tests/data), the /24 or /48 without one, mapped IPv6 as IPv4.
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "levqor/controld/abuse/network.h"
#include "test_support.h"

namespace levqor::controld::abuse {
namespace {

const std::string kAsnTestDb = std::string(LEVQOR_CONTROLD_TEST_DATA) + "/GeoLite2-ASN-Test.mmdb";

struct NetworkCase {
    const char* ip;
    const char* key;
    const char* kind;
};

TEST(AbuseNetwork, WithoutADatabaseANetworkIsThe24OrThe48) {
    const NetworkResolver resolver;
    EXPECT_FALSE(resolver.has_asn_db());
    const NetworkCase cases[] = {
        {"198.51.100.7", "198.51.100.0/24", "prefix"},
        {"198.51.100.255", "198.51.100.0/24", "prefix"},
        {"198.51.101.7", "198.51.101.0/24", "prefix"},
        {"0.0.0.0", "0.0.0.0/24", "prefix"},
        {"2001:db8:1:2::5", "2001:db8:1::/48", "prefix"},
        {"2001:db8:1:ffff:ffff:ffff:ffff:ffff", "2001:db8:1::/48", "prefix"},
        {"2001:DB8:2::1", "2001:db8:2::/48", "prefix"},
        {"::1", "::/48", "prefix"},
        // IPv4-mapped IPv6 counts as the IPv4 address.
        {"::ffff:198.51.100.7", "198.51.100.0/24", "prefix"},
        {"::FFFF:c633:6407", "198.51.100.0/24", "prefix"},
        // IPv4-compatible (deprecated) and NAT64 forms are IPv6.
        {"::198.51.100.7", "::/48", "prefix"},
        {"64:ff9b::c633:6407", "64:ff9b::/48", "prefix"},
    };
    for (const auto& c : cases) {
        const auto network = resolver.resolve(c.ip);
        EXPECT_EQ(network.key, c.key) << c.ip;
        EXPECT_EQ(network.kind, c.kind) << c.ip;
    }
}

TEST(AbuseNetwork, ANonIpIsInvalidInputNamingIp) {
    const NetworkResolver resolver;
    const char* bad[] = {
        "",         "1.2.3",    "1.2.3.4:80", "[::1]",       "fe80::1%eth0", "256.1.1.1",         " 1.2.3.4",
        "1.2.3.4 ", "01.2.3.4", "1.2.3.4/24", "example.com", "::ffff:1.2.3", "1:2:3:4:5:6:7:8:9", "2001:db8:::1"};
    for (const char* ip : bad) {
        try {
            resolver.resolve(ip);
            ADD_FAILURE() << "accepted " << ip;
        } catch (const InvalidInput& e) {
            EXPECT_EQ(e.field(), "ip") << ip;
        }
    }
    EXPECT_THROW(resolver.resolve(std::string(46, '1')), InvalidInput);
    EXPECT_THROW(resolver.resolve(std::string("1.2.3.4\0", 8)), InvalidInput);
}

TEST(AbuseNetwork, TheTestDatabaseGivesTheAsnOfEveryPrefixItSpans) {
    const NetworkResolver resolver(kAsnTestDb);
    ASSERT_TRUE(resolver.has_asn_db());
    const NetworkCase cases[] = {
        {"1.0.0.1", "AS15169", "asn"},
        // AS1221 is 1.128.0.0/11: two /24s far apart are one network.
        {"1.128.0.1", "AS1221", "asn"},
        {"1.159.255.254", "AS1221", "asn"},
        // AS7018 spans many separate prefixes (12.81.92.0/22, 12.87.64.0/19, ...).
        {"12.81.92.1", "AS7018", "asn"},
        {"12.87.64.5", "AS7018", "asn"},
        {"12.88.0.1", "AS7018", "asn"},
        // Mapped IPv6 looks up the IPv4 address.
        {"::ffff:1.0.0.1", "AS15169", "asn"},
        {"::ffff:12.87.64.5", "AS7018", "asn"},
        {"2001:1700::1", "AS6730", "asn"},
        {"2003::1", "AS3320", "asn"},
        {"2003:1fff:ffff::1", "AS3320", "asn"},
        // Outside the database: the prefix.
        {"198.51.100.7", "198.51.100.0/24", "prefix"},
        {"1.127.255.1", "1.127.255.0/24", "prefix"},
        {"2001:db8:1::5", "2001:db8:1::/48", "prefix"},
        {"::ffff:198.51.100.7", "198.51.100.0/24", "prefix"},
    };
    for (const auto& c : cases) {
        const auto network = resolver.resolve(c.ip);
        EXPECT_EQ(network.key, c.key) << c.ip;
        EXPECT_EQ(network.kind, c.kind) << c.ip;
    }
    EXPECT_THROW(resolver.resolve("not-an-ip"), InvalidInput);
}

TEST(AbuseNetwork, StatusSaysWhetherAnAsnDatabaseIsUsed) {
    const auto without = NetworkResolver().status();
    EXPECT_FALSE(without.asn_db);
    EXPECT_EQ(without.note, "no ASN database: networks are the /24 (IPv6 /48)");

    const auto with = NetworkResolver(kAsnTestDb).status();
    EXPECT_TRUE(with.asn_db);
    EXPECT_EQ(with.path, kAsnTestDb);
    EXPECT_EQ(with.database_type, "GeoLite2-ASN");
    EXPECT_GT(with.build_epoch, 0u);
    EXPECT_EQ(with.note, "ASN from " + kAsnTestDb);
}

TEST(AbuseNetwork, AFileThatIsNotAnAsnDatabaseIsRefusedNamingIt) {
    testing::TempDir dir;
    const auto missing = dir.file("missing.mmdb");
    try {
        NetworkResolver resolver(missing);
        ADD_FAILURE() << "opened a missing file";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("abuse.asn_mmdb " + missing + ": cannot open"), std::string::npos)
            << e.what();
    }
    const auto junk = dir.write("junk.mmdb", std::string(4096, 'x'));
    try {
        NetworkResolver resolver(junk);
        ADD_FAILURE() << "opened a junk file";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find(junk), std::string::npos) << e.what();
    }
}

TEST(AbuseNetwork, LookupsFromManyThreadsAgree) {
    const NetworkResolver resolver(kAsnTestDb);
    std::vector<std::thread> threads;
    std::vector<int> wrong(4, 0);
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 2000; ++i) {
                if (resolver.resolve(i % 2 ? "12.87.64.5" : "::ffff:1.0.0.1").key != (i % 2 ? "AS7018" : "AS15169")) {
                    ++wrong[t];
                }
            }
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(wrong, std::vector<int>(4, 0));
}

}  // namespace
}  // namespace levqor::controld::abuse
