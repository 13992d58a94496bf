#include "levqor/nonce.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "levqor/base64.h"

namespace levqor {

static_assert(NonceSource::kBlockSize % NonceSource::kRandomBytes == 0);
static_assert(base64_encoded_size(NonceSource::kRandomBytes) == NonceSource::kEncodedSize);

NonceSource::~NonceSource() { reset(); }

bool NonceSource::next(char* out) noexcept {
    if (pos_ == kBlockSize) {
        if (!fill_(block_.data(), block_.size())) return false;
        pos_ = 0;
    }
    std::uint8_t* bytes = block_.data() + pos_;
    base64_encode(bytes, kRandomBytes, out);
    OPENSSL_cleanse(bytes, kRandomBytes);
    pos_ += kRandomBytes;
    return true;
}

void NonceSource::reset() noexcept {
    OPENSSL_cleanse(block_.data(), block_.size());
    pos_ = kBlockSize;
}

bool openssl_random(std::uint8_t* buf, std::size_t n) noexcept {
    return RAND_bytes(buf, static_cast<int>(n)) == 1;
}

}  // namespace levqor
