// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/core/files.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>

#include "test_support.h"

namespace levqor::controld {
namespace {

using testing::TempDir;

TEST(Files, WriteAtomicallyReplacesWithModeAndLeavesNoTemporary) {
    TempDir dir;
    const auto path = dir.file("flags");
    write_file_atomically(path, "one\n", 0644);
    write_file_atomically(path, "two\n", 0644);
    EXPECT_EQ(dir.read("flags"), "two\n");
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0644u);
    int entries = 0;
    for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
        static_cast<void>(entry);
        ++entries;
    }
    EXPECT_EQ(entries, 1);
}

TEST(Files, WriteIntoAMissingDirectoryNamesThePath) {
    TempDir dir;
    try {
        write_file_atomically(dir.file("missing/flags"), "x", 0644);
        FAIL();
    } catch (const FileError& e) {
        EXPECT_NE(std::string(e.what()).find(dir.file("missing/flags")), std::string::npos) << e.what();
    }
}

TEST(Files, EnsureDirectoryCreatesParents) {
    TempDir dir;
    ensure_directory(dir.file("a/b/c"), 0750);
    EXPECT_TRUE(std::filesystem::is_directory(dir.file("a/b/c")));
    ensure_directory(dir.file("a/b/c"), 0750);  // again: fine
    dir.write("f", "x");
    EXPECT_THROW(ensure_directory(dir.file("f"), 0750), FileError);
}

struct stat secret_stat(mode_t mode, uid_t uid, gid_t gid) {
    struct stat st {};
    st.st_mode = S_IFREG | mode;
    st.st_uid = uid;
    st.st_gid = gid;
    return st;
}

TEST(Files, SharedModeProblemRefusesWhatGroupOrOthersCanReach) {
    constexpr gid_t kLevqor = 120;
    EXPECT_EQ(shared_mode_problem(secret_stat(0600, 0, kLevqor), "/k", kLevqor), "");
    EXPECT_EQ(shared_mode_problem(secret_stat(0400, 1000, 1000), "/k", 1000), "");
    EXPECT_EQ(shared_mode_problem(secret_stat(0644, 1000, 1000), "/etc/levqor/admin.token", 1000),
              " is readable or writable by group or others (mode 0644); run: chmod 600 /etc/levqor/admin.token");
    for (const mode_t mode : {0660, 0604, 0620, 0602, 0650, 0641, 0750}) {
        const auto problem = shared_mode_problem(secret_stat(mode, 0, kLevqor), "/k", kLevqor);
        char expected[16];
        std::snprintf(expected, sizeof expected, "(mode %04o)", static_cast<unsigned>(mode));
        EXPECT_NE(problem.find(expected), std::string::npos) << problem;
    }
}

// The Debian package's tokens: 0640 root:levqor, read by the levqor user.
TEST(Files, SharedModeProblemAcceptsGroupReadByTheDaemonsOwnGroupOnARootFile) {
    constexpr gid_t kLevqor = 120;
    EXPECT_EQ(shared_mode_problem(secret_stat(0640, 0, kLevqor), "/k", kLevqor), "");
    EXPECT_EQ(shared_mode_problem(secret_stat(0440, 0, kLevqor), "/k", kLevqor), "");
    // Another group than the daemon's own.
    EXPECT_NE(shared_mode_problem(secret_stat(0640, 0, kLevqor + 1), "/k", kLevqor), "");
    // Not owned by root: its owner, not only root, could change the secret.
    EXPECT_NE(shared_mode_problem(secret_stat(0640, 1000, kLevqor), "/k", kLevqor), "");
    // Root's group: every member of it could read the secret.
    EXPECT_NE(shared_mode_problem(secret_stat(0640, 0, 0), "/k", 0), "");
    // Group write stays refused.
    EXPECT_NE(shared_mode_problem(secret_stat(0660, 0, kLevqor), "/k", kLevqor), "");
}

TEST(Files, ReadIfExists) {
    TempDir dir;
    EXPECT_FALSE(read_file_if_exists(dir.file("absent")));
    dir.write("present", "content");
    EXPECT_EQ(read_file_if_exists(dir.file("present")), "content");
    EXPECT_THROW(read_file_if_exists(dir.path()), FileError);
}

}  // namespace
}  // namespace levqor::controld
