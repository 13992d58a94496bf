// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/auth/token_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "test_support.h"

namespace levqor::controld::auth {
namespace {

using testing::TempDir;

const std::string kAdmin = "admin-0123456789abcdef0123456789";
const std::string kAdminNext = "admin-next-0123456789abcdef012345";
const std::string kProducer = "producer-0123456789abcdef01234567";

TEST(TokenStore, AuthenticatesEachRole) {
    TempDir dir;
    TokenStore store;
    const auto statuses = store.load({dir.write("admin", kAdmin + "\n"), dir.write("producer", kProducer)});
    ASSERT_EQ(statuses.size(), 2u);
    EXPECT_EQ(statuses[0].tokens, 1u);
    EXPECT_EQ(statuses[1].tokens, 1u);
    EXPECT_EQ(store.authenticate(kAdmin), Role::admin);
    EXPECT_EQ(store.authenticate(kProducer), Role::producer);
    EXPECT_EQ(store.authenticate(kAdmin + "x"), std::nullopt);
    EXPECT_EQ(store.authenticate(kAdmin.substr(1)), std::nullopt);
    EXPECT_EQ(store.authenticate(""), std::nullopt);
    EXPECT_TRUE(store.enabled(Role::admin));
    EXPECT_TRUE(store.enabled(Role::producer));
}

TEST(TokenStore, SeveralTokensPerFileCommentsAndBlankLines) {
    TempDir dir;
    TokenStore store;
    store.load(
        {dir.write("admin", "# rotated 2024-05-01\n" + kAdmin + "\n\n  " + kAdminNext + "  \r\n"), std::nullopt});
    EXPECT_EQ(store.authenticate(kAdmin), Role::admin);
    EXPECT_EQ(store.authenticate(kAdminNext), Role::admin);
    EXPECT_EQ(store.authenticate("# rotated 2024-05-01"), std::nullopt);
    EXPECT_FALSE(store.enabled(Role::producer));
}

TEST(TokenStore, MissingOrUnsetFileDisablesTheRole) {
    TempDir dir;
    TokenStore store;
    const auto statuses = store.load({dir.path() + "/absent", std::nullopt});
    EXPECT_EQ(statuses[0].tokens, 0u);
    EXPECT_NE(statuses[0].note.find("does not exist"), std::string::npos);
    EXPECT_NE(statuses[1].note.find("not configured"), std::string::npos);
    EXPECT_FALSE(store.enabled(Role::admin));
    EXPECT_FALSE(store.enabled(Role::producer));
    EXPECT_EQ(store.authenticate(kAdmin), std::nullopt);
}

TEST(TokenStore, BadFilesAreErrorsThatNeverShowTheToken) {
    TempDir dir;
    TokenStore store;
    for (const auto& content :
         std::vector<std::string>{"", "# only a comment\n", "tooSHORT\n", "has a space in it 0123456789\n"}) {
        try {
            store.load({dir.write("admin", content), std::nullopt});
            FAIL() << "accepted: " << content;
        } catch (const TokenFileError& e) {
            const std::string what = e.what();
            EXPECT_NE(what.find("admin token file"), std::string::npos) << what;
            EXPECT_EQ(what.find("tooSHORT"), std::string::npos) << what;  // not echoed
        }
    }
    EXPECT_THROW(store.load({dir.path(), std::nullopt}), TokenFileError);  // a directory
}

TEST(TokenStore, FailedReloadKeepsThePreviousTokens) {
    TempDir dir;
    TokenStore store;
    const auto admin = dir.write("admin", kAdmin);
    store.load({admin, std::nullopt});
    dir.write("admin", "bad");
    EXPECT_THROW(store.load({admin, std::nullopt}), TokenFileError);
    EXPECT_EQ(store.authenticate(kAdmin), Role::admin);
    dir.write("admin", kAdminNext);
    store.load({admin, std::nullopt});
    EXPECT_EQ(store.authenticate(kAdmin), std::nullopt);
    EXPECT_EQ(store.authenticate(kAdminNext), Role::admin);
}

TEST(TokenStore, RefusesAFileGroupOrOthersCanReadOrWrite) {
    TempDir dir;
    TokenStore store;
    for (const mode_t mode : {0644, 0640, 0604, 0620, 0602}) {
        const auto admin = dir.write("admin", kAdmin, mode);
        try {
            store.load({admin, std::nullopt});
            FAIL() << "accepted mode " << std::oct << mode;
        } catch (const TokenFileError& e) {
            char expected[16];
            std::snprintf(expected, sizeof expected, "(mode %04o)", static_cast<unsigned>(mode));
            EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
            EXPECT_NE(std::string(e.what()).find("run: chmod 600 " + admin), std::string::npos) << e.what();
        }
    }
    EXPECT_FALSE(store.enabled(Role::admin));
    // The producer's file is checked the same way.
    EXPECT_THROW(store.load({std::nullopt, dir.write("producer", kProducer, 0640)}), TokenFileError);
    EXPECT_NO_THROW(store.load({dir.write("admin", kAdmin, 0600), dir.write("producer", kProducer, 0400)}));
}

TEST(TokenStore, DigestIsSha256) {
    const auto d = TokenStore::digest("abc");
    EXPECT_EQ(d[0], 0xba);
    EXPECT_EQ(d[1], 0x78);
    EXPECT_EQ(d[31], 0xad);
}

}  // namespace
}  // namespace levqor::controld::auth
