// SPDX-License-Identifier: Apache-2.0
// Checks a delivery's signatures against a scheme's configured secrets.
//
// Everything that is per secret is prepared once, at configuration time: the
// secret file's text is validated and decoded, and an OpenSSL HMAC context is
// created and keyed for it (or an Ed25519 public key loaded). A request then
// only re-initialises those contexts (EVP_MAC_init with no key reuses the key
// schedule: no algorithm fetch, no key setup), streams the signed message
// through them, and compares the results with CRYPTO_memcmp against every
// candidate signature. Any valid (secret, signature) pair passes, so a
// provider's rotation (old and new secret, or several signatures) just works.
//
// Secrets never leave this class: no accessor returns them and no message
// includes them (messages name the secret's label, the file path).
//
// Thread safety: a Verifier holds mutable OpenSSL contexts and is used by one
// thread at a time (one nginx worker process, one request at a time); begin()
// to finish() must not interleave with another delivery on the same object.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "levqor/parsed.h"
#include "levqor/webhook_scheme.h"

namespace levqor::webhook {

// A secret as read from its file; label names it in messages.
struct SecretText {
    std::string label;
    std::string text;
};

// The result of a check: valid with the index of the signature that matched
// (-1 for Token schemes), or not.
struct Match {
    bool valid = false;
    int signature = -1;
};

class Verifier {
public:
    // Validates every secret for the scheme's secret format (trailing line
    // breaks are removed first) and prepares its context. Fails with a message
    // naming the label when a secret is empty, malformed or OpenSSL refuses it.
    static Parsed<std::unique_ptr<Verifier>> create(Scheme scheme, std::vector<SecretText> secrets);

    ~Verifier();
    Verifier(const Verifier&) = delete;
    Verifier& operator=(const Verifier&) = delete;

    const Scheme& scheme() const { return scheme_; }
    std::size_t secrets() const { return keys_.size(); }
    // HMAC schemes stream the body through begin/update/finish. Ed25519 needs
    // the whole signed message at once (OpenSSL 3.0 cannot stream it): use
    // verify_message(). Token schemes need no body: use verify_message() with
    // an empty message.
    bool streams() const { return scheme_.method == Method::Hmac; }
    bool needs_body() const { return scheme_.method != Method::Token; }

    // Streaming: re-keys every context and feeds the signed prefix. False if
    // OpenSSL failed (the delivery must then be refused).
    bool begin(const Delivery& d) noexcept;
    void update(const void* data, std::size_t len) noexcept;
    Match finish(const Delivery& d) noexcept;
    // True when an OpenSSL call failed since begin(): the result is not a
    // verdict about the delivery.
    bool failed() const { return failed_; }

    // One shot over the complete signed message (prefix + body). For
    // Ed25519 and Token schemes, and for tests of the HMAC ones.
    Match verify_message(const Delivery& d, const void* msg, std::size_t len) noexcept;
    // Convenience for tests: signed prefix + body, any method.
    Match verify(const Delivery& d, std::string_view body);

    // HMAC of data under secret i (tests: signing fixtures).
    std::string sign(std::size_t i, std::string_view data);

    struct Key;

private:
    explicit Verifier(Scheme scheme);
    Scheme scheme_;
    std::vector<std::unique_ptr<Key>> keys_;
    bool failed_ = false;  // an OpenSSL call failed during this delivery
};

// Secret file text → key bytes, for the format (exposed for tests and the
// fuzz target). Trailing "\n" / "\r\n" are removed; any other control
// character is an error. The message names `label`.
Parsed<std::string> decode_secret(SecretFormat format, std::string_view label, std::string_view text);

}  // namespace levqor::webhook
