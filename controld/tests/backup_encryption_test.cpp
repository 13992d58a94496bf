// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <random>
#include <string>

#include "levqor/controld/backup/encryption.h"
#include "test_support.h"

namespace levqor::controld::backup {
namespace {

using testing::TempDir;

const std::string kHexKey = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
constexpr std::size_t kChunk = 64;  // small chunks: many of them in a small test file
constexpr std::size_t kHeader = 28;
constexpr std::size_t kTag = 16;

std::string random_bytes(std::size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::string s(n, '\0');
    for (auto& c : s) c = static_cast<char>(rng());
    return s;
}

EncryptionKey key_from(const TempDir& dir, const std::string& name, const std::string& text) {
    return read_key_file(dir.write(name, text, 0600));
}

struct Sizes : ::testing::TestWithParam<std::size_t> {};

TEST_P(Sizes, RoundTripsAndTheCiphertextHasTheDocumentedLength) {
    TempDir dir;
    const auto key = key_from(dir, "key", kHexKey + "\n");
    const std::string plain = random_bytes(GetParam(), 7);
    dir.write("plain", plain);
    const auto written = encrypt_file(dir.file("plain"), dir.file("enc"), key, kChunk);
    const std::size_t chunks = plain.size() / kChunk + 1;  // always one short (possibly empty) final chunk
    EXPECT_EQ(written, kHeader + plain.size() + chunks * kTag);
    EXPECT_EQ(dir.read("enc").size(), written);
    EXPECT_TRUE(looks_encrypted(dir.file("enc")));
    EXPECT_FALSE(looks_encrypted(dir.file("plain")));
    if (plain.size() >= 16) {  // a shorter plaintext may appear in random bytes by chance
        EXPECT_EQ(dir.read("enc").find(plain), std::string::npos);
    }

    EXPECT_EQ(decrypt_file(dir.file("enc"), dir.file("out"), key), plain.size());
    EXPECT_EQ(dir.read("out"), plain);
    struct stat st {};
    ASSERT_EQ(::stat(dir.file("out").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
}

// Empty, one byte, exactly one chunk, one chunk and a byte, many chunks (exact multiple and not).
INSTANTIATE_TEST_SUITE_P(BackupEncryption, Sizes,
                         ::testing::Values(0, 1, kChunk - 1, kChunk, kChunk + 1, 10 * kChunk, 10 * kChunk + 5));

TEST(BackupEncryption, DefaultChunkSizeRoundTripsAFileOfSeveralChunks) {
    TempDir dir;
    const auto key = key_from(dir, "key", kHexKey);
    const std::string plain = random_bytes(2 * kDefaultChunkBytes + 123, 3);
    dir.write("plain", plain);
    encrypt_file(dir.file("plain"), dir.file("enc"), key);
    decrypt_file(dir.file("enc"), dir.file("out"), key);
    EXPECT_EQ(dir.read("out"), plain);
}

TEST(BackupEncryption, EncryptingTwiceUsesAFreshNonce) {
    TempDir dir;
    const auto key = key_from(dir, "key", kHexKey);
    dir.write("plain", "same plaintext");
    encrypt_file(dir.file("plain"), dir.file("a"), key, kChunk);
    encrypt_file(dir.file("plain"), dir.file("b"), key, kChunk);
    EXPECT_NE(dir.read("a"), dir.read("b"));
}

void expect_refused(const TempDir& dir, const std::string& enc, const EncryptionKey& key, const std::string& words) {
    try {
        decrypt_file(dir.file(enc), dir.file("out"), key);
        ADD_FAILURE() << "decrypted";
    } catch (const EncryptionError& e) {
        EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
    }
    EXPECT_NE(::access(dir.file("out").c_str(), F_OK), 0) << "no plaintext left behind";
}

TEST(BackupEncryption, AFlippedByteAnywhereIsRefused) {
    TempDir dir;
    const auto key = key_from(dir, "key", kHexKey);
    dir.write("plain", random_bytes(5 * kChunk + 9, 1));
    encrypt_file(dir.file("plain"), dir.file("enc"), key, kChunk);
    const std::string enc = dir.read("enc");
    // A ciphertext byte of chunk 2, a tag byte of the last chunk, a nonce byte of the header.
    for (std::size_t at : {kHeader + 2 * (kChunk + kTag) + 5, enc.size() - 1, kHeader - 1}) {
        std::string bad = enc;
        bad[at] = static_cast<char>(bad[at] ^ 0x01);
        dir.write("bad", bad);
        expect_refused(dir, "bad", key, "failed authentication");
    }
}

TEST(BackupEncryption, DroppingTheLastChunkOrCuttingOneShortIsRefused) {
    TempDir dir;
    const auto key = key_from(dir, "key", kHexKey);
    for (std::size_t size : {3 * kChunk, 3 * kChunk + 10}) {
        dir.write("plain", random_bytes(size, 2));
        encrypt_file(dir.file("plain"), dir.file("enc"), key, kChunk);
        const std::string enc = dir.read("enc");
        const std::size_t last = size % kChunk + kTag;
        dir.write("cut", enc.substr(0, enc.size() - last));
        expect_refused(dir, "cut", key, "truncated: no final chunk");
        dir.write("cut", enc.substr(0, enc.size() - last - 7));  // inside the previous chunk
        expect_refused(dir, "cut", key, "failed authentication");
        dir.write("cut", enc.substr(0, kHeader + 3));
        expect_refused(dir, "cut", key, "truncated");
    }
}

TEST(BackupEncryption, SwappedChunksAreRefused) {
    TempDir dir;
    const auto key = key_from(dir, "key", kHexKey);
    dir.write("plain", random_bytes(3 * kChunk + 1, 4));
    encrypt_file(dir.file("plain"), dir.file("enc"), key, kChunk);
    std::string enc = dir.read("enc");
    const std::size_t c = kChunk + kTag;
    const std::string first = enc.substr(kHeader, c);
    enc.replace(kHeader, c, enc.substr(kHeader + c, c));
    enc.replace(kHeader + c, c, first);
    dir.write("swapped", enc);
    expect_refused(dir, "swapped", key, "chunk 0 failed authentication");
}

TEST(BackupEncryption, AWrongKeyIsRefused) {
    TempDir dir;
    const auto key = key_from(dir, "key", kHexKey);
    std::string other_hex = kHexKey;
    other_hex[0] = '1';
    const auto other = key_from(dir, "other", other_hex);
    dir.write("plain", "secret rows");
    encrypt_file(dir.file("plain"), dir.file("enc"), key, kChunk);
    expect_refused(dir, "enc", other, "chunk 0 failed authentication (wrong key or damaged file)");
}

TEST(BackupEncryption, APlainFileIsNotDecrypted) {
    TempDir dir;
    const auto key = key_from(dir, "key", kHexKey);
    dir.write("plain", "SQLite format 3\0 and more bytes than a header");
    expect_refused(dir, "plain", key, "is not a levqor encrypted backup file");
}

TEST(BackupEncryption, KeyFileRawOrHexAndPrivate) {
    TempDir dir;
    std::string raw;
    for (int i = 0; i < 32; ++i) raw.push_back(static_cast<char>(i));
    const auto from_raw = key_from(dir, "raw", raw);
    const auto from_hex = key_from(dir, "hex", kHexKey + "\r\n");
    // The same key: what one encrypts the other decrypts.
    dir.write("plain", "x");
    encrypt_file(dir.file("plain"), dir.file("enc"), from_raw, kChunk);
    decrypt_file(dir.file("enc"), dir.file("out"), from_hex);
    EXPECT_EQ(dir.read("out"), "x");

    auto refuse = [&](const std::string& path, const std::string& words) {
        try {
            read_key_file(path);
            ADD_FAILURE() << path << " accepted";
        } catch (const EncryptionError& e) {
            EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
            EXPECT_EQ(std::string(e.what()).find(kHexKey), std::string::npos) << "never prints the key";
        }
    };
    refuse(dir.write("open", kHexKey, 0640), "readable or writable by group or others (mode 0640); run: chmod 600");
    refuse(dir.write("world", kHexKey, 0604), "mode 0604");
    refuse(dir.write("short", kHexKey.substr(2), 0600), "must hold 32 raw bytes or 64 hex digits (62 bytes found)");
    refuse(dir.write("nothex", std::string(64, 'g'), 0600), "64 hex digits");
    refuse(dir.file("absent"), "cannot read encryption key file");
    refuse(dir.path(), "not a regular file");
}

}  // namespace
}  // namespace levqor::controld::backup
