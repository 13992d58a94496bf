// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <fstream>
#include <string>

#include "levqor/controld/backup/manifest.h"
#include "levqor/controld/core/files.h"
#include "test_support.h"

namespace levqor::controld::backup {
namespace {

using testing::TempDir;

Manifest sample() {
    Manifest m;
    m.id = "20261129T105207Z-1a2b";
    m.target = "local";
    m.kind = "sqlite";
    m.started_at = 1795949527;
    m.finished_at = 1795949530;
    m.status = BackupStatus::verified;
    m.files.push_back({"database", "local.sqlite", 3, std::string(64, 'a')});
    m.parity["jobs"] = {12, std::string(64, '0')};
    m.parity["odd \"name\""] = {0, std::string(64, 'f')};
    m.verify = VerifyResult{true, 1795949531, 0.25, ""};
    m.encrypted = true;
    m.server_version = "SQLite 3.40.1";
    m.tool_version = "SQLite 3.40.1";
    m.levqor_version = "0.1.0";
    m.timings["dump"] = 1.5;
    return m;
}

TEST(BackupManifest, RoundTripsThroughJsonWithEveryField) {
    const Manifest m = sample();
    const Manifest back = parse_manifest(to_json(m).dump());
    EXPECT_EQ(to_json(back), to_json(m));
    EXPECT_EQ(back.parity.at("jobs").rows, 12u);
    ASSERT_TRUE(back.verify);
    EXPECT_DOUBLE_EQ(back.verify->restore_seconds, 0.25);
    EXPECT_EQ(to_json(m)["started_at"], "2026-11-29T10:52:07Z");
    EXPECT_EQ(to_json(m)["status"], "verified");
}

TEST(BackupManifest, RunningManifestHasNullFinishedAtAndVerify) {
    Manifest m = sample();
    m.status = BackupStatus::running;
    m.finished_at.reset();
    m.verify.reset();
    const auto json = to_json(m);
    EXPECT_TRUE(json["finished_at"].is_null());
    EXPECT_TRUE(json["verify"].is_null());
    const Manifest back = manifest_from_json(json);
    EXPECT_FALSE(back.finished_at);
    EXPECT_FALSE(back.verify);
    EXPECT_EQ(back.status, BackupStatus::running);
}

TEST(BackupManifest, RefusesBadFieldsNamingThem) {
    auto refuse = [](const char* key, nlohmann::json value, const std::string& words) {
        auto json = to_json(sample());
        json[key] = std::move(value);
        try {
            manifest_from_json(json);
            ADD_FAILURE() << key << " accepted";
        } catch (const ManifestError& e) {
            EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
        }
    };
    refuse("status", "done", "status: expected running, verified, failed or corrupt");
    refuse("started_at", "yesterday", "started_at: expected an RFC 3339");
    refuse("started_at", "2026-02-31T00:00:00Z", "started_at");
    refuse("files",
           nlohmann::json::array(
               {{{"name", "d"}, {"path", "../etc/passwd"}, {"bytes", 1u}, {"sha256", std::string(64, 'a')}}}),
           "files[0].path");
    refuse("files",
           nlohmann::json::array({{{"name", "d"}, {"path", "x"}, {"bytes", -1}, {"sha256", std::string(64, 'a')}}}),
           "files[0].bytes: expected an unsigned integer");
    refuse("files", nlohmann::json::array({{{"name", "d"}, {"path", "x"}, {"bytes", 1u}, {"sha256", "ABC"}}}),
           "files[0].sha256");
    refuse("parity", nlohmann::json{{"t", {{"rows", "1"}, {"digest", ""}}}}, "parity[\"t\"].rows");
    refuse("id", "../../etc", "id: expected a name without '/'");
    refuse("target", "..", "target: expected a name without '/'");

    auto json = to_json(sample());
    json.erase("id");
    EXPECT_THROW(manifest_from_json(json), ManifestError);
}

TEST(BackupManifest, ParseIsBoundedBySizeAndDepth) {
    EXPECT_THROW(parse_manifest(std::string(kMaxManifestBytes + 1, ' ')), ManifestError);
    EXPECT_THROW(parse_manifest(std::string(100, '[') + std::string(100, ']')), ManifestError);
    EXPECT_THROW(parse_manifest("{\"id\":"), ManifestError);
}

TEST(BackupManifest, WriteIsAtomicAndPrivateAndReadsBack) {
    TempDir dir;
    write_manifest(dir.path(), sample());
    struct stat st {};
    ASSERT_EQ(::stat(dir.file("manifest.json").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    EXPECT_EQ(to_json(read_manifest(dir.path())), to_json(sample()));
    Manifest changed = sample();
    changed.status = BackupStatus::corrupt;
    write_manifest(dir.path(), changed);
    EXPECT_EQ(read_manifest(dir.path()).status, BackupStatus::corrupt);
    EXPECT_THROW(read_manifest(dir.file("absent")), FileError);

    // A table name that is not UTF-8 does not fail the write.
    changed.parity["bad\xff"] = {1, std::string(64, '0')};
    write_manifest(dir.path(), changed);
    EXPECT_EQ(read_manifest(dir.path()).parity.count("bad\xEF\xBF\xBD"), 1u);
}

TEST(BackupManifest, Sha256OfFilesOfAnySize) {
    TempDir dir;
    EXPECT_EQ(sha256_file(dir.write("empty", "")).sha256,
              "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    auto abc = sha256_file(dir.write("abc", "abc"));
    EXPECT_EQ(abc.bytes, 3u);
    EXPECT_EQ(abc.sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    // 3 MiB + 1: several reads of the streaming loop.
    std::string big(3 * 1024 * 1024 + 1, 'x');
    auto digest = sha256_file(dir.write("big", big));
    EXPECT_EQ(digest.bytes, big.size());
    EXPECT_EQ(digest.sha256.size(), 64u);
    EXPECT_THROW(sha256_file(dir.file("absent")), FileError);
}

TEST(BackupManifest, CheckFilesFindsChangedSizeChangedBytesAndMissingFiles) {
    TempDir dir;
    Manifest m = sample();
    m.files.clear();
    for (const char* name : {"a", "b", "c"}) {
        auto d = sha256_file(dir.write(name, std::string("content of ") + name));
        m.files.push_back({name, name, d.bytes, d.sha256});
    }
    EXPECT_TRUE(check_files(dir.path(), m).empty());

    dir.write("a", "content of A");  // same size, one byte differs
    dir.write("b", "content of bb");
    ::unlink(dir.file("c").c_str());
    const auto problems = check_files(dir.path(), m);
    ASSERT_EQ(problems.size(), 3u);
    EXPECT_NE(problems[0].find("a: sha256 differs"), std::string::npos) << problems[0];
    EXPECT_NE(problems[1].find("b: size differs (expected 12 bytes, found 13)"), std::string::npos) << problems[1];
    EXPECT_NE(problems[2].find("c: "), std::string::npos) << problems[2];
}

}  // namespace
}  // namespace levqor::controld::backup
