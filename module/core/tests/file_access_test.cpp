// SPDX-License-Identifier: Apache-2.0
#include "levqor/file_access.h"

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

namespace levqor::files {
namespace {

constexpr uid_t kOwner = 1000;
constexpr gid_t kGroup = 1000;

TEST(FileAccess, OwnerGroupOthersClassesAsTheKernelChecksThem) {
    const User owner{kOwner, {kGroup}}, member{2000, {3000, kGroup}}, other{2000, {3000}}, root{0, {0}};
    EXPECT_TRUE(permits(0400, kOwner, kGroup, owner, kRead));
    EXPECT_FALSE(permits(0040, kOwner, kGroup, owner, kRead));   // the owner class decides for the owner
    EXPECT_TRUE(permits(0040, kOwner, kGroup, member, kRead));   // a supplementary group counts
    EXPECT_FALSE(permits(0404, kOwner, kGroup, member, kRead));  // the group class decides for members
    EXPECT_TRUE(permits(0004, kOwner, kGroup, other, kRead));
    EXPECT_FALSE(permits(0440, kOwner, kGroup, other, kRead));
    EXPECT_TRUE(permits(0711, kOwner, kGroup, other, kSearch));
    EXPECT_FALSE(permits(0750, kOwner, kGroup, other, kSearch));
    EXPECT_TRUE(permits(0000, kOwner, kGroup, root, kRead));
}

// A temporary directory tree, made and judged by root (the tests' user here)
// for an unprivileged user; skipped when not root (chown needs it).
class FileAccessTree : public ::testing::Test {
protected:
    void SetUp() override {
        if (geteuid() != 0) GTEST_SKIP() << "needs root to chown test files";
        char tmpl[] = "/tmp/levqor-file-access-XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        root_ = tmpl;
        ASSERT_EQ(chmod(root_.c_str(), 0755), 0);
    }
    void TearDown() override {
        if (!root_.empty()) std::system(("rm -rf " + root_).c_str());
    }
    std::string dir(const std::string& name, mode_t mode) {
        const std::string p = root_ + "/" + name;
        EXPECT_EQ(mkdir(p.c_str(), mode), 0);
        EXPECT_EQ(chmod(p.c_str(), mode), 0);  // past the umask
        return p;
    }
    std::string file(const std::string& name, mode_t mode) {
        const std::string p = root_ + "/" + name;
        std::ofstream(p) << "x\n";
        EXPECT_EQ(chmod(p.c_str(), mode), 0);
        return p;
    }
    const User nobody_{65534, {65534}};
    std::string root_;
};

TEST_F(FileAccessTree, ReadableThroughSearchableDirectories) {
    dir("pub", 0755);
    EXPECT_EQ(unreadable_by(file("pub/flags", 0644), nobody_), "");
}

TEST_F(FileAccessTree, ADirectoryOnThePathThatTheUserCannotSearch) {
    const std::string home = dir("home", 0700);  // like /root
    dir("home/checkout", 0755);
    const std::string why = unreadable_by(file("home/checkout/flags", 0644), nobody_);
    EXPECT_EQ(why, "the directory \"" + home + "\" (mode 0700, owner 0:0) is not searchable by it");
}

TEST_F(FileAccessTree, AFileTheUserCannotRead) {
    dir("pub", 0755);
    EXPECT_EQ(unreadable_by(file("pub/flags", 0600), nobody_), "the file (mode 0600, owner 0:0) is not readable by it");
    // Group-readable, and the user is in the file's group (a supplementary group).
    const std::string f = file("pub/shared", 0640);
    ASSERT_EQ(chown(f.c_str(), 0, 4242), 0);
    EXPECT_EQ(unreadable_by(f, User{65534, {65534, 4242}}), "");
    EXPECT_NE(unreadable_by(f, nobody_), "");
}

TEST_F(FileAccessTree, AMissingFileIsFineUnlessItsDirectoryIsUnreachable) {
    dir("pub", 0755);
    EXPECT_EQ(unreadable_by(root_ + "/pub/not-yet", nobody_), "");
    EXPECT_EQ(unreadable_by(root_ + "/no-such-dir/flags", nobody_), "");
    const std::string closed = dir("closed", 0700);
    EXPECT_NE(unreadable_by(closed + "/not-yet", nobody_).find("is not searchable"), std::string::npos);
}

TEST_F(FileAccessTree, SymlinksAreJudgedByWhereTheyLead) {
    dir("home", 0700);
    dir("pub", 0755);
    file("home/flags", 0644);
    const std::string link = root_ + "/pub/flags";
    ASSERT_EQ(symlink((root_ + "/home/flags").c_str(), link.c_str()), 0);
    EXPECT_NE(unreadable_by(link, nobody_).find("/home\" (mode 0700"), std::string::npos);
}

}  // namespace
}  // namespace levqor::files
