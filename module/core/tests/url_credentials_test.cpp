// SPDX-License-Identifier: Apache-2.0
#include "levqor/url_credentials.h"

#include <gtest/gtest.h>

namespace levqor {
namespace {

TEST(MaskUrl, ReplacesEverythingUpToTheLastAt) {
    EXPECT_EQ(mask_url("redis://:secret@h:1/0"), "redis://***@h:1/0");
    EXPECT_EQ(mask_url("redis://app:s3cret pass\"'\n@h"), "redis://***@h");
    EXPECT_EQ(mask_url("redis-cluster://a:b@c@n1,n2"), "redis-cluster://***@n1,n2");
    for (const char* same : {"redis://h:1", "unix:/s?db=1", "redis://@h", "", "app:pw@h"}) {
        EXPECT_EQ(mask_url(same), same);
    }
}

TEST(MaskUrlCredentials, ReplacesUserAndPasswordWithStars) {
    EXPECT_EQ(mask_url_credentials("redis://:secret@h:1/0"), "redis://***@h:1/0");
    EXPECT_EQ(mask_url_credentials("redis://app:secret@h:1"), "redis://***@h:1");
    EXPECT_EQ(mask_url_credentials("redis-sentinel://:pw@s1,s2/m"), "redis-sentinel://***@s1,s2/m");
    EXPECT_EQ(mask_url_credentials("postgresql://u:p@h/db"), "postgresql://***@h/db");
}

TEST(MaskUrlCredentials, LeavesUrlsWithoutCredentialsAlone) {
    for (const char* text : {"redis://h:1/0", "unix:/run/redis.sock?db=2", "host=h", "", "://", "redis://@h",
                             "mail me at user@example.com"}) {
        EXPECT_EQ(mask_url_credentials(text), text);
    }
}

// The Redis grammar's rule: the credentials end at the URL's last '@'.
TEST(MaskUrlCredentials, HidesPasswordsThatContainAtSlashAndColon) {
    EXPECT_EQ(mask_url_credentials("redis://app:p@ss/w:rd@h:1/2"), "redis://***@h:1/2");
}

TEST(MaskUrlCredentials, PrefersHidingTooMuchWhenAPathOrTheTextAfterHasAnAt) {
    EXPECT_EQ(mask_url_credentials("http://h/a@b"), "http://***@b");
    EXPECT_EQ(mask_url_credentials("postgresql://u:p@h/db?x=a@b"), "postgresql://***@b");
    EXPECT_EQ(mask_url_credentials("redis://:pw@h down, ask ops@example.com"), "redis://***@example.com");
}

TEST(MaskUrlCredentials, PasswordsMayContainSpaces) {
    EXPECT_EQ(mask_url_credentials("redis=redis://:s3cret pass@127.0.0.1:1"), "redis=redis://***@127.0.0.1:1");
}

TEST(MaskUrlCredentials, AUrlEndsWhereTheNextBegins) {
    EXPECT_EQ(mask_url_credentials("redis://:a@10.0.0.1:6379/0 and postgresql://u:pw@db/x"),
              "redis://***@10.0.0.1:6379/0 and postgresql://***@db/x");
    EXPECT_EQ(mask_url_credentials("x=redis://:a@h1,y=redis+tls://:b@h2"), "x=redis://***@h1,y=redis+tls://***@h2");
}

TEST(MaskUrlCredentials, MasksEveryUrlInAText) {
    EXPECT_EQ(mask_url_credentials("from redis://:a@h1 to \"postgres://u:b@h2/x\" ok"),
              "from redis://***@h1 to \"postgres://***@h2/x\" ok");
    EXPECT_EQ(mask_url_credentials("redis=redis://:pw@h"), "redis=redis://***@h");
    EXPECT_EQ(mask_url_credentials("'redis://:a@h1'\tredis://:b@h2\n"), "'redis://***@h1'\tredis://***@h2\n");
}

TEST(MaskUrlCredentials, AUrlInsideAnotherIsHiddenToo) {
    const std::string out = mask_url_credentials("http://h/?next=redis://:pw@h2");
    EXPECT_EQ(out.find("pw"), std::string::npos) << out;
}

}  // namespace
}  // namespace levqor
