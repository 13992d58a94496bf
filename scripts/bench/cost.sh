#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Cost accounting: instructions per request that levqor_cost adds (callgrind,
# one process), each variant against the same configuration without the
# directive in the measured location. Every configuration but `plain` has the
# same extra location using levqor_cost (never requested), so the zone, the
# log-phase handler and the variables exist in both sides of a comparison and
# the difference is the directive's own per-request work.
#  - empty_gif: a literal amount; the amount from a request header with a
#    literal connector; the same with the connector from a header too (looked
#    up by name in the shared table);
#  - proxy_pass (keepalive) to an upstream nginx (a separate process, not
#    measured) that answers X-AI-Cost-USD: 0.0123; the amount from
#    $upstream_http_x_ai_cost_usd: the deployment the directive is made for.
# Baselines as a user without levqor runs them: `nomodule` and
# `proxy_nomodule` are plain and proxy with the module not loaded at all, so
# plain's and proxy's rows show the module's fixed cost in this configuration.
# wrk sends the same headers to every variant.
source "$(dirname "$0")/lib.sh"

UPORT=$(free_port)
write_conf "$BENCH_WORK/upstream" "$UPORT" 1 "" "" \
    "location / { add_header X-AI-Cost-USD 0.0123; return 200 ok; }" 0
start_nginx "$BENCH_WORK/upstream"
wait_port "$UPORT"

WRK_HEADERS=(-H "X-AI-Cost-USD: 0.0123" -H "X-Connector: openai")
unused="location /unused { levqor_cost \$upstream_http_x_ai_cost_usd connector=\$http_x_connector; empty_gif; }"
upstream="upstream ai { server 127.0.0.1:$UPORT; keepalive 16; }"
proxy="proxy_pass http://ai; proxy_http_version 1.1; proxy_set_header Connection \"\";"

declare -A HTTP SERVER BASE LOAD
HTTP[nomodule]=""; SERVER[nomodule]="location /t { empty_gif; }"; LOAD[nomodule]=0
HTTP[plain]=""; SERVER[plain]="location /t { empty_gif; }"; BASE[plain]=nomodule
HTTP[plain_zone]=""; SERVER[plain_zone]="location /t { empty_gif; } $unused"; BASE[plain_zone]=plain
HTTP[literal]=""; BASE[literal]=plain_zone
SERVER[literal]="location /t { levqor_cost 0.002 connector=openai; empty_gif; } $unused"
HTTP[header]=""; BASE[header]=plain_zone
SERVER[header]="location /t { levqor_cost \$http_x_ai_cost_usd connector=openai; empty_gif; } $unused"
HTTP[header_dyn]=""; BASE[header_dyn]=plain_zone
SERVER[header_dyn]="location /t { levqor_cost \$http_x_ai_cost_usd connector=\$http_x_connector; empty_gif; } $unused"
HTTP[proxy_nomodule]=$upstream; SERVER[proxy_nomodule]="location /t { $proxy }"; LOAD[proxy_nomodule]=0
HTTP[proxy]=$upstream; SERVER[proxy]="location /t { $proxy } $unused"; BASE[proxy]=proxy_nomodule
HTTP[proxy_cost]=$upstream; BASE[proxy_cost]=proxy
SERVER[proxy_cost]="location /t { levqor_cost \$upstream_http_x_ai_cost_usd connector=openai; $proxy } $unused"
VARIANTS=(nomodule plain plain_zone literal header header_dyn proxy_nomodule proxy proxy_cost)
[[ -n ${VARIANTS_ONLY:-} ]] && read -r -a VARIANTS <<<"$VARIANTS_ONLY"
declare -A PORT IPR HANDLER

echo "== cost: instructions per request (callgrind, 1 process, ${CALLGRIND_SECONDS}s wrk run after warm-up)"
for v in "${VARIANTS[@]}"; do
    PORT[$v]=$(free_port)
    write_conf "$BENCH_WORK/$v" "${PORT[$v]}" 1 "" "${HTTP[$v]}" "${SERVER[$v]}" "${LOAD[$v]:-1}"
    IPR[$v]=$(callgrind_ipr "$BENCH_WORK/$v" "${PORT[$v]}" /t "${WRK_HEADERS[@]}")
    # The handler's inclusive cost (the line with the .so's name: one per function).
    HANDLER[$v]=$(callgrind_fn_max_per_request "$BENCH_WORK/$v" 'cost_log_handler')
    base=${BASE[$v]:-}
    ipr_line "$v" "${IPR[$v]}" "$base" "${IPR[${base:-none}]:-}" cost_log_handler "${HANDLER[$v]}"
done
stop_nginx "$BENCH_WORK/upstream"
echo "  (target: levqor_cost adds <= 150 instr/request)"
