// SPDX-License-Identifier: Apache-2.0
#include "ngx_util.h"

#include <cerrno>
#include <cstring>
#include <fstream>

#include <openssl/crypto.h>
#include <exception>

namespace levqor::ngx {

bool pool_str(ngx_pool_t* pool, std::string_view text, ngx_str_t& out) {
    out.len = text.size();
    out.data = static_cast<u_char*>(ngx_pnalloc(pool, text.size() + 1));
    if (out.data == nullptr) return false;
    std::memcpy(out.data, text.data(), text.size());
    out.data[text.size()] = '\0';
    return true;
}

std::vector<std::string_view> conf_params(ngx_conf_t* cf, ngx_uint_t first) {
    std::vector<std::string_view> params;
    for (ngx_uint_t i = first; i < cf->args->nelts; ++i) params.push_back(sv(conf_args(cf)[i]));
    return params;
}

Parsed<SecretFile> read_secret_file(ngx_conf_t* cf, ngx_str_t path, std::string_view param) {
    using P = Parsed<SecretFile>;
    const std::string given = str(path);
    if (ngx_conf_full_name(cf->cycle, &path, 1) != NGX_OK) {
        return P::failure(std::string(param) + " \"" + given + "\": invalid path");
    }
    const std::string full = str(path);
    std::ifstream in(full, std::ios::binary);
    if (!in) return P::failure(std::string(param) + " \"" + full + "\" cannot be read: " + std::strerror(errno));
    std::string text(kMaxSecretFile + 1, '\0');
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    if (in.bad()) {
        OPENSSL_cleanse(text.data(), text.size());
        return P::failure(std::string(param) + " \"" + full + "\" cannot be read");
    }
    const auto got = static_cast<std::size_t>(in.gcount());
    if (got > kMaxSecretFile) {
        OPENSSL_cleanse(text.data(), text.size());
        return P::failure(std::string(param) + " \"" + full + "\" is larger than 64k: not a secret");
    }
    OPENSSL_cleanse(text.data() + got, text.size() - got);
    text.resize(got);
    return SecretFile{full, std::move(text)};
}

char* conf_error(ngx_conf_t* cf, std::string_view message) {
    // nginx prints the returned string with "%s", so it must be NUL-terminated
    // and outlive the call: the conf pool does.
    ngx_str_t s;
    if (!pool_str(cf->pool, message, s)) return static_cast<char*>(NGX_CONF_ERROR);
    return reinterpret_cast<char*>(s.data);
}

namespace {

// The current exception's reason. Only inside a catch block.
const char* current_reason() noexcept {
    try {
        throw;
    } catch (const std::exception& e) {
        return e.what();
    } catch (...) {
        return "unknown exception";
    }
}

}  // namespace

void log_conf_exception(ngx_conf_t* cf) noexcept {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "levqor: %s", current_reason());
}

char* conf_exception(ngx_conf_t* cf) noexcept {
    log_conf_exception(cf);
    return static_cast<char*>(NGX_CONF_ERROR);
}

void log_exception(ngx_log_t* log, ngx_uint_t level, const char* context) noexcept {
    ngx_log_error(level, log, 0, "%s: %s", context, current_reason());
}

bool add_phase_handler(ngx_conf_t* cf, ngx_http_phases phase, ngx_http_handler_pt handler) noexcept {
    auto* cmcf = static_cast<ngx_http_core_main_conf_t*>(ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module));
    auto* h = static_cast<ngx_http_handler_pt*>(ngx_array_push(&cmcf->phases[phase].handlers));
    if (h == nullptr) return false;
    *h = handler;
    return true;
}

ngx_int_t send_body(ngx_http_request_t* r, ngx_uint_t status, ngx_str_t content_type, const u_char* body,
                    std::size_t len) noexcept {
    r->headers_out.status = status;
    r->headers_out.content_type = content_type;
    r->headers_out.content_type_len = content_type.len;
    r->headers_out.content_type_lowcase = nullptr;
    r->headers_out.content_length_n = static_cast<off_t>(len);
    const ngx_int_t rc = ngx_http_send_header(r);
    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) return rc;
    auto* b = static_cast<ngx_buf_t*>(ngx_calloc_buf(r->pool));
    if (b == nullptr) return NGX_ERROR;
    b->pos = const_cast<u_char*>(body);
    b->last = b->pos + len;
    b->memory = len > 0 ? 1 : 0;  // an empty body: a bare last_buf, not a zero-size memory buffer
    b->last_buf = r == r->main ? 1 : 0;
    b->last_in_chain = 1;
    ngx_chain_t out{b, nullptr};
    return ngx_http_output_filter(r, &out);
}

}  // namespace levqor::ngx
