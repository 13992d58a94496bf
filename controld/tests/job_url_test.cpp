// SPDX-License-Identifier: Apache-2.0
// The http-job allow-list: normalisation with libcurl's URL API and
// segment-boundary matching (security review L9).
#include "levqor/controld/core/job_url.h"

#include <gtest/gtest.h>

namespace levqor::controld {
namespace {

std::string normalized(std::string_view url) { return normalize_job_url(url).to_string(); }

// The reason a URL is refused, or "" if it is not.
std::string url_refusal(std::string_view url) {
    try {
        normalize_job_url(url);
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
    return "";
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(JobUrl, SchemeAndHostInLowerCaseAndThePortWritten) {
    EXPECT_EQ(normalized("HTTPS://Hooks.Example.COM/api/x?y=1"), "https://hooks.example.com:443/api/x?y=1");
    EXPECT_EQ(normalized("http://h"), "http://h:80/");
    EXPECT_EQ(normalized("http://h:8080"), "http://h:8080/");
    EXPECT_EQ(normalized("http://[::1]:9000/x"), "http://[::1]:9000/x");
    EXPECT_EQ(normalized("http://[FE80::AB]/x"), "http://[fe80::ab]:80/x");
    // libcurl's own reading of odd IPv4 forms: compared as the address they are.
    EXPECT_EQ(normalized("http://0x7f.1/x"), "http://127.0.0.1:80/x");
    EXPECT_EQ(normalized("https://h/a%20b"), "https://h:443/a%20b");
}

TEST(JobUrl, RefusesWhatAServerMayReadDifferently) {
    EXPECT_TRUE(contains(url_refusal("https://h/api/..;/admin"), "';' in the path"));
    EXPECT_TRUE(contains(url_refusal("https://h/api;jsessionid=1/x"), "';' in the path"));
    for (const char* url :
         {"https://h/api%2fadmin", "https://h/api%2Fadmin", "https://h/api%5cx", "https://h/api%5Cx"}) {
        EXPECT_TRUE(contains(url_refusal(url), "encoded slashes or backslashes")) << url;
    }
    for (const char* url : {"https://h/api/%2e%2e/admin", "https://h/api/%2E./x", "https://h/%2e"}) {
        EXPECT_TRUE(contains(url_refusal(url), "encoded dots")) << url;
    }
    for (const char* url : {"https://h/api/../admin", "https://h/api/./x", "https://h/api/..", "https://h/api/.",
                            "https://h/..", "https://h/./"}) {
        EXPECT_TRUE(contains(url_refusal(url), "dot segments")) << url;
    }
    EXPECT_EQ(url_refusal("https://h/api/..x/.y/x..."), "");  // dots inside a segment are fine
    for (const char* url : {"https://h/api\\..\\admin", "https://h\\@evil/x", "https://h\\evil/x"}) {
        EXPECT_TRUE(contains(url_refusal(url), "backslash")) << url;
    }
    for (const char* url :
         {"https://user:pw@h/x", "https://user@h/x", "https://@h/x", "https://h;x@evil/", "https://h:443@evil/x"}) {
        EXPECT_TRUE(contains(url_refusal(url), "credentials")) << url;
    }
    // libcurl decodes a percent-encoded host after it has put IPv4 forms in
    // dotted decimal: "1%2e4" would stay "1.4" (the address 1.0.0.4), a normal
    // form that is not one (found by the url_allow fuzz target).
    for (const char* url : {"https://1%2e4/x", "http://%68/x", "http://h%2eexample.com/x"}) {
        EXPECT_TRUE(contains(url_refusal(url), "percent-encoded host")) << url;
    }
    EXPECT_EQ(normalized("http://1.4/x"), "http://1.0.0.4:80/x");
    // libcurl also reads "https:/host" (one slash): the first "://" must end the
    // scheme, or the checks above would look at the wrong part of the text.
    for (const char* url : {"https:/%%2/x://y", "https:/1%2e4/x://y", "https:/u@h/x://y"}) {
        EXPECT_TRUE(contains(url_refusal(url), "expected http://host")) << url;
    }
    EXPECT_TRUE(contains(url_refusal("https://h/x#frag"), "fragments"));
    EXPECT_TRUE(contains(url_refusal("https://h/x#"), "fragments"));
    EXPECT_TRUE(contains(url_refusal("http://[fe80::1%25eth0]/x"), "zone"));
    EXPECT_TRUE(contains(url_refusal("https://h/a b"), "whitespace"));
    EXPECT_TRUE(contains(url_refusal("https://h/\xc3\xa4"), "non-ASCII"));
    EXPECT_TRUE(contains(url_refusal("https://h/x\r\nHost: evil"), "control"));
    EXPECT_TRUE(contains(url_refusal("ftp://h/x"), "http or https"));
    EXPECT_TRUE(contains(url_refusal("//h/x"), "expected http://host"));
    EXPECT_TRUE(contains(url_refusal("https:h/x"), "expected http://host"));
    EXPECT_TRUE(contains(url_refusal("http://h:0/"), "port"));
    EXPECT_NE(url_refusal("http://h:99999/"), "");
    EXPECT_NE(url_refusal("http:///x"), "");
    EXPECT_NE(url_refusal(""), "");
}

TEST(JobUrl, PrefixesHaveNoQuery) {
    EXPECT_EQ(normalize_job_url_prefix("https://h/api").to_string(), "https://h:443/api");
    EXPECT_THROW(normalize_job_url_prefix("https://h/api?x=1"), std::invalid_argument);
    EXPECT_THROW(normalize_job_url_prefix("https://h/api?"), std::invalid_argument);
    EXPECT_THROW(normalize_job_url_prefix("https://h/api/../x"), std::invalid_argument);
}

TEST(JobUrl, PrefixesMatchOnSegmentBoundaries) {
    const std::vector<std::string> api = {"https://h/api"};
    EXPECT_TRUE(url_allowed("https://h/api", api));
    EXPECT_TRUE(url_allowed("https://h/api/x", api));
    EXPECT_TRUE(url_allowed("https://h/api/x/y?z=1", api));
    EXPECT_TRUE(url_allowed("https://h/api?z=1", api));
    EXPECT_FALSE(url_allowed("https://h/api-admin", api));
    EXPECT_FALSE(url_allowed("https://h/api-admin/x", api));
    EXPECT_FALSE(url_allowed("https://h/apix", api));
    EXPECT_FALSE(url_allowed("https://h/", api));

    const std::vector<std::string> dir = {"https://h/api/"};
    EXPECT_TRUE(url_allowed("https://h/api/", dir));
    EXPECT_TRUE(url_allowed("https://h/api/x", dir));
    EXPECT_FALSE(url_allowed("https://h/api", dir));
    EXPECT_FALSE(url_allowed("https://h/api-admin/", dir));

    const std::vector<std::string> origin = {"https://h"};
    EXPECT_TRUE(url_allowed("https://h/", origin));
    EXPECT_TRUE(url_allowed("https://h/anything/at/all", origin));
}

TEST(JobUrl, SchemeHostAndPortMustBeTheSame) {
    const std::vector<std::string> allow = {"https://Hooks.Example.com/api/", "http://127.0.0.1:9000"};
    EXPECT_TRUE(url_allowed("https://hooks.example.com:443/api/x", allow));
    EXPECT_TRUE(url_allowed("HTTPS://HOOKS.EXAMPLE.COM/api/y?z=1", allow));
    EXPECT_TRUE(url_allowed("http://127.0.0.1:9000/anything", allow));
    EXPECT_FALSE(url_allowed("http://hooks.example.com/api/x", allow));        // scheme
    EXPECT_FALSE(url_allowed("https://hooks.example.com:8443/api/x", allow));  // port
    EXPECT_FALSE(url_allowed("https://hooks.example.com.evil.net/api/x", allow));
    EXPECT_FALSE(url_allowed("https://hooks.example.com./api/x", allow));
    EXPECT_FALSE(url_allowed("https://hooks.example.com/other", allow));
    EXPECT_FALSE(url_allowed("http://127.0.0.1:90001/", allow));
    EXPECT_FALSE(url_allowed("http://127.0.0.1/x", allow));
    EXPECT_FALSE(url_allowed("https://hooks.example.com/api/../admin", allow));
    EXPECT_FALSE(url_allowed("https://hooks.example.com/api/..;/admin", allow));
    EXPECT_FALSE(url_allowed("https://hooks.example.com/api/%2e%2e/admin", allow));
    EXPECT_FALSE(url_allowed("https://hooks.example.com/api/x%2F..%2Fadmin", allow));
    EXPECT_FALSE(url_allowed("https://user:pw@hooks.example.com/api/x", allow));
    EXPECT_FALSE(url_allowed("ftp://hooks.example.com/api/x", allow));
    EXPECT_FALSE(url_allowed("http://127.0.0.1:9000/x", {}));
    EXPECT_FALSE(url_allowed("http://127.0.0.1:9000/x", {"not a prefix"}));
}

}  // namespace
}  // namespace levqor::controld
