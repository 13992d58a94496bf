#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Rate limiting: cost per request of levqor_limit vs nginx's limit_req vs a
# Lua token bucket (lua_shared_dict) vs plain, with 10,000 distinct API keys
# (no request is rejected); then accuracy at rate=5000r/s burst=1 under load.
# One worker, every location answers with empty_gif.
#
# Baselines are nginx as a user who does not install levqor runs it: plain,
# limit_req, limit_req2 and lua are WITHOUT the module (no load_module line).
# Every difference between the configurations (all else is write_conf's):
#   plain          no module; location /t { empty_gif; }
#   limit_req      no module; one limit_req_zone keyed on $http_x_api_key
#   limit_req2     no module; two limit_req_zones, per key and per client
#                  address ($binary_remote_addr), both in the location
#   lua            no module; the ndk + lua modules, lua_shared_dict, access_by_lua_file
#   lua_loaded     no levqor; the ndk + lua modules loaded, no lua directive: a
#                  control row, what loading ANOTHER module with its shared
#                  libraries does to plain (see "The module's fixed cost" in
#                  docs/benchmarks.md: glibc malloc's path, not code)
#   module_loaded  plain + load_module levqor: no levqor directive anywhere
#                  (request metrics on, their default) = what loading costs
#   metrics_off    module_loaded + "levqor_request_metrics off;" in the
#                  server: the module's fixed cost without its request metrics
#   plain_zone     module_loaded + levqor_limit_zone and levqor_plan at http{}
#                  (no levqor_limit in the location)
#   levqor_key     plain_zone + levqor_limit (key bucket only, ip=off) in the
#                  location, levqor_limit_headers off
#   levqor         the same with the key and client-address buckets (default)
#   levqor_headers levqor with the RateLimit response fields (default on)
# The summary reports the module's fixed cost (metrics_off - plain) and its
# request metrics (module_loaded - metrics_off) as rows of their own, and
# compares levqor_key with limit_req and levqor with limit_req2, each as
# instructions added to plain (no module).
source "$(dirname "$0")/lib.sh"

LUA_MODULES="load_module /usr/lib/nginx/modules/ndk_http_module.so;
load_module /usr/lib/nginx/modules/ngx_http_lua_module.so;"
KEYS_LUA=$BENCH_DIR/lua/keys.lua
# keys.lua cycles through 10,000 keys from key-0 in each wrk run: warm up
# with one run past all of them, so every variant's measured run finds its
# keys' state (limit_req's tree nodes, levqor's buckets) created; a
# time-only warm-up left limit_req inserting nodes in the measured run on a
# busy machine (+886 vs +1184, same build).
export CALLGRIND_WARMUP_REQUESTS=${CALLGRIND_WARMUP_REQUESTS:-12000}

# LOAD[v]=1: the levqor module is loaded (write_conf's last argument).
declare -A MAIN HTTP SERVER LOAD
MAIN[plain]=""; HTTP[plain]=""; LOAD[plain]=0
SERVER[plain]="location /t { empty_gif; }"
MAIN[limit_req]=""; LOAD[limit_req]=0
HTTP[limit_req]="limit_req_zone \$http_x_api_key zone=lr:10m rate=100000r/s;"
SERVER[limit_req]="location /t { limit_req zone=lr burst=100000 nodelay; empty_gif; }"
MAIN[limit_req2]=""; LOAD[limit_req2]=0
HTTP[limit_req2]="limit_req_zone \$http_x_api_key zone=lr:10m rate=100000r/s;
    limit_req_zone \$binary_remote_addr zone=lrip:10m rate=100000000r/s;"
SERVER[limit_req2]="location /t { limit_req zone=lr burst=100000 nodelay; limit_req zone=lrip burst=100000000 nodelay; empty_gif; }"
MAIN[lua]=$LUA_MODULES; LOAD[lua]=0
HTTP[lua]="lua_shared_dict buckets 10m;"
SERVER[lua]="location /t { access_by_lua_file $BENCH_DIR/lua/token_bucket.lua; empty_gif; }"
MAIN[lua_loaded]=$LUA_MODULES; HTTP[lua_loaded]=""; LOAD[lua_loaded]=0
SERVER[lua_loaded]=${SERVER[plain]}
MAIN[module_loaded]=""; HTTP[module_loaded]=""; LOAD[module_loaded]=1
SERVER[module_loaded]=${SERVER[plain]}
MAIN[metrics_off]=""; HTTP[metrics_off]=""; LOAD[metrics_off]=1
SERVER[metrics_off]="levqor_request_metrics off; ${SERVER[plain]}"
levqor_http="levqor_limit_zone api:10m; levqor_plan bench key=100000r/s ip=100000000r/s;"
# module_loaded with levqor's zone and plan configured (no levqor_limit in
# the location): what merely configuring a zone costs a request elsewhere.
MAIN[plain_zone]=""; HTTP[plain_zone]=$levqor_http; LOAD[plain_zone]=1
SERVER[plain_zone]="location /t { empty_gif; }"
MAIN[levqor_key]=""; HTTP[levqor_key]=$levqor_http; LOAD[levqor_key]=1
SERVER[levqor_key]="levqor_limit_headers off; location /t { levqor_limit zone=api key=\$http_x_api_key plan=bench ip=off; empty_gif; }"
MAIN[levqor]=""; HTTP[levqor]=$levqor_http; LOAD[levqor]=1
SERVER[levqor]="levqor_limit_headers off; location /t { levqor_limit zone=api key=\$http_x_api_key plan=bench; empty_gif; }"
MAIN[levqor_headers]=""; HTTP[levqor_headers]=$levqor_http; LOAD[levqor_headers]=1
SERVER[levqor_headers]="location /t { levqor_limit zone=api key=\$http_x_api_key plan=bench; empty_gif; }"
VARIANTS=(plain lua_loaded module_loaded metrics_off plain_zone limit_req limit_req2 lua levqor_key levqor levqor_headers)
# CALLGRIND_ONLY=1 measures instructions per request only (no wrk rounds, no
# accuracy), for the variants in VARIANTS_ONLY (default: all), e.g.
#   CALLGRIND_ONLY=1 VARIANTS_ONLY="plain module_loaded metrics_off" scripts/bench/ratelimit.sh
# (plain is always measured: every difference is taken against it.)
if [[ -n ${VARIANTS_ONLY:-} ]]; then
    read -r -a VARIANTS <<<"$VARIANTS_ONLY"
    [[ " ${VARIANTS[*]} " == *" plain "* ]] || VARIANTS=(plain "${VARIANTS[@]}")
fi
declare -A PORT IPR RPS RPS2 MALLOC

setup() {
    local v=$1 workers=$2
    PORT[$v]=$(free_port)
    write_conf "$BENCH_WORK/$v" "${PORT[$v]}" "$workers" "${MAIN[$v]}" "${HTTP[$v]}" "${SERVER[$v]}" "${LOAD[$v]}"
}

summary() {
    echo "== ratelimit: summary (instructions added per request to plain nginx without the module)"
    has() { [[ -n ${IPR[$1]:-} ]]; }
    if has metrics_off; then
        printf '  %-44s %6d   (target <= 50)\n' "module fixed cost (metrics_off - plain)" $((IPR[metrics_off] - IPR[plain]))
        has module_loaded && printf '  %-44s %6d   (target <= 100)\n' "request metrics (module_loaded - metrics_off)" \
            $((IPR[module_loaded] - IPR[metrics_off]))
    fi
    has module_loaded && printf '  %-44s %6d\n' "module loaded, nothing configured (module_loaded - plain)" \
        $((IPR[module_loaded] - IPR[plain]))
    has lua_loaded && printf '  %-44s %6d   (control: another module loaded, no directive)\n' \
        "lua + ndk loaded (lua_loaded - plain)" $((IPR[lua_loaded] - IPR[plain]))
    printf '  %-15s %10s   %-11s %10s %9s\n' variant added "compared to" added ratio
    local pair v base
    for pair in levqor_key:limit_req levqor:limit_req2 levqor_headers:limit_req2 lua:limit_req; do
        v=${pair%%:*}
        base=${pair#*:}
        has "$v" && has "$base" || continue
        awk -v v="$v" -v a=$((IPR[$v] - IPR[plain])) -v base="$base" -v b=$((IPR[$base] - IPR[plain])) \
            'BEGIN { printf "  %-15s %10d   %-11s %10d %8.2fx\n", v, a, base, b, a / b }'
    done
    echo "  target: levqor_key <= 0.8 x limit_req, levqor (key + IP) <= 0.8 x limit_req2"
    # The same, each row's malloc.c instructions replaced by plain's: what the
    # rows add apart from where the startup left nginx's free heap chunks
    # (docs/benchmarks.md, "The module's fixed cost").
    echo "  without the malloc difference (each row's malloc column set to plain's):"
    neutral() { awk -v t="${IPR[$1]}" -v m="${MALLOC[$1]}" -v pt="${IPR[plain]}" -v pm="${MALLOC[plain]}" \
        'BEGIN { printf "%.0f", (t - m) - (pt - pm) }'; }
    has metrics_off && printf '  %-44s %6d   (target <= 50)\n' "module fixed cost (metrics_off - plain)" "$(neutral metrics_off)"
    for pair in levqor_key:limit_req levqor:limit_req2; do
        v=${pair%%:*}
        base=${pair#*:}
        has "$v" && has "$base" || continue
        awk -v v="$v" -v a="$(neutral "$v")" -v base="$base" -v b="$(neutral "$base")" \
            'BEGIN { printf "  %-15s %10d   %-11s %10d %8.2fx\n", v, a, base, b, a / b }'
    done
}

echo "== ratelimit: instructions per request (callgrind, 10,000 keys, ${CALLGRIND_SECONDS}s wrk run after warm-up)"
for v in "${VARIANTS[@]}"; do
    setup "$v" 1
    IPR[$v]=$(callgrind_ipr "$BENCH_WORK/$v" "${PORT[$v]}" /t -s "$KEYS_LUA")
    # The module's own instructions (its functions, wherever inlined) and
    # glibc malloc's (the same 2 calls per request in every variant; their
    # path depends on the heap the configuration left), per request.
    MALLOC[$v]=$(callgrind_obj_per_request "$BENCH_WORK/$v" 'malloc[.]c:')
    printf '  %-15s %8d instr/request  %+6d  levqor code %6.1f  malloc %6.1f  %s\n' "$v" "${IPR[$v]}" \
        $((IPR[$v] - IPR[plain])) "$(callgrind_obj_per_request "$BENCH_WORK/$v" 'ngx_http_levqor_module[.]so|levqor::')" \
        "${MALLOC[$v]}" "$([[ ${LOAD[$v]} == 1 ]] && echo "(module loaded)" || echo "(no module)")"
done

[[ ${CALLGRIND_ONLY:-0} == 1 ]] && { summary; exit 0; }

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
    local load=1
    [[ $1 == limit_req ]] && load=0
    write_conf "$acc_dir-$1" "$acc_port" 2 "" "${ACC_HTTP[$1]}" "${ACC_SERVER[$1]}" "$load"
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

summary
