// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for the webhook header parsers and secret decoders (built
// with clang -fsanitize=fuzzer,address,undefined; `make fuzz`, and a short run
// in `make test`).
//
// Input layout: byte 0 picks the scheme, byte 1 the header counts (two bits
// per field: absent, once, twice), the rest is split on '\n' into the
// signature, timestamp and id header values. Whatever the input, parsing
// must not crash, must stay within the values, and a parsed delivery must
// satisfy the invariants checked below; the same bytes are also fed to the
// secret decoders and through a verifier.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "levqor/base64.h"
#include "levqor/webhook_scheme.h"
#include "levqor/webhook_verifier.h"

namespace wh = levqor::webhook;

namespace {

struct Target {
    wh::Scheme scheme;
    std::unique_ptr<wh::Verifier> verifier;
};

std::vector<Target> make_targets() {
    std::vector<Target> out;
    auto add = [&out](const wh::Scheme& s, const char* secret) {
        auto v = wh::Verifier::create(s, {{"fuzz", secret}});
        if (!v) std::abort();
        out.push_back(Target{s, std::move(v).value()});
    };
    using P = wh::Provider;
    for (const P p : {P::Stripe, P::Slack, P::Github, P::Notion, P::Shopify, P::Paddle}) add(wh::scheme(p), "secret");
    add(wh::scheme(P::Standard), "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    add(wh::scheme(P::Discord), "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c");
    add(wh::scheme(P::Telegram), "token");
    add(wh::make_generic("X-Sig", "sha1", "hex", "sha1=").value(), "k");
    add(wh::make_generic("X-Sig", "sha512", "base64", "").value(), "k");
    return out;
}

void check(bool ok) {
    if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static std::vector<Target> targets = make_targets();
    if (size < 2) return 0;
    Target& t = targets[data[0] % targets.size()];
    const std::string_view rest(reinterpret_cast<const char*>(data + 2), size - 2);

    wh::HeaderValues in{};
    std::string_view tail = rest;
    for (std::size_t f = 0; f < wh::kFields; ++f) {
        const std::size_t nl = tail.find('\n');
        in.value[f] = tail.substr(0, nl);
        tail = nl == std::string_view::npos ? std::string_view{} : tail.substr(nl + 1);
        in.count[f] = static_cast<std::uint8_t>((data[1] >> (2 * f)) & 3);
    }

    wh::Delivery d;
    const wh::ParseError e = wh::parse(t.scheme, in, d);
    if (e.reason == wh::Reason::None) {
        check(d.nsigs <= wh::kMaxSignatures);
        for (std::size_t i = 0; i < d.nsigs; ++i) check(d.sigs[i].len == t.scheme.signature_size());
        check(d.timestamp.size() <= wh::kMaxTimestampDigits);
        check(d.time >= 0);
        for (const std::string_view v : {d.timestamp, d.id, d.token}) {
            // Every view points into the input.
            check(v.empty() || (v.data() >= rest.data() && v.data() + v.size() <= rest.data() + rest.size()));
        }
        (void)wh::check_time(t.scheme, d, 1700000000, 300u);
        (void)t.verifier->verify(d, tail);
    } else {
        check(e.reason == wh::Reason::MissingHeader || e.reason == wh::Reason::DuplicateHeader ||
              e.reason == wh::Reason::MalformedHeader);
    }

    for (const auto format : {wh::SecretFormat::Text, wh::SecretFormat::StandardBase64,
                              wh::SecretFormat::Ed25519PublicHex, wh::SecretFormat::TelegramToken}) {
        auto secret = wh::decode_secret(format, "fuzz", rest);
        check(secret ? !secret.value().empty() : !secret.error().empty());
    }
    std::uint8_t buf[64];
    std::size_t n = 0;
    if (levqor::base64_decode(rest, buf, sizeof buf, n)) check(n <= sizeof buf);
    return 0;
}
