#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs every Debian 12 package that building, testing, benchmarking and
# `make run` need, and nothing else: each one is included, linked or run
# somewhere (controld's metrics are in-house, not prometheus-cpp; its logs
# are its own JSON lines, not spdlog/fmt). Idempotent: prints nothing and
# exits 0 when all are present.
set -euo pipefail

packages=(
    # build
    build-essential cmake pkg-config
    nginx nginx-dev libpcre2-dev zlib1g-dev libssl-dev
    libhiredis-dev libpq-dev libsqlite3-dev libmaxminddb-dev
    libgtest-dev googletest
    nlohmann-json3-dev libcpp-httplib-dev libcurl4-openssl-dev libcli11-dev
    clang libclang-rt-14-dev clang-format-14
    # packages (make deb, make deb-check): man pages, lintian, the completion's test
    debhelper help2man lintian bash-completion
    # tests
    perl libtest-base-perl libio-socket-ssl-perl libjson-pp-perl libyaml-libyaml-perl
    openssl curl redis-server postgresql sqlite3 prometheus
    # benchmarks
    wrk valgrind libnginx-mod-http-lua libnginx-mod-http-js python3-rq
)

missing=()
for p in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [[ $status == "install ok installed" ]] || missing+=("$p")
done
((${#missing[@]} == 0)) && exit 0

echo "deps: installing ${missing[*]}" >&2
sudo=""
if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || { echo "deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
    sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
if ! $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >/tmp/levqor-deps.log 2>&1; then
    $sudo apt-get update -q >>/tmp/levqor-deps.log 2>&1
    $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >>/tmp/levqor-deps.log 2>&1 || {
        tail -20 /tmp/levqor-deps.log >&2
        echo "deps: apt-get install failed (log: /tmp/levqor-deps.log)" >&2
        exit 1
    }
fi
# Debian's packages start services on install where an init system runs; the
# tests start their own instances on loopback, so stop the system ones.
for svc in nginx redis-server postgresql prometheus; do
    $sudo service "$svc" stop >/dev/null 2>&1 || true
done
echo "deps: done" >&2
