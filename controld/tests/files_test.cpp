#include "levqor/controld/core/files.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

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

TEST(Files, ReadIfExists) {
    TempDir dir;
    EXPECT_FALSE(read_file_if_exists(dir.file("absent")));
    dir.write("present", "content");
    EXPECT_EQ(read_file_if_exists(dir.file("present")), "content");
    EXPECT_THROW(read_file_if_exists(dir.path()), FileError);
}

}  // namespace
}  // namespace levqor::controld
