// SPDX-License-Identifier: Apache-2.0
// The layout the shared-memory tables share (the rate-limit BucketTable, the
// webhook ReplaySet): a header whose first fields are magic, nsets and the
// zone's SipHash secret, padded to whole cache lines, then nsets sets of
// 64-byte-aligned SetT. Formatting, re-attaching after nginx -s reload,
// keyed tags and the tag-to-set mapping live here once; what a set holds
// and how it is searched is the table's own business.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <string>

#include "levqor/siphash.h"

namespace levqor {

template <typename Header, typename SetT, std::uint64_t Magic>
class ShmSets {
public:
    static constexpr std::size_t kHeaderBytes = (sizeof(Header) + 63) / 64 * 64;

    // Bytes needed for nsets sets, and how many sets fit in bytes.
    static std::size_t bytes_for_sets(std::size_t nsets) { return kHeaderBytes + nsets * sizeof(SetT); }
    static std::size_t sets_for_bytes(std::size_t bytes) {
        return bytes <= kHeaderBytes ? 0 : (bytes - kHeaderBytes) / sizeof(SetT);
    }

    bool valid() const { return header_ != nullptr; }

    // The tag of a key in a domain (domains never share a tag): SipHash-1-3
    // under the zone's secret, the domain folded into the key so the key is
    // not copied. Never 0 (0 marks an empty slot).
    std::uint64_t tag(std::uint8_t domain, const void* key, std::size_t len) const noexcept {
        SipKey k = header_->secret;
        k.k1 ^= static_cast<std::uint64_t>(domain) * 0x9e3779b97f4a7c15ULL;
        const std::uint64_t t = siphash13(k, key, len);
        return t == 0 ? 1 : t;
    }

protected:
    // Formats memory (zeroed or not) as nsets empty sets.
    void format(void* mem, std::size_t nsets, const SipKey& secret) {
        std::memset(mem, 0, bytes_for_sets(nsets));
        header_ = ::new (mem) Header();
        header_->nsets = nsets;
        header_->secret = secret;
        sets_ = reinterpret_cast<SetT*>(static_cast<char*>(mem) + kHeaderBytes);
        for (std::size_t i = 0; i < nsets; ++i) ::new (&sets_[i]) SetT();
        header_->magic = Magic;
    }
    // Attaches to memory format() made (after nginx -s reload); the set
    // count is read from it. "" when attached, else what differs, for the
    // operator — like limit_req's "uses the ... key while previously ...":
    //   the zone holds layout "lvqrTB1", this module uses "lvqrTB2"
    std::string attach_to(void* mem) {
        auto* h = static_cast<Header*>(mem);
        if (h->magic != Magic) {
            return "the zone holds layout \"" + layout_name(h->magic) + "\", this module uses \"" + layout_name(Magic) +
                   "\"";
        }
        header_ = h;
        sets_ = reinterpret_cast<SetT*>(static_cast<char*>(mem) + kHeaderBytes);
        return std::string();
    }
    // A magic's printable bytes, most significant first ("lvqrTB2").
    static std::string layout_name(std::uint64_t magic) {
        std::string name;
        for (int shift = 56; shift >= 0; shift -= 8) {
            const char c = static_cast<char>((magic >> shift) & 0xff);
            if (c >= 0x20 && c < 0x7f) name += c;
        }
        return name;
    }
    // Multiply-shift maps the tag onto [0, nsets) without a division.
    SetT& set_for(std::uint64_t tag) const noexcept {
        return sets_[static_cast<std::size_t>((static_cast<unsigned __int128>(tag) * header_->nsets) >> 64)];
    }

    Header* header_ = nullptr;
    SetT* sets_ = nullptr;
};

}  // namespace levqor
