#include "ngx_util.h"

#include <cstring>

namespace levqor::ngx {

bool pool_str(ngx_pool_t* pool, std::string_view text, ngx_str_t& out) {
    out.len = text.size();
    out.data = static_cast<u_char*>(ngx_pnalloc(pool, text.size() + 1));
    if (out.data == nullptr) return false;
    std::memcpy(out.data, text.data(), text.size());
    out.data[text.size()] = '\0';
    return true;
}

char* conf_error(ngx_conf_t* cf, std::string_view message) {
    // nginx prints the returned string with "%s", so it must be NUL-terminated
    // and outlive the call: the conf pool does.
    ngx_str_t s;
    if (!pool_str(cf->pool, message, s)) return static_cast<char*>(NGX_CONF_ERROR);
    return reinterpret_cast<char*>(s.data);
}

}  // namespace levqor::ngx
