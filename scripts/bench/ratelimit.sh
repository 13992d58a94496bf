#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Rate limiting: cost per request of levqor_limit vs nginx's limit_req vs a
# Lua token bucket (lua_shared_dict) vs plain, with 10,000 distinct API keys
# (no request is rejected); then accuracy at rate=5000r/s burst=1 under load.
# One worker, every location answers with empty_gif.
source "$(dirname "$0")/lib.sh"

LUA_MODULES="load_module /usr/lib/nginx/modules/ndk_http_module.so;
load_module /usr/lib/nginx/modules/ngx_http_lua_module.so;"
KEYS_LUA=$BENCH_DIR/lua/keys.lua

declare -A MAIN HTTP SERVER
MAIN[plain]=""; HTTP[plain]=""
SERVER[plain]="location /t { empty_gif; }"
MAIN[limit_req]=""
HTTP[limit_req]="limit_req_zone \$http_x_api_key zone=lr:10m rate=100000r/s;"
SERVER[limit_req]="location /t { limit_req zone=lr burst=100000 nodelay; empty_gif; }"
MAIN[lua]=$LUA_MODULES
HTTP[lua]="lua_shared_dict buckets 10m;"
SERVER[lua]="location /t { access_by_lua_file $BENCH_DIR/lua/token_bucket.lua; empty_gif; }"
levqor_http="levqor_limit_zone api:10m; levqor_plan bench key=100000r/s ip=100000000r/s;"
# plain, but with levqor's zone and plan configured (no levqor_limit in the
# location): separates what the directive costs per request from what merely
# configuring a zone does to the worker's heap (see docs/benchmarks.md).
MAIN[plain_zone]=""; HTTP[plain_zone]=$levqor_http
SERVER[plain_zone]="location /t { empty_gif; }"
MAIN[levqor_key]=""; HTTP[levqor_key]=$levqor_http
SERVER[levqor_key]="levqor_limit_headers off; location /t { levqor_limit zone=api key=\$http_x_api_key plan=bench ip=off; empty_gif; }"
MAIN[levqor]=""; HTTP[levqor]=$levqor_http
SERVER[levqor]="levqor_limit_headers off; location /t { levqor_limit zone=api key=\$http_x_api_key plan=bench; empty_gif; }"
MAIN[levqor_headers]=""; HTTP[levqor_headers]=$levqor_http
SERVER[levqor_headers]="location /t { levqor_limit zone=api key=\$http_x_api_key plan=bench; empty_gif; }"
VARIANTS=(plain plain_zone limit_req lua levqor_key levqor levqor_headers)
# CALLGRIND_ONLY=1 measures instructions per request only (no wrk rounds, no
# accuracy), for the variants in VARIANTS_ONLY (default: all), e.g.
#   CALLGRIND_ONLY=1 VARIANTS_ONLY="plain plain_zone levqor_key levqor" scripts/bench/ratelimit.sh
[[ -n ${VARIANTS_ONLY:-} ]] && read -r -a VARIANTS <<<"$VARIANTS_ONLY"
declare -A PORT IPR RPS RPS2

setup() {
    local v=$1 workers=$2
    PORT[$v]=$(free_port)
    write_conf "$BENCH_WORK/$v" "${PORT[$v]}" "$workers" "${MAIN[$v]}" "${HTTP[$v]}" "${SERVER[$v]}"
}

echo "== ratelimit: instructions per request (callgrind, 10,000 keys, ${CALLGRIND_SECONDS}s wrk run after warm-up)"
for v in "${VARIANTS[@]}"; do
    setup "$v" 1
    IPR[$v]=$(callgrind_ipr "$BENCH_WORK/$v" "${PORT[$v]}" /t -s "$KEYS_LUA")
    printf '  %-15s %8d instr/request  (+%d)\n' "$v" "${IPR[$v]}" $((IPR[$v] - IPR[plain]))
done

rps_round() {  # rps_round <workers> <assoc-array-name>
    local workers=$1 v round
    local -n out=$2
    for v in "${VARIANTS[@]}"; do
        setup "$v" "$workers"
        start_nginx "$BENCH_WORK/$v"
        wait_port "${PORT[$v]}"
        : >"$BENCH_WORK/$v.rps"
    done
    for round in $(seq 1 "$WRK_ROUNDS"); do
        for v in "${VARIANTS[@]}"; do
            echo "$(wrk_rps "http://127.0.0.1:${PORT[$v]}/t" -s "$KEYS_LUA")" >>"$BENCH_WORK/$v.rps"
        done
    done
    for v in "${VARIANTS[@]}"; do
        out[$v]=$(median <"$BENCH_WORK/$v.rps")
        stop_nginx "$BENCH_WORK/$v"
    done
}

[[ ${CALLGRIND_ONLY:-0} == 1 ]] && exit 0

echo "== ratelimit: wrk requests/s, median of $WRK_ROUNDS interleaved ${WRK_SECONDS}s runs"
rps_round 1 RPS
rps_round 2 RPS2
printf '  %-15s %12s %12s\n' variant "1 worker" "2 workers"
for v in "${VARIANTS[@]}"; do printf '  %-15s %12d %12d\n' "$v" "${RPS[$v]}" "${RPS2[$v]}"; done

ACC_ROUNDS=${ACC_ROUNDS:-3}
echo "== ratelimit: accuracy, one key at rate=5000r/s burst=1, 2 workers, wrk -t2 -c100 for 5 s, median of $ACC_ROUNDS interleaved rounds"
acc_port=$(free_port)
acc_dir=$BENCH_WORK/accuracy
declare -A ACC_HTTP ACC_SERVER ACC_RATES
ACC_HTTP[limit_req]="limit_req_zone \$http_x_api_key zone=acc:1m rate=5000r/s;"
ACC_SERVER[limit_req]="location /t { limit_req zone=acc burst=1 nodelay; empty_gif; }"
# limit_req's burst=1 admits two requests at once (burst counts requests
# beyond the first); levqor's key_burst counts the bucket's tokens, so the
# same policy is key_burst=2.
ACC_HTTP[levqor]="levqor_limit_zone acc:1m; levqor_plan acc key=5000r/s ip=100000000r/s key_burst=2;"
ACC_SERVER[levqor]="levqor_limit_headers off; location /t { levqor_limit zone=acc key=\$http_x_api_key plan=acc; empty_gif; }"
# Diagnostic: the same rate with a 1 ms bank (key_burst=5). A bucket of
# burst 2 banks only 200 us; whenever no request is pending for longer (wrk
# is closed-loop and shares the 2 cores with nginx), that time is lost to
# any exact limiter. If this row is at 5000, the shortfall above is idle
# time in the load, not the limiter.
ACC_HTTP[levqor_b5]="levqor_limit_zone acc:1m; levqor_plan acc key=5000r/s ip=100000000r/s key_burst=5;"
ACC_SERVER[levqor_b5]=${ACC_SERVER[levqor]}
# One round: passed requests per second of the run wrk reports (its
# "requests in N.NNs", not the nominal 5 s).
accuracy_round() {
    write_conf "$acc_dir-$1" "$acc_port" 2 "" "${ACC_HTTP[$1]}" "${ACC_SERVER[$1]}"
    start_nginx "$acc_dir-$1"
    wait_port "$acc_port"
    wrk -t2 -c100 -d5s -s "$BENCH_DIR/lua/count_status.lua" "http://127.0.0.1:$acc_port/t" 2>/dev/null |
        awk '/requests in/ { d = $4; sub(/s,$/, "", d) } /^passed=/ { split($1, p, "="); printf "%d\n", p[2] / d }'
    stop_nginx "$acc_dir-$1"
}
for _ in $(seq 1 "$ACC_ROUNDS"); do
    for v in limit_req levqor levqor_b5; do ACC_RATES[$v]+="$(accuracy_round "$v") "; done
done
for v in limit_req levqor levqor_b5; do
    m=$(tr ' ' '\n' <<<"${ACC_RATES[$v]}" | grep . | median)
    awk -v v="$v" -v m="$m" -v all="${ACC_RATES[$v]}" 'BEGIN {
        printf "  %-10s %5d passed/s (%+.1f %% of 5000; target +- 2 %%)   rounds: %s\n", v, m, (m - 5000) / 50, all }'
done

echo "== ratelimit: summary (added instructions per request; limit_req adds $((IPR[limit_req] - IPR[plain])))"
lr=$((IPR[limit_req] - IPR[plain]))
printf '  %-15s %14s %10s %22s %10s\n' variant "vs plain" ratio "vs plain_zone (same" ratio
for v in lua levqor_key levqor levqor_headers; do
    add=$((IPR[$v] - IPR[plain]))
    addz=$((IPR[$v] - IPR[plain_zone]))
    awk -v v="$v" -v a="$add" -v z="$addz" -v b="$lr" 'BEGIN { printf "  %-15s %14d %9.2fx %14d config) %9.2fx\n", v, a, a / b, z, z / b }'
done
echo "  target: levqor's added instructions <= 0.8 x limit_req's"
