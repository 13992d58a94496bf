#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Security headers: cost per request of levqor_headers (strict profile) vs
# the same headers added with add_header ... always, vs plain empty_gif.
# One worker; every location answers with empty_gif (a content handler).
source "$(dirname "$0")/lib.sh"

# The strict profile's headers over plain HTTP (HSTS is HTTPS-only), as
# add_header lines. The CSP nonce is fixed text here: add_header cannot make one.
strict_csp="default-src 'none'; script-src 'nonce-AAAAAAAAAAAAAAAAAAAAAA==' 'strict-dynamic'; style-src 'self'; img-src 'self'; font-src 'self'; connect-src 'self'; manifest-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
permissions="accelerometer=(), autoplay=(), camera=(), display-capture=(), encrypted-media=(), fullscreen=(), geolocation=(), gyroscope=(), hid=(), magnetometer=(), microphone=(), midi=(), payment=(), picture-in-picture=(), publickey-credentials-get=(), screen-wake-lock=(), serial=(), usb=(), xr-spatial-tracking=()"
add_headers="
    add_header Content-Security-Policy \"$strict_csp\" always;
    add_header X-Frame-Options DENY always;
    add_header X-Content-Type-Options nosniff always;
    add_header Referrer-Policy no-referrer always;
    add_header Permissions-Policy \"$permissions\" always;
    add_header Cross-Origin-Opener-Policy same-origin always;
    add_header Cross-Origin-Resource-Policy same-origin always;"

declare -A SERVER=(
    [plain]="location /t { empty_gif; }"
    [add_header]="location /t { $add_headers empty_gif; }"
    [levqor_strict]="location /t { levqor_headers on; empty_gif; }"
    [levqor_api]="location /t { levqor_headers on; levqor_headers_profile api; empty_gif; }"
)
VARIANTS=(plain add_header levqor_strict levqor_api)
declare -A PORT IPR RPS

setup() {
    local v=$1
    PORT[$v]=$(free_port)
    write_conf "$BENCH_WORK/$v" "${PORT[$v]}" 1 "" "" "${SERVER[$v]}"
}

echo "== headers: instructions per request (callgrind, ${CALLGRIND_SECONDS}s wrk run after warm-up)"
for v in "${VARIANTS[@]}"; do
    setup "$v"
    IPR[$v]=$(callgrind_ipr "$BENCH_WORK/$v" "${PORT[$v]}" /t)
    printf '  %-14s %8d instr/request\n' "$v" "${IPR[$v]}"
done

echo "== headers: wrk requests/s (1 worker, $WRK_CONNECTIONS connections, median of $WRK_ROUNDS interleaved ${WRK_SECONDS}s runs)"
for v in "${VARIANTS[@]}"; do
    setup "$v"
    start_nginx "$BENCH_WORK/$v"
    wait_port "${PORT[$v]}"
    : >"$BENCH_WORK/$v.rps"
done
for round in $(seq 1 "$WRK_ROUNDS"); do
    for v in "${VARIANTS[@]}"; do wrk_rps "http://127.0.0.1:${PORT[$v]}/t" >>"$BENCH_WORK/$v.rps"; echo >>"$BENCH_WORK/$v.rps"; done
done
for v in "${VARIANTS[@]}"; do
    RPS[$v]=$(grep -v '^$' "$BENCH_WORK/$v.rps" | median)
    stop_nginx "$BENCH_WORK/$v"
    printf '  %-14s %8d req/s\n' "$v" "${RPS[$v]}"
done

added_add_header=$((IPR[add_header] - IPR[plain]))
added_strict=$((IPR[levqor_strict] - IPR[plain]))
added_api=$((IPR[levqor_api] - IPR[plain]))
echo "== headers: summary"
printf '  add_header (7 lines) adds %d instr/request\n' "$added_add_header"
printf '  levqor strict (same 7 headers + fresh nonce) adds %d instr/request\n' "$added_strict"
printf '  levqor api (5 headers, no nonce) adds %d instr/request\n' "$added_api"
awk -v a="$added_strict" -v b="$added_add_header" 'BEGIN { printf "  ratio levqor_strict/add_header added instructions: %.2f (target <= 1.00)\n", a / b }'
awk -v a="${RPS[levqor_strict]}" -v b="${RPS[add_header]}" -v p="${RPS[plain]}" 'BEGIN { printf "  req/s ratio levqor_strict/add_header: %.3f, levqor_strict/plain: %.3f\n", a / b, a / p }'
