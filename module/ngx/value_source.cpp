// SPDX-License-Identifier: Apache-2.0
#include "value_source.h"

#include <cctype>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "ngx_util.h"

namespace levqor::ngx {
namespace {

// "$name" or "${name}" → name; false if text is anything else.
bool lone_variable(std::string_view v, ngx_str_t& name) {
    if (v.size() < 2 || v[0] != '$') return false;
    std::string_view n = v.substr(1);
    if (n.front() == '{') {
        if (n.size() < 3 || n.back() != '}') return false;
        n = n.substr(1, n.size() - 2);
    }
    for (const char c : n) {
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
    }
    name.data = reinterpret_cast<u_char*>(const_cast<char*>(n.data()));
    name.len = n.size();
    return true;
}

}  // namespace

bool ValueSource::compile(ngx_conf_t* cf, ngx_str_t text) {
    *this = ValueSource{};
    if (text.len == 0) return true;
    ngx_str_t name;
    if (lone_variable(sv(text), name)) {
        const std::string_view n = sv(name);
        constexpr std::string_view kRequest = "http_", kUpstream = "upstream_http_";
        const std::size_t prefix =
            n.size() > kRequest.size() && n.substr(0, kRequest.size()) == kRequest      ? kRequest.size()
            : n.size() > kUpstream.size() && n.substr(0, kUpstream.size()) == kUpstream ? kUpstream.size()
                                                                                        : 0;
        if (prefix != 0) {
            // Same match as $http_<name> / $upstream_http_<name>: the first
            // header whose lowercase name equals <name> with '_' read as '-'
            // (nginx's parsers keep every header's lowercase name and hash,
            // upstream responses included).
            kind_ = prefix == kRequest.size() ? Kind::Header : Kind::UpstreamHeader;
            header_.len = n.size() - prefix;
            header_.data = static_cast<u_char*>(ngx_pnalloc(cf->pool, header_.len));
            if (header_.data == nullptr) return false;
            for (std::size_t i = 0; i < header_.len; ++i) {
                const char c = static_cast<char>(std::tolower(static_cast<unsigned char>(n[prefix + i])));
                header_.data[i] = static_cast<u_char>(c == '_' ? '-' : c);
            }
            hash_ = ngx_hash_key(header_.data, header_.len);
            return true;
        }
        if (n == "binary_remote_addr") {
            kind_ = Kind::RemoteAddr;
            return true;
        }
        kind_ = Kind::Variable;
        var_index_ = ngx_http_get_variable_index(cf, &name);
        return var_index_ != NGX_ERROR;
    }
    kind_ = Kind::Complex;
    cv_ = static_cast<ngx_http_complex_value_t*>(ngx_palloc(cf->pool, sizeof(ngx_http_complex_value_t)));
    if (cv_ == nullptr) return false;
    ngx_http_compile_complex_value_t ccv;
    ngx_memzero(&ccv, sizeof ccv);
    ccv.cf = cf;
    ccv.value = &text;
    ccv.complex_value = cv_;
    return ngx_http_compile_complex_value(&ccv) == NGX_OK;
}

void ValueSource::connection_address(ngx_http_request_t* r, ngx_str_t& out) noexcept {
    // As $binary_remote_addr: realip has already replaced c->sockaddr.
    const ngx_connection_t* c = r->connection;
    switch (c->sockaddr->sa_family) {
        case AF_INET:
            out.data = reinterpret_cast<u_char*>(&reinterpret_cast<sockaddr_in*>(c->sockaddr)->sin_addr);
            out.len = sizeof(in_addr);
            return;
#if (NGX_HAVE_INET6)
        case AF_INET6:
            out.data = reinterpret_cast<u_char*>(&reinterpret_cast<sockaddr_in6*>(c->sockaddr)->sin6_addr);
            out.len = sizeof(in6_addr);
            return;
#endif
        default:
            out = c->addr_text;
            return;
    }
}

bool ValueSource::eval_variable(ngx_http_request_t* r, ngx_str_t& out) const noexcept {
    if (kind_ == Kind::Complex) return ngx_http_complex_value(r, cv_, &out) == NGX_OK;
    ngx_http_variable_value_t* v = ngx_http_get_flushed_variable(r, static_cast<ngx_uint_t>(var_index_));
    if (v == nullptr || v->not_found) {
        out.len = 0;
        return v != nullptr;
    }
    out.data = v->data;
    out.len = v->len;
    return true;
}

}  // namespace levqor::ngx
