// Small helpers for C++ at the nginx boundary: string views over ngx_str_t,
// C++ objects placed in nginx pools (destroyed by a pool cleanup), and the
// conf-error convention. All functions are noexcept-safe for nginx callbacks.
#pragma once

#include <new>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "ngx_shim.h"

namespace levqor::ngx {

inline std::string_view sv(const ngx_str_t& s) {
    return {reinterpret_cast<const char*>(s.data), s.len};
}

// Copies text into pool memory as an ngx_str_t (not NUL-terminated).
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

// A directive setter's error result: nginx prints
//   "<directive>" directive <message> in <file>:<line>
// so the message names the bad value and the directive comes for free.
char* conf_error(ngx_conf_t* cf, std::string_view message);

// The directive's arguments after its name.
inline ngx_str_t* conf_args(ngx_conf_t* cf) { return static_cast<ngx_str_t*>(cf->args->elts); }

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
