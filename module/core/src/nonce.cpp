// SPDX-License-Identifier: Apache-2.0
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
    // Used bytes are not wiped one by one: the nonce they become is sent to
    // the client anyway. What must stay secret (the unused rest of the block)
    // is wiped by reset() and the destructor.
    base64_encode(block_.data() + pos_, kRandomBytes, out);
    pos_ += kRandomBytes;
    return true;
}

void NonceSource::reset() noexcept {
    OPENSSL_cleanse(block_.data(), block_.size());
    pos_ = kBlockSize;
}

bool openssl_random(std::uint8_t* buf, std::size_t n) noexcept { return RAND_bytes(buf, static_cast<int>(n)) == 1; }

}  // namespace levqor
