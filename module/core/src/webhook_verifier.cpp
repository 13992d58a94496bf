// SPDX-License-Identifier: Apache-2.0
#include "levqor/webhook_verifier.h"

#include <algorithm>
#include <array>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "levqor/base64.h"

namespace levqor::webhook {

struct Verifier::Key {
    EVP_MAC_CTX* mac = nullptr;  // keyed at configuration time
    EVP_PKEY* pkey = nullptr;    // Ed25519 public key
    std::string token;           // Token schemes
    std::uint8_t out[kMaxSignatureSize];
    std::size_t out_len = 0;

    Key() = default;
    Key(const Key&) = delete;
    Key& operator=(const Key&) = delete;
    ~Key() {
        EVP_MAC_CTX_free(mac);
        EVP_PKEY_free(pkey);
        OPENSSL_cleanse(token.data(), token.size());
    }
};

namespace {

const char* digest_name(Digest d) {
    switch (d) {
        case Digest::Sha1:
            return "SHA1";
        case Digest::Sha512:
            return "SHA512";
        case Digest::Sha256:
            break;
    }
    return "SHA256";
}

bool valid_token_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

std::string quoted(std::string_view label) { return "secret_file \"" + std::string(label) + "\""; }

// A temporary copy of secret bytes that is wiped when it goes away.
struct Wiped {
    std::string bytes;
    ~Wiped() { OPENSSL_cleanse(bytes.data(), bytes.size()); }
};

EVP_MAC_CTX* keyed_hmac(Digest digest, const std::string& key) {
    EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    if (mac == nullptr) return nullptr;
    EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(mac);
    EVP_MAC_free(mac);  // the context keeps its own reference
    if (ctx == nullptr) return nullptr;
    OSSL_PARAM params[2] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>(digest_name(digest)), 0),
        OSSL_PARAM_construct_end()};
    if (EVP_MAC_init(ctx, reinterpret_cast<const unsigned char*>(key.data()), key.size(), params) != 1) {
        EVP_MAC_CTX_free(ctx);
        return nullptr;
    }
    return ctx;
}

// ---- Ed25519 public keys that must never be accepted -----------------------------
//
// A key is the little-endian y coordinate of a curve point, bit 255 holding
// the sign of x. OpenSSL loads and verifies with any 32 bytes, including:
// - points of small order (dividing 8): with such a key a signature
//   R = <a suitable point>, S = <small scalar> verifies for every message
//   (e.g. the identity key 01 00..00 with R = the base point, S = 1), so
//   anyone can forge deliveries;
// - non-canonical encodings (y >= p = 2^255 - 19), which some implementations
//   reduce and others refuse, and no honest key generator produces.
// The y coordinates of the 8 points of order dividing 8: 0 (order 4), 1 (the
// identity), p - 1 (order 2) and the two of order 8. Derived by multiplying
// random points by the group order l and collecting the multiples of an
// order-8 result (each checked: 8 * P = identity); libsodium's blocklist has
// the same values.
using KeyBytes = std::array<std::uint8_t, 32>;

constexpr KeyBytes le_bytes(std::uint8_t first, std::uint8_t fill, std::uint8_t last) {
    KeyBytes k{};
    for (auto& b : k) b = fill;
    k[0] = first;
    k[31] = last;
    return k;
}

constexpr KeyBytes kFieldPrime = le_bytes(0xed, 0xff, 0x7f);  // p = 2^255 - 19

KeyBytes hex_key(std::string_view hex) {
    KeyBytes k{};
    decode_hex(hex, k.data(), k.size());
    return k;
}

const KeyBytes kSmallOrderY[] = {
    le_bytes(0x00, 0x00, 0x00),                                                   // order 4
    le_bytes(0x01, 0x00, 0x00),                                                   // the identity
    le_bytes(0xec, 0xff, 0x7f),                                                   // p - 1: order 2
    hex_key("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"),  // order 8
    hex_key("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"),  // order 8
};

// Why an Ed25519 public key must be refused, or nullptr.
const char* ed25519_key_problem(const std::uint8_t* key) {
    KeyBytes y;
    std::copy(key, key + 32, y.begin());
    y[31] &= 0x7f;  // the sign of x
    // y >= p, comparing little-endian numbers from the most significant byte.
    bool at_least_p = true;
    for (std::size_t i = 32; i-- > 0;) {
        if (y[i] != kFieldPrime[i]) {
            at_least_p = y[i] > kFieldPrime[i];
            break;
        }
    }
    if (at_least_p) return " is not a canonical Ed25519 public key (its y coordinate is not below 2^255-19)";
    for (const KeyBytes& bad : kSmallOrderY) {
        if (y == bad) {
            return " is a small-order Ed25519 point, not a public key: with it anyone could forge signatures";
        }
    }
    return nullptr;
}

}  // namespace

Parsed<std::string> decode_secret(SecretFormat format, std::string_view label, std::string_view text) {
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
    if (text.empty()) return Parsed<std::string>::failure(quoted(label) + " is empty");
    for (const char c : text) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f) {
            return Parsed<std::string>::failure(quoted(label) + " contains a line break or control character");
        }
    }
    switch (format) {
        case SecretFormat::Text:
            return std::string(text);
        case SecretFormat::StandardBase64: {
            std::string_view b64 = text;
            if (b64.substr(0, 6) == "whsec_") b64.remove_prefix(6);
            std::string key;
            if (b64.empty() || !base64_decode(b64, key) || key.empty()) {
                OPENSSL_cleanse(key.data(), key.size());
                return Parsed<std::string>::failure(quoted(label) +
                                                    " is not a Standard Webhooks secret (whsec_ followed by base64)");
            }
            return key;
        }
        case SecretFormat::Ed25519PublicHex: {
            std::string key(32, '\0');
            if (!decode_hex(text, reinterpret_cast<std::uint8_t*>(key.data()), key.size())) {
                return Parsed<std::string>::failure(quoted(label) + " is not an Ed25519 public key (64 hex digits)");
            }
            if (const char* problem = ed25519_key_problem(reinterpret_cast<const std::uint8_t*>(key.data()))) {
                return Parsed<std::string>::failure(quoted(label) + problem);
            }
            return key;
        }
        case SecretFormat::TelegramToken:
            if (text.size() > 256)
                return Parsed<std::string>::failure(quoted(label) + " is longer than 256 characters");
            for (const char c : text) {
                if (!valid_token_char(c)) {
                    return Parsed<std::string>::failure(quoted(label) +
                                                        " is not a Telegram secret token (A-Z, a-z, 0-9, _ and -)");
                }
            }
            return std::string(text);
    }
    return Parsed<std::string>::failure(quoted(label) + " has an unknown format");
}

Verifier::Verifier(Scheme scheme) : scheme_(std::move(scheme)) {}

Verifier::~Verifier() = default;

Parsed<std::unique_ptr<Verifier>> Verifier::create(Scheme scheme, std::vector<SecretText> secrets) {
    using Result = Parsed<std::unique_ptr<Verifier>>;
    if (secrets.empty()) return Result::failure("needs secret_file=<path>");
    std::unique_ptr<Verifier> v(new Verifier(std::move(scheme)));
    for (auto& secret : secrets) {
        Wiped key;
        {
            auto decoded = decode_secret(v->scheme_.secret_format, secret.label, secret.text);
            OPENSSL_cleanse(secret.text.data(), secret.text.size());
            if (!decoded) return Result::failure(decoded.error());
            key.bytes = std::move(decoded).value();
        }
        auto k = std::make_unique<Key>();
        switch (v->scheme_.method) {
            case Method::Hmac:
                k->mac = keyed_hmac(v->scheme_.digest, key.bytes);
                if (k->mac == nullptr) return Result::failure(quoted(secret.label) + ": OpenSSL could not set up HMAC");
                break;
            case Method::Ed25519:
                k->pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr,
                                                      reinterpret_cast<const unsigned char*>(key.bytes.data()),
                                                      key.bytes.size());
                if (k->pkey == nullptr)
                    return Result::failure(quoted(secret.label) + " is not a valid Ed25519 public key");
                break;
            case Method::Token:
                k->token = key.bytes;
                break;
        }
        v->keys_.push_back(std::move(k));
    }
    return Result(std::move(v));
}

bool Verifier::begin(const Delivery& d) noexcept {
    failed_ = false;
    for (auto& k : keys_) {
        if (EVP_MAC_init(k->mac, nullptr, 0, nullptr) != 1) failed_ = true;
    }
    signed_prefix(scheme_, d, [this](const char* p, std::size_t n) { update(p, n); });
    return !failed_;
}

void Verifier::update(const void* data, std::size_t len) noexcept {
    if (len == 0) return;
    for (auto& k : keys_) {
        if (EVP_MAC_update(k->mac, static_cast<const unsigned char*>(data), len) != 1) failed_ = true;
    }
}

Match Verifier::finish(const Delivery& d) noexcept {
    Match m;
    for (auto& k : keys_) {
        k->out_len = 0;
        if (EVP_MAC_final(k->mac, k->out, &k->out_len, sizeof k->out) != 1) failed_ = true;
    }
    if (failed_) return m;
    // Every pair is compared (no early exit): the time taken does not depend
    // on which secret or which candidate matched.
    for (auto& k : keys_) {
        for (std::size_t i = 0; i < d.nsigs; ++i) {
            const Signature& sig = d.sigs[i];
            if (sig.len == k->out_len && CRYPTO_memcmp(sig.bytes, k->out, sig.len) == 0 && !m.valid) {
                m.valid = true;
                m.signature = static_cast<int>(i);
            }
        }
    }
    return m;
}

Match Verifier::verify_message(const Delivery& d, const void* msg, std::size_t len) noexcept {
    Match m;
    switch (scheme_.method) {
        case Method::Hmac:
            failed_ = false;
            for (auto& k : keys_) {
                if (EVP_MAC_init(k->mac, nullptr, 0, nullptr) != 1) failed_ = true;
            }
            update(msg, len);
            return finish(d);
        case Method::Ed25519:
            for (auto& k : keys_) {
                for (std::size_t i = 0; i < d.nsigs; ++i) {
                    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
                    if (ctx == nullptr) return m;
                    const bool ok = EVP_DigestVerifyInit(ctx, nullptr, nullptr, nullptr, k->pkey) == 1 &&
                                    EVP_DigestVerify(ctx, d.sigs[i].bytes, d.sigs[i].len,
                                                     static_cast<const unsigned char*>(msg), len) == 1;
                    EVP_MD_CTX_free(ctx);
                    if (ok && !m.valid) {
                        m.valid = true;
                        m.signature = static_cast<int>(i);
                    }
                }
            }
            return m;
        case Method::Token:
            for (auto& k : keys_) {
                // The length of a token is not secret (Telegram documents 1-256).
                if (d.token.size() == k->token.size() &&
                    CRYPTO_memcmp(d.token.data(), k->token.data(), k->token.size()) == 0) {
                    m.valid = true;
                }
            }
            return m;
    }
    return m;
}

Match Verifier::verify(const Delivery& d, std::string_view body) {
    std::string msg;
    signed_prefix(scheme_, d, [&msg](const char* p, std::size_t n) { msg.append(p, n); });
    msg.append(body);
    return verify_message(d, msg.data(), msg.size());
}

std::string Verifier::sign(std::size_t i, std::string_view data) {
    Key& k = *keys_.at(i);
    if (k.mac == nullptr || EVP_MAC_init(k.mac, nullptr, 0, nullptr) != 1 ||
        EVP_MAC_update(k.mac, reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1 ||
        EVP_MAC_final(k.mac, k.out, &k.out_len, sizeof k.out) != 1) {
        return {};
    }
    return std::string(reinterpret_cast<const char*>(k.out), k.out_len);
}

}  // namespace levqor::webhook
