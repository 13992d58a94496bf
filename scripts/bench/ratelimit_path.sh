#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Where the local limiter's instructions go: callgrind (--dump-instr=yes) of
# plain nginx and limit_req WITHOUT the module loaded (one and two limit_req
# zones: per key, and per key + per client address), and of levqor_limit
# (key bucket only; key + IP buckets) with the module loaded, 10,000 keys, one
# worker, no response headers, every key's bucket made during the warm-up. Prints instructions per request, the added
# instructions against plain nginx and limit_req, and the inclusive cost per
# request of every levqor function on the request path (docs/benchmarks.md
# "Where the limiter's instructions go").
#   scripts/bench/ratelimit_path.sh                  # all variants
#   VARIANTS_ONLY="plain levqor_key" scripts/bench/ratelimit_path.sh
#   FUNCTIONS=0 ...                                  # totals only
source "$(dirname "$0")/lib.sh"

KEYS_LUA=$BENCH_DIR/lua/keys.lua
levqor_http="levqor_limit_zone api:10m; levqor_plan bench key=100000r/s ip=100000000r/s;"
declare -A HTTP SERVER LOAD
LOAD[plain]=0; HTTP[plain]=""
SERVER[plain]="location /t { empty_gif; }"
LOAD[limit_req]=0
HTTP[limit_req]="limit_req_zone \$http_x_api_key zone=lr:10m rate=100000r/s;"
SERVER[limit_req]="location /t { limit_req zone=lr burst=100000 nodelay; empty_gif; }"
LOAD[limit_req2]=0
HTTP[limit_req2]="limit_req_zone \$http_x_api_key zone=lr:10m rate=100000r/s;
    limit_req_zone \$binary_remote_addr zone=lri:10m rate=100000000r/s;"
SERVER[limit_req2]="location /t { limit_req zone=lr burst=100000 nodelay; limit_req zone=lri burst=100000000 nodelay; empty_gif; }"
LOAD[levqor_key]=1; HTTP[levqor_key]=$levqor_http
SERVER[levqor_key]="levqor_limit_headers off; location /t { levqor_limit zone=api key=\$http_x_api_key plan=bench ip=off; empty_gif; }"
LOAD[levqor]=1; HTTP[levqor]=$levqor_http
SERVER[levqor]="levqor_limit_headers off; location /t { levqor_limit zone=api key=\$http_x_api_key plan=bench; empty_gif; }"
VARIANTS=(plain limit_req limit_req2 levqor_key levqor)
[[ -n ${VARIANTS_ONLY:-} ]] && read -r -a VARIANTS <<<"$VARIANTS_ONLY"
export CALLGRIND_DUMP_INSTR=yes
# Steady state: the warm-up asks with each of the 10,000 keys once, so the
# measured run finds every bucket (limit_req's node, levqor's slot) in place
# and the count does not depend on how many requests the warm-up managed.
# CALLGRIND_WARMUP=true: no warm-up, a cold table (with CALLGRIND_SECONDS=1 nearly
# every request makes a new bucket).
export CALLGRIND_WARMUP=${CALLGRIND_WARMUP:-$BENCH_DIR/keys_once.pl}
declare -A IPR MALLOC

echo "== ratelimit_path: instructions per request (callgrind, 10,000 keys, ${CALLGRIND_SECONDS}s wrk run after warm-up; plain and limit_req* without the module)"
for v in "${VARIANTS[@]}"; do
    port=$(free_port)
    write_conf "$BENCH_WORK/$v" "$port" 1 "" "${HTTP[$v]}" "${SERVER[$v]}" "${LOAD[$v]}"
    IPR[$v]=$(callgrind_ipr "$BENCH_WORK/$v" "$port" /t -s "$KEYS_LUA")
    # glibc's malloc.c per request: its path depends on the free heap chunks
    # the startup left (docs/benchmarks.md, "The module's fixed cost").
    MALLOC[$v]=$(callgrind_obj_per_request "$BENCH_WORK/$v" 'malloc[.]c:')
    if [[ -n ${IPR[plain]:-} ]]; then
        printf '  %-12s %8d instr/request  (%+d)  malloc %6.1f\n' "$v" "${IPR[$v]}" $((IPR[$v] - IPR[plain])) "${MALLOC[$v]}"
    else
        printf '  %-12s %8d instr/request  malloc %6.1f\n' "$v" "${IPR[$v]}" "${MALLOC[$v]}"
    fi
done

if [[ -n ${IPR[plain]:-} ]]; then
    echo "== ratelimit_path: added instructions vs plain nginx (target <= 0.8 x)"
    ratio() {  # ratio <variant> <base variant>
        [[ -n ${IPR[$1]:-} && -n ${IPR[$2]:-} ]] || return 0
        awk -v v="$1" -v b="$2" -v a=$((IPR[$1] - IPR[plain])) -v l=$((IPR[$2] - IPR[plain])) \
            'BEGIN { printf "  %-12s +%-6d vs %-10s +%-6d %5.2f x\n", v, a, b, l, a / l }'
    }
    ratio levqor_key limit_req
    ratio levqor limit_req2
    echo "== ratelimit_path: the same without the malloc difference (each row's malloc set to plain's)"
    neutral_ratio() {  # neutral_ratio <variant> <base variant>
        [[ -n ${IPR[$1]:-} && -n ${IPR[$2]:-} ]] || return 0
        awk -v v="$1" -v b="$2" -v t="${IPR[$1]}" -v m="${MALLOC[$1]}" -v bt="${IPR[$2]}" -v bm="${MALLOC[$2]}" \
            -v pt="${IPR[plain]}" -v pm="${MALLOC[plain]}" 'BEGIN {
                a = (t - m) - (pt - pm); l = (bt - bm) - (pt - pm)
                printf "  %-12s +%-6.0f vs %-10s +%-6.0f %5.2f x\n", v, a, b, l, a / l }'
    }
    neutral_ratio levqor_key limit_req
    neutral_ratio levqor limit_req2
fi

# Inclusive cost per request of the module's functions on the request path
# (callees included; "decide" includes the bucket table, SipHash, the header
# search and the request context).
FNS=(
    "limit_handler|levqor::ngx::limit_handler\\("
    "  decide|levqor::ngx::\\(anonymous namespace\\)::decide\\("
    "    BucketTable::decide_*|levqor::limit::BucketTable::decide_(one|two|many)\\("
    "    siphash|levqor::detail::siphash<1, 3>"
    "    header search|ValueSource::(find_header|eval)\\("
    "    request_ctx_create|levqor::ngx::request_ctx_create"
    "    clock_gettime|clock_gettime@@GLIBC"
    "limit_add_headers|levqor::ngx::limit_add_headers"
    "headers_decorate|levqor::ngx::headers_decorate"
    "log_handler (metrics)|levqor::ngx::\\(anonymous namespace\\)::log_handler"
)
[[ ${FUNCTIONS:-1} == 1 ]] || exit 0
for v in "${VARIANTS[@]}"; do
    [[ ${LOAD[$v]} == 1 ]] || continue
    echo "== ratelimit_path: $v, inclusive instructions per request"
    for f in "${FNS[@]}"; do
        printf '  %-24s %7s\n' "${f%%|*}" "$(callgrind_fn_max_per_request "$BENCH_WORK/$v" "${f#*|}")"
    done
done
