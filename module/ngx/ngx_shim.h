// SPDX-License-Identifier: Apache-2.0
// The only way into nginx: every file in module/ngx includes nginx through
// this header, and nothing in module/core does.
#pragma once

extern "C" {
#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

extern ngx_module_t ngx_http_levqor_module;
}
