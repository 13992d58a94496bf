// SPDX-License-Identifier: Apache-2.0
// A directive argument evaluated per request (a key, a plan name, an
// address, an amount). Common shapes are read directly instead of through
// nginx's variable machinery: `$http_<name>` and `$upstream_http_<name>` by
// the header's precomputed hash (the first header of that name, as nginx
// 1.22's variables read it),
// `$binary_remote_addr` from the connection's address (after realip), any
// other lone variable by index without a copy; anything else is a complex
// value. Read-only after configuration; safe to share between requests.
#pragma once

#include <cstdint>

#include "levqor/short_bytes.h"
#include "ngx_shim.h"

namespace levqor::ngx {

class ValueSource {
public:
    enum class Kind : std::uint8_t { Empty, Header, UpstreamHeader, RemoteAddr, Variable, Complex };

    // Compiles text; false when nginx rejected it (it logged why).
    bool compile(ngx_conf_t* cf, ngx_str_t text);
    bool empty() const { return kind_ == Kind::Empty; }
    Kind kind() const { return kind_; }

    // The value for this request (out.len == 0: empty or absent). False only
    // when a complex value failed to evaluate.
    bool eval(ngx_http_request_t* r, ngx_str_t& out) const noexcept {
        switch (kind_) {
            case Kind::Header:
                return find_header(&r->headers_in.headers.part, out);
            case Kind::UpstreamHeader:
                if (r->upstream == nullptr) {
                    out.len = 0;
                    return true;
                }
                return find_header(&r->upstream->headers_in.headers.part, out);
            case Kind::RemoteAddr:
                connection_address(r, out);
                return true;
            case Kind::Empty:
                out.len = 0;
                return true;
            default:
                return eval_variable(r, out);
        }
    }

    // The client's address as $binary_remote_addr has it (after realip): 4
    // bytes IPv4, 16 bytes IPv6, else the text (e.g. "unix:").
    static void connection_address(ngx_http_request_t* r, ngx_str_t& out) noexcept;

private:
    bool eval_variable(ngx_http_request_t* r, ngx_str_t& out) const noexcept;
    // Inline: on the request path of every levqor_limit keyed by a header.
    bool find_header(const ngx_list_part_t* part, ngx_str_t& out) const noexcept;

    Kind kind_ = Kind::Empty;
    ngx_str_t header_{0, nullptr};  // lowercase name with '-'
    ngx_uint_t hash_ = 0;
    ngx_int_t var_index_ = NGX_ERROR;
    ngx_http_complex_value_t* cv_ = nullptr;
};

inline bool ValueSource::find_header(const ngx_list_part_t* part, ngx_str_t& out) const noexcept {
    for (; part != nullptr; part = part->next) {
        const auto* h = static_cast<const ngx_table_elt_t*>(part->elts);
        for (ngx_uint_t i = 0; i < part->nelts; ++i) {
            if (h[i].hash == hash_ && h[i].key.len == header_.len &&
                same_bytes(h[i].lowcase_key, header_.data, header_.len)) {
                out = h[i].value;
                return true;
            }
        }
    }
    out.len = 0;
    return true;
}

}  // namespace levqor::ngx
