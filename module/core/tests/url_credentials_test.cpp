#include "levqor/url_credentials.h"

#include <gtest/gtest.h>

namespace levqor {
namespace {

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

TEST(MaskUrlCredentials, PrefersHidingTooMuchWhenAPathHasAnAt) {
    EXPECT_EQ(mask_url_credentials("http://h/a@b"), "http://***@b");
    EXPECT_EQ(mask_url_credentials("postgresql://u:p@h/db?x=a@b"), "postgresql://***@b");
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
