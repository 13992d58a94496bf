// SPDX-License-Identifier: Apache-2.0
#include "levqor/hex.h"

#include <openssl/evp.h>

namespace levqor {

std::string sha1_hex(std::string_view text) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(text.data(), text.size(), digest, &len, EVP_sha1(), nullptr);
    std::string out(2 * len, '0');
    hex_into(out.data(), digest, len);
    return out;
}

}  // namespace levqor
