#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs Debian's nginx configure (from nginx-dev) with Debian's own flags, adding
# levqor as a dynamic module. Writes only into the given build directory: the
# generated ngx_http_levqor_module_modules.c and the objs/ headers that make the
# module ABI-compatible with /usr/sbin/nginx.
set -euo pipefail
module_dir=$(realpath "$1")
objs_dir=$(realpath -m "$2")
src=/usr/share/nginx/src
if [[ ! -x $src/configure ]]; then
    echo "nginx-configure: $src/configure not found; install nginx-dev (make deps)" >&2
    exit 1
fi
mkdir -p "$objs_dir"
cd "$src"
# shellcheck disable=SC1091
. ./conf_flags
if ! ./configure "${NGX_CONF_FLAGS[@]}" --add-dynamic-module="$module_dir" \
        --builddir="$objs_dir" >"$objs_dir/configure.log" 2>&1; then
    tail -20 "$objs_dir/configure.log" >&2
    echo "nginx-configure: configure failed, see $objs_dir/configure.log" >&2
    exit 1
fi
test -f "$objs_dir/ngx_http_levqor_module_modules.c"
