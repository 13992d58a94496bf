// SPDX-License-Identifier: Apache-2.0
// The glue kit: small helpers for C++ at the nginx boundary, written once for
// every feature — string views over ngx_str_t, C++ objects placed in nginx
// pools (destroyed by a pool cleanup), the conf-error convention and the
// guard that turns an exception into a logged reason, phase registration,
// variable values and the one response sender. Used from nginx's single
// thread (configuration, then one worker's event loop).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory_resource>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "levqor/parsed.h"
#include "ngx_shim.h"

namespace levqor::ngx {

inline std::string_view sv(const ngx_str_t& s) { return {reinterpret_cast<const char*>(s.data), s.len}; }

inline std::string str(const ngx_str_t& s) { return std::string(sv(s)); }
// An ngx_str_t over text that outlives its use (configuration arguments, static text).
inline ngx_str_t ngx_str(std::string_view text) {
    return {text.size(), reinterpret_cast<u_char*>(const_cast<char*>(text.data()))};
}

// Copies text into pool memory as an ngx_str_t; the copy is also
// NUL-terminated (not counted in len), so it may be printed with "%s".
bool pool_str(ngx_pool_t* pool, std::string_view text, ngx_str_t& out);

// Constructs a T in pool memory; its destructor runs when the pool is
// destroyed (configuration pools live as long as their cycle).
template <class T, class... Args>
T* pool_new(ngx_pool_t* pool, Args&&... args) {
    void* mem = ngx_palloc(pool, sizeof(T));
    if (mem == nullptr) return nullptr;
    T* obj = ::new (mem) T(std::forward<Args>(args)...);
    if constexpr (!std::is_trivially_destructible_v<T>) {
        ngx_pool_cleanup_t* cln = ngx_pool_cleanup_add(pool, 0);
        if (cln == nullptr) {
            obj->~T();
            return nullptr;
        }
        cln->handler = [](void* data) { static_cast<T*>(data)->~T(); };
        cln->data = obj;
    }
    return obj;
}

// Memory for std::pmr containers that live as long as a configuration
// (their pool's cycle): pieces of the pool, released with it — deallocate
// does nothing. Keeps the module's configuration data in the pool's blocks,
// as nginx keeps its own, instead of as small blocks scattered over the heap
// (docs/benchmarks.md, "The module's fixed cost").
class PoolResource final : public std::pmr::memory_resource {
public:
    explicit PoolResource(ngx_pool_t* pool) noexcept : pool_(pool) {}

private:
    void* do_allocate(std::size_t bytes, std::size_t align) override {
        // ngx_palloc aligns to NGX_ALIGNMENT; a larger alignment is made here.
        const std::size_t extra = align > NGX_ALIGNMENT ? align - 1 : 0;
        void* p = ngx_palloc(pool_, bytes + extra);
        if (p == nullptr) throw std::bad_alloc();
        if (extra == 0) return p;
        const auto a = reinterpret_cast<std::uintptr_t>(p);
        return reinterpret_cast<void*>((a + align - 1) & ~(static_cast<std::uintptr_t>(align) - 1));
    }
    void do_deallocate(void*, std::size_t, std::size_t) noexcept override {}
    bool do_is_equal(const std::pmr::memory_resource& other) const noexcept override { return this == &other; }

    ngx_pool_t* pool_;
};

// A directive setter's error result: nginx prints
//   "<directive>" directive <message> in <file>:<line>
// so the message names the bad value and the directive comes for free.
char* conf_error(ngx_conf_t* cf, std::string_view message);

// A secret file read at configuration time (webhook secret_file=, a limit
// zone's key_secret_file=): `path` is the full path, for messages.
struct SecretFile {
    std::string path;
    std::string text;
};
inline constexpr std::size_t kMaxSecretFile = 64 * 1024;
// Reads it; relative paths are relative to nginx's configuration prefix, like
// ssl_certificate. Messages start with `param` and name the path, never the
// contents; a file over 64k is refused (not a secret).
Parsed<SecretFile> read_secret_file(ngx_conf_t* cf, ngx_str_t path, std::string_view param);

// Stores a core parser's verdict in a directive's slot: "is duplicate" when
// the slot is already set (a std::optional, or an nginx slot that is not
// `unset`), the parser's message when it failed.
template <class T>
char* store(ngx_conf_t* cf, std::optional<T>& slot, Parsed<T> parsed) {
    if (slot) return const_cast<char*>("is duplicate");
    if (!parsed) return conf_error(cf, parsed.error());
    slot = std::move(parsed).value();
    return NGX_CONF_OK;
}
template <class Slot, class T>
char* store(ngx_conf_t* cf, Slot& slot, Slot unset, const Parsed<T>& parsed) {
    if (slot != unset) return const_cast<char*>("is duplicate");
    if (!parsed) return conf_error(cf, parsed.error());
    slot = static_cast<Slot>(parsed.value());
    return NGX_CONF_OK;
}

// The guard of every configuration callback (directive setters, merge,
// postconfiguration): called inside `catch (...)`, it logs why with
// ngx_conf_log_error — "levqor: <what()> in <file>:<line>" — so the operator
// learns the reason instead of a bare failure. conf_exception() returns
// NGX_CONF_ERROR for setters and merges; the others return their own error.
//   char* set_x(ngx_conf_t* cf, ngx_command_t*, void* conf) noexcept try { ... }
//   catch (...) { return conf_exception(cf); }
void log_conf_exception(ngx_conf_t* cf) noexcept;
char* conf_exception(ngx_conf_t* cf) noexcept;
// The same outside configuration (timers, init_process): "<context>: <what()>".
void log_exception(ngx_log_t* log, ngx_uint_t level, const char* context) noexcept;

// Appends a handler to a phase of the http core module (postconfiguration).
bool add_phase_handler(ngx_conf_t* cf, ngx_http_phases phase, ngx_http_handler_pt handler) noexcept;

// A variable's value: `len` bytes at `data`, which must outlive the request
// (pool or static memory).
inline void set_variable(ngx_http_variable_value_t* v, const u_char* data, std::size_t len) noexcept {
    v->data = const_cast<u_char*>(data);
    v->len = static_cast<unsigned>(len);
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
}
inline void set_variable(ngx_http_variable_value_t* v, std::string_view text) noexcept {
    set_variable(v, reinterpret_cast<const u_char*>(text.data()), text.size());
}

// Sends a whole response from the module: status, content type and body.
// The body is not copied: it must outlive the request (pool or static
// memory). Discarding the request body is the caller's choice. Returns what
// ngx_http_finalize_request() (or a content handler) expects.
ngx_int_t send_body(ngx_http_request_t* r, ngx_uint_t status, ngx_str_t content_type, const u_char* body,
                    std::size_t len) noexcept;

// The directive's arguments after its name.
inline ngx_str_t* conf_args(ngx_conf_t* cf) { return static_cast<ngx_str_t*>(cf->args->elts); }
// The directive's arguments from conf_args(cf)[first] on, as views (for the
// core parsers).
std::vector<std::string_view> conf_params(ngx_conf_t* cf, ngx_uint_t first);

template <class T>
T* main_conf(ngx_conf_t* cf) {
    return static_cast<T*>(ngx_http_conf_get_module_main_conf(cf, ngx_http_levqor_module));
}
template <class T>
T* main_conf(ngx_http_request_t* r) {
    return static_cast<T*>(ngx_http_get_module_main_conf(r, ngx_http_levqor_module));
}
template <class T>
T* loc_conf(ngx_http_request_t* r) {
    return static_cast<T*>(ngx_http_get_module_loc_conf(r, ngx_http_levqor_module));
}

}  // namespace levqor::ngx
