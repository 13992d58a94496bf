// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/abuse/digest.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/params.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>

#include "levqor/controld/core/files.h"
#include "levqor/hex.h"

namespace levqor::controld::abuse {
namespace {

void check_pepper_file(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        throw PepperError("abuse.pepper_file " + path + ": " + std::strerror(errno));
    }
    if (!S_ISREG(st.st_mode)) throw PepperError("abuse.pepper_file " + path + " is not a regular file");
    if (const auto problem = shared_mode_problem(st, path); !problem.empty()) {
        throw PepperError("abuse.pepper_file " + path + problem);
    }
    if (st.st_size > static_cast<off_t>(kMaxPepperBytes + 2)) {
        throw PepperError("abuse.pepper_file " + path + " is larger than " + std::to_string(kMaxPepperBytes) +
                          " bytes");
    }
}

}  // namespace

std::string_view to_string(DigestRole role) {
    switch (role) {
        case DigestRole::account:
            return "account";
        case DigestRole::device:
            return "device";
        case DigestRole::email:
            return "email";
    }
    return "unknown";
}

Digester::Digester(std::string pepper) : pepper_(std::move(pepper)) {
    if (pepper_.size() < kMinPepperBytes || pepper_.size() > kMaxPepperBytes) {
        const auto size = pepper_.size();
        OPENSSL_cleanse(pepper_.data(), pepper_.size());
        throw PepperError("the abuse pepper has " + std::to_string(size) + " bytes; " +
                          std::to_string(kMinPepperBytes) + " to " + std::to_string(kMaxPepperBytes) +
                          " are required (generate one with: openssl rand -hex 32)");
    }
    EVP_MAC* hmac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    if (!hmac) throw std::runtime_error("abuse digest: OpenSSL has no HMAC");
    keyed_ = EVP_MAC_CTX_new(hmac);
    EVP_MAC_free(hmac);
    char digest_name[] = "SHA256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
                           OSSL_PARAM_construct_end()};
    if (!keyed_ ||
        EVP_MAC_init(keyed_, reinterpret_cast<const unsigned char*>(pepper_.data()), pepper_.size(), params) != 1) {
        EVP_MAC_CTX_free(keyed_);
        OPENSSL_cleanse(pepper_.data(), pepper_.size());
        throw std::runtime_error("abuse digest: cannot set up HMAC-SHA256");
    }
}

Digester::Digester(Digester&& other) noexcept : pepper_(std::move(other.pepper_)), keyed_(other.keyed_) {
    other.keyed_ = nullptr;
}

Digester::~Digester() {
    EVP_MAC_CTX_free(keyed_);
    OPENSSL_cleanse(pepper_.data(), pepper_.size());
}

Digester Digester::from_file(const std::string& path) {
    check_pepper_file(path);
    std::optional<std::string> text;
    try {
        text = read_file_if_exists(path);
    } catch (const FileError& e) {
        throw PepperError(std::string("abuse.pepper_file: ") + e.what());
    }
    if (!text) throw PepperError("abuse.pepper_file " + path + " does not exist");
    while (!text->empty() &&
           (text->back() == '\n' || text->back() == '\r' || text->back() == ' ' || text->back() == '\t')) {
        text->pop_back();
    }
    try {
        return Digester(std::move(*text));
    } catch (const PepperError& e) {
        throw PepperError("abuse.pepper_file " + path + ": " + e.what());
    }
}

std::string Digester::digest(DigestRole role, std::string_view value) const {
    const auto name = to_string(role);
    // A copy of the keyed context: the key schedule is computed once.
    std::unique_ptr<EVP_MAC_CTX, decltype(&EVP_MAC_CTX_free)> ctx(EVP_MAC_CTX_dup(keyed_), &EVP_MAC_CTX_free);
    if (!ctx) throw std::runtime_error("abuse digest: cannot copy the HMAC context");
    unsigned char mac[EVP_MAX_MD_SIZE];
    std::size_t mac_len = 0;
    const unsigned char separator = 0;
    const bool ok =
        EVP_MAC_update(ctx.get(), reinterpret_cast<const unsigned char*>(name.data()), name.size()) == 1 &&
        EVP_MAC_update(ctx.get(), &separator, 1) == 1 &&
        EVP_MAC_update(ctx.get(), reinterpret_cast<const unsigned char*>(value.data()), value.size()) == 1 &&
        EVP_MAC_final(ctx.get(), mac, &mac_len, sizeof mac) == 1;
    if (!ok) throw std::runtime_error("abuse digest: HMAC-SHA256 failed");
    std::string hex(mac_len * 2, '0');
    hex_into(hex.data(), mac, mac_len);
    return hex;
}

}  // namespace levqor::controld::abuse
