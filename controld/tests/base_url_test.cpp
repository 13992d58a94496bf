// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/ctl/base_url.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace levqor::controld::ctl {
namespace {

TEST(BaseUrl, ParsesOriginAndDefaultsThePort) {
    auto url = parse_base_url("http://127.0.0.1:8089");
    EXPECT_EQ(url.scheme, "http");
    EXPECT_EQ(url.host, "127.0.0.1");
    EXPECT_EQ(url.port, 8089);
    EXPECT_EQ(url.path_prefix, "");
    EXPECT_EQ(parse_base_url("http://localhost").port, 80);
    EXPECT_EQ(parse_base_url("HTTPS://ops.example.com").port, 443);
}

TEST(BaseUrl, KeepsAPathPrefixWithoutTrailingSlash) {
    auto url = parse_base_url("https://ops.example.com/controld/");
    EXPECT_EQ(url.path_prefix, "/controld");
    EXPECT_EQ(url.url_for("/healthz"), "https://ops.example.com:443/controld/healthz");
    EXPECT_EQ(parse_base_url("http://h:1/").path_prefix, "");
}

TEST(BaseUrl, Ipv6) {
    auto url = parse_base_url("http://[fe80::1]:8089");
    EXPECT_EQ(url.host, "fe80::1");
    EXPECT_EQ(url.origin(), "http://[fe80::1]:8089");
    EXPECT_EQ(parse_base_url("http://[::1]").port, 80);
}

TEST(BaseUrl, RejectsBadUrls) {
    for (const char* bad : {"127.0.0.1:8089", "ftp://h", "http://", "http://h:x", "http://h:0", "http://u:p@h",
                            "http://h/x?y", "http://::1:80"}) {
        EXPECT_THROW(parse_base_url(bad), std::invalid_argument) << bad;
    }
}

}  // namespace
}  // namespace levqor::controld::ctl
