#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# RateLimit fields through a second tier (levqor_limit_headers_upstream):
# instructions per request of a limited proxy_pass location, pass against
# merge (the default) and replace, to an upstream nginx (a separate process,
# not measured) that answers
#  - /plain: no rate-limit fields (the common case: the scan of the header
#    list is all merge adds, no allocation);
#  - /fields: one RateLimit-Policy and one RateLimit line, as a levqor tier
#    with one key limit sends them (what merge is for).
# The plan is wide enough that nothing is rejected; every variant has the
# same limit, so the difference is the directive's own work. `nomodule` is
# the same proxy_pass location with the module not loaded (what a user
# without levqor runs): `pass` against it is the whole limiter's cost here.
source "$(dirname "$0")/lib.sh"

UPORT=$(free_port)
write_conf "$BENCH_WORK/upstream" "$UPORT" 1 "" "" "
    location /plain { return 200 ok; }
    location /fields {
        add_header RateLimit-Policy '\"i-key\";q=2;w=60';
        add_header RateLimit '\"i-key\";r=1;t=30';
        return 200 ok;
    }" 0
start_nginx "$BENCH_WORK/upstream"
wait_port "$UPORT"

http="levqor_limit_zone edge:10m; levqor_plan wide key=1000000r/s ip=1000000r/s;
      upstream inner { server 127.0.0.1:$UPORT; keepalive 16; }"
limit="levqor_limit zone=edge key=\$http_x_api_key plan=wide;
       proxy_pass http://inner; proxy_http_version 1.1; proxy_set_header Connection \"\";"

declare -A SERVER PATHS BASE LOAD
SERVER[nomodule]="location / { proxy_pass http://inner; proxy_http_version 1.1; proxy_set_header Connection \"\"; }"
PATHS[nomodule]=/plain; LOAD[nomodule]=0
SERVER[pass]="location / { levqor_limit_headers_upstream pass; $limit }"; PATHS[pass]=/plain; BASE[pass]=nomodule
SERVER[merge]="location / { $limit }"; PATHS[merge]=/plain; BASE[merge]=pass
SERVER[pass_fields]="location / { levqor_limit_headers_upstream pass; $limit }"; PATHS[pass_fields]=/fields
SERVER[merge_fields]="location / { $limit }"; PATHS[merge_fields]=/fields; BASE[merge_fields]=pass_fields
SERVER[replace_fields]="location / { levqor_limit_headers_upstream replace; $limit }"
PATHS[replace_fields]=/fields; BASE[replace_fields]=pass_fields
VARIANTS=(nomodule pass merge pass_fields merge_fields replace_fields)
[[ -n ${VARIANTS_ONLY:-} ]] && read -r -a VARIANTS <<<"$VARIANTS_ONLY"
declare -A PORT IPR FILTER

echo "== ratelimit_tiers: instructions per request (callgrind, 1 process, ${CALLGRIND_SECONDS}s wrk run after warm-up)"
for v in "${VARIANTS[@]}"; do
    PORT[$v]=$(free_port)
    h=$http
    [[ ${LOAD[$v]:-1} == 0 ]] && h="upstream inner { server 127.0.0.1:$UPORT; keepalive 16; }"
    write_conf "$BENCH_WORK/$v" "${PORT[$v]}" 1 "" "$h" "${SERVER[$v]}" "${LOAD[$v]:-1}"
    IPR[$v]=$(callgrind_ipr "$BENCH_WORK/$v" "${PORT[$v]}" "${PATHS[$v]}" -H "X-Api-Key: bench")
    FILTER[$v]=$(callgrind_fn_max_per_request "$BENCH_WORK/$v" 'limit_add_headers')
    base=${BASE[$v]:-}
    ipr_line "$v" "${IPR[$v]}" "$base" "${IPR[${base:-none}]:-}" limit_add_headers "${FILTER[$v]}"
done
stop_nginx "$BENCH_WORK/upstream"
