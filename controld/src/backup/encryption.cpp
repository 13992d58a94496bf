// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/backup/encryption.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include "levqor/controld/core/unique_fd.h"
#include "levqor/controld/core/files.h"

namespace levqor::controld::backup {
namespace {

constexpr char kMagic[8] = {'L', 'V', 'Q', 'B', 'K', 'E', 'N', 'C'};
constexpr unsigned char kFormatVersion = 1;
constexpr std::size_t kNonceBytes = 12;
constexpr std::size_t kTagBytes = 16;
constexpr std::size_t kHeaderBytes = 8 + 1 + 3 + 4 + kNonceBytes;
constexpr std::size_t kMaxKeyFileBytes = 4096;

using Header = std::array<unsigned char, kHeaderBytes>;

std::string errno_text() { return std::strerror(errno); }

struct CipherCtxFree {
    void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree>;

// Reads until `n` bytes or the end of the file; returns how many.
std::size_t read_full(int fd, unsigned char* buf, std::size_t n, const std::string& path) {
    std::size_t got = 0;
    while (got < n) {
        const ssize_t r = ::read(fd, buf + got, n - got);
        if (r < 0) {
            if (errno == EINTR) continue;
            throw EncryptionError("cannot read " + path + ": " + errno_text());
        }
        if (r == 0) break;
        got += static_cast<std::size_t>(r);
    }
    return got;
}

void write_all(int fd, const unsigned char* buf, std::size_t n, const std::string& path) {
    while (n > 0) {
        const ssize_t w = ::write(fd, buf, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            throw EncryptionError("cannot write " + path + ": " + errno_text());
        }
        buf += w;
        n -= static_cast<std::size_t>(w);
    }
}

// The output: a temporary file beside `path`, renamed over it by commit();
// removed if commit() was not reached.
class PendingFile {
public:
    explicit PendingFile(std::string path) : path_(std::move(path)) {
        std::string tmpl = path_ + ".tmp-XXXXXX";
        std::vector<char> name(tmpl.begin(), tmpl.end());
        name.push_back('\0');
        fd_.reset(::mkostemp(name.data(), O_CLOEXEC));
        if (!fd_.valid()) throw EncryptionError("cannot create a temporary file for " + path_ + ": " + errno_text());
        tmp_ = name.data();
        ::fchmod(fd_.get(), 0600);
    }
    ~PendingFile() {
        if (!tmp_.empty()) ::unlink(tmp_.c_str());
    }
    PendingFile(const PendingFile&) = delete;
    PendingFile& operator=(const PendingFile&) = delete;

    int fd() const { return fd_.get(); }
    const std::string& path() const { return path_; }

    void commit() {
        if (::fsync(fd_.get()) != 0) throw EncryptionError("cannot write " + path_ + ": fsync: " + errno_text());
        fd_.reset();
        if (::rename(tmp_.c_str(), path_.c_str()) != 0) {
            throw EncryptionError("cannot write " + path_ + ": rename: " + errno_text());
        }
        tmp_.clear();
        const auto slash = path_.rfind('/');
        const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path_.substr(0, slash);
        UniqueFd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (dfd.valid()) ::fsync(dfd.get());
    }

private:
    std::string path_;
    std::string tmp_;
    UniqueFd fd_;
};

UniqueFd open_input(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) throw EncryptionError("cannot read " + path + ": " + errno_text());
    return fd;
}

void put_be(unsigned char* out, std::uint64_t value, std::size_t bytes) {
    for (std::size_t i = 0; i < bytes; ++i) out[i] = static_cast<unsigned char>(value >> (8 * (bytes - 1 - i)));
}

std::uint64_t get_be(const unsigned char* in, std::size_t bytes) {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < bytes; ++i) v = (v << 8) | in[i];
    return v;
}

// Per chunk: its nonce and its additional data (header, index, final flag).
struct ChunkParams {
    std::array<unsigned char, kNonceBytes> nonce;
    std::array<unsigned char, kHeaderBytes + 8 + 1> aad;
};

ChunkParams chunk_params(const Header& header, std::uint64_t index, bool final) {
    ChunkParams p{};
    std::memcpy(p.nonce.data(), header.data() + kHeaderBytes - kNonceBytes, kNonceBytes);
    unsigned char counter[8];
    put_be(counter, index, 8);
    for (std::size_t i = 0; i < 8; ++i) p.nonce[kNonceBytes - 8 + i] ^= counter[i];
    std::memcpy(p.aad.data(), header.data(), kHeaderBytes);
    put_be(p.aad.data() + kHeaderBytes, index, 8);
    p.aad[kHeaderBytes + 8] = final ? 1 : 0;
    return p;
}

CipherCtx new_ctx(const EncryptionKey& key, bool encrypt) {
    CipherCtx ctx(EVP_CIPHER_CTX_new());
    if (!ctx || EVP_CipherInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr, encrypt ? 1 : 0) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kNonceBytes, nullptr) != 1 ||
        EVP_CipherInit_ex(ctx.get(), nullptr, nullptr, key.data(), nullptr, encrypt ? 1 : 0) != 1) {
        throw EncryptionError("OpenSSL AES-256-GCM is unavailable");
    }
    return ctx;
}

// One chunk through GCM: `in` (n bytes) to `out`; the tag written to or checked from `tag`.
// Returns false when a decryption fails authentication.
bool crypt_chunk(EVP_CIPHER_CTX* ctx, bool encrypt, const ChunkParams& p, const unsigned char* in, std::size_t n,
                 unsigned char* out, unsigned char* tag) {
    int len = 0;
    if (EVP_CipherInit_ex(ctx, nullptr, nullptr, nullptr, p.nonce.data(), encrypt ? 1 : 0) != 1 ||
        EVP_CipherUpdate(ctx, nullptr, &len, p.aad.data(), static_cast<int>(p.aad.size())) != 1) {
        throw EncryptionError("OpenSSL AES-256-GCM failed to start a chunk");
    }
    if (n > 0 && EVP_CipherUpdate(ctx, out, &len, in, static_cast<int>(n)) != 1) {
        throw EncryptionError("OpenSSL AES-256-GCM failed on a chunk");
    }
    if (!encrypt && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, kTagBytes, tag) != 1) {
        throw EncryptionError("OpenSSL AES-256-GCM refused a tag");
    }
    unsigned char end[16];
    if (EVP_CipherFinal_ex(ctx, end, &len) != 1) {
        if (encrypt) throw EncryptionError("OpenSSL AES-256-GCM failed to finish a chunk");
        return false;
    }
    if (encrypt && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, kTagBytes, tag) != 1) {
        throw EncryptionError("OpenSSL AES-256-GCM did not give a tag");
    }
    return true;
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

}  // namespace

EncryptionKey::~EncryptionKey() { OPENSSL_cleanse(bytes_.data(), bytes_.size()); }

EncryptionKey read_key_file(const std::string& path) {
    const std::string what = "encryption key file " + path;
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) throw EncryptionError("cannot read " + what + ": " + errno_text());
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) throw EncryptionError("cannot check " + what + ": " + errno_text());
    if (!S_ISREG(st.st_mode)) throw EncryptionError(what + " is not a regular file");
    if (const auto problem = shared_mode_problem(st, path); !problem.empty()) {
        throw EncryptionError(what + problem);
    }
    std::array<unsigned char, kMaxKeyFileBytes + 1> text{};
    const std::size_t n = read_full(fd.get(), text.data(), text.size(), path);
    struct Wipe {
        std::array<unsigned char, kMaxKeyFileBytes + 1>& t;
        ~Wipe() { OPENSSL_cleanse(t.data(), t.size()); }
    } wipe{text};

    std::array<unsigned char, EncryptionKey::kBytes> key{};
    if (n == EncryptionKey::kBytes) {
        std::memcpy(key.data(), text.data(), key.size());
    } else {
        std::size_t len = n;
        while (len > 0 &&
               (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' ' || text[len - 1] == '\t')) {
            --len;
        }
        bool ok = len == 2 * EncryptionKey::kBytes;
        for (std::size_t i = 0; ok && i < EncryptionKey::kBytes; ++i) {
            const int hi = hex_value(static_cast<char>(text[2 * i]));
            const int lo = hex_value(static_cast<char>(text[2 * i + 1]));
            if (hi < 0 || lo < 0) {
                ok = false;
            } else {
                key[i] = static_cast<unsigned char>(hi * 16 + lo);
            }
        }
        if (!ok) {
            OPENSSL_cleanse(key.data(), key.size());
            throw EncryptionError(what + " must hold 32 raw bytes or 64 hex digits (" + std::to_string(n) +
                                  " bytes found); create one with: openssl rand -hex 32 > " + path);
        }
    }
    EncryptionKey out(key);
    OPENSSL_cleanse(key.data(), key.size());
    return out;
}

std::uint64_t encrypt_file(const std::string& in, const std::string& out, const EncryptionKey& key,
                           std::size_t chunk_bytes) {
    if (chunk_bytes == 0 || chunk_bytes > kMaxChunkBytes) {
        throw EncryptionError("chunk size " + std::to_string(chunk_bytes) + " out of range 1.." +
                              std::to_string(kMaxChunkBytes));
    }
    UniqueFd src = open_input(in);
    PendingFile dst(out);

    Header header{};
    std::memcpy(header.data(), kMagic, sizeof kMagic);
    header[8] = kFormatVersion;
    put_be(header.data() + 12, chunk_bytes, 4);
    if (RAND_bytes(header.data() + kHeaderBytes - kNonceBytes, kNonceBytes) != 1) {
        throw EncryptionError("OpenSSL could not generate a random nonce");
    }
    write_all(dst.fd(), header.data(), header.size(), out);
    std::uint64_t written = header.size();

    CipherCtx ctx = new_ctx(key, true);
    std::vector<unsigned char> plain(chunk_bytes);
    std::vector<unsigned char> sealed(chunk_bytes + kTagBytes);
    for (std::uint64_t index = 0;; ++index) {
        const std::size_t n = read_full(src.get(), plain.data(), chunk_bytes, in);
        const bool final = n < chunk_bytes;
        crypt_chunk(ctx.get(), true, chunk_params(header, index, final), plain.data(), n, sealed.data(),
                    sealed.data() + n);
        write_all(dst.fd(), sealed.data(), n + kTagBytes, out);
        written += n + kTagBytes;
        if (final) break;
    }
    OPENSSL_cleanse(plain.data(), plain.size());
    dst.commit();
    return written;
}

std::uint64_t decrypt_file(const std::string& in, const std::string& out, const EncryptionKey& key) {
    UniqueFd src = open_input(in);
    Header header{};
    if (read_full(src.get(), header.data(), header.size(), in) != header.size() ||
        std::memcmp(header.data(), kMagic, sizeof kMagic) != 0) {
        throw EncryptionError(in + " is not a levqor encrypted backup file (no LVQBKENC header)");
    }
    if (header[8] != kFormatVersion || header[9] != 0 || header[10] != 0 || header[11] != 0) {
        throw EncryptionError(in + ": unsupported encryption format version " + std::to_string(header[8]));
    }
    const std::size_t chunk_bytes = static_cast<std::size_t>(get_be(header.data() + 12, 4));
    if (chunk_bytes == 0 || chunk_bytes > kMaxChunkBytes) {
        throw EncryptionError(in + ": chunk size " + std::to_string(chunk_bytes) + " in its header is out of range");
    }

    PendingFile dst(out);
    CipherCtx ctx = new_ctx(key, false);
    std::vector<unsigned char> sealed(chunk_bytes + kTagBytes);
    std::vector<unsigned char> plain(chunk_bytes);
    std::uint64_t total = 0;
    for (std::uint64_t index = 0;; ++index) {
        const std::size_t n = read_full(src.get(), sealed.data(), sealed.size(), in);
        if (n < kTagBytes) {
            throw EncryptionError(in + " is truncated: " +
                                  (n == 0 ? std::string("no final chunk")
                                          : "chunk " + std::to_string(index) + " is shorter than its tag"));
        }
        const bool final = n < sealed.size();
        const std::size_t len = n - kTagBytes;
        if (!crypt_chunk(ctx.get(), false, chunk_params(header, index, final), sealed.data(), len, plain.data(),
                         sealed.data() + len)) {
            throw EncryptionError(in + ": chunk " + std::to_string(index) +
                                  " failed authentication (wrong key or damaged file)");
        }
        write_all(dst.fd(), plain.data(), len, out);
        total += len;
        if (final) break;
    }
    OPENSSL_cleanse(plain.data(), plain.size());
    dst.commit();
    return total;
}

bool looks_encrypted(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) return false;
    unsigned char magic[sizeof kMagic];
    return read_full(fd.get(), magic, sizeof magic, path) == sizeof magic &&
           std::memcmp(magic, kMagic, sizeof kMagic) == 0;
}

}  // namespace levqor::controld::backup
