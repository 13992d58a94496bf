#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# GET /metrics latency of levqor-controld aggregating 5 real nginx instances
# (the module's levqor_status), each with 50 levqor_limit_zones and 3 plans;
# target: under 50 ms (issue 6). Every instance has seen traffic in a few
# zones, so counters are non-zero. Measures, after a warm-up, the median,
# p90 and max of sequential curl requests (time_total), plus one instance's
# levqor_status on its own for comparison.
#   INSTANCES=5 ZONES=50 ZONE_SIZE=256k REQUESTS=50 WARMUP=10
source "$(dirname "$0")/lib.sh"

INSTANCES=${INSTANCES:-5}
ZONES=${ZONES:-50}
ZONE_SIZE=${ZONE_SIZE:-256k}
REQUESTS=${REQUESTS:-50}
WARMUP=${WARMUP:-10}
TARGET_MS=50
CONTROLD=$BUILD/levqor-controld

http_config="levqor_plan team key=300r/m ip=60r/m;"
server_config="location = /levqor/status { levqor_status; }"
for z in $(seq -w 1 "$ZONES"); do
    http_config+=$'\n'"    levqor_limit_zone z$z:$ZONE_SIZE;"
    server_config+=$'\n'"        location /z$z { levqor_limit zone=z$z key=\$http_x_api_key plan=\$arg_plan; empty_gif; }"
done

urls=()
for i in $(seq 1 "$INSTANCES"); do
    port=$(free_port)
    write_conf "$BENCH_WORK/nginx$i" "$port" 1 "" "$http_config" "$server_config"
    start_nginx "$BENCH_WORK/nginx$i"
    wait_port "$port"
    for z in 01 02 03; do
        for plan in free pro team; do
            curl -s -o /dev/null -H "X-Api-Key: k$i$z$plan" "http://127.0.0.1:$port/z$z?plan=$plan"
        done
    done
    urls+=("edge-$i=http://127.0.0.1:$port/levqor/status")
done
first_status=${urls[0]#*=}

cport=$(free_port)
start_controld "$cport" LEVQOR_NGINX_STATUS_URLS="$(IFS=,; echo "${urls[*]}")"
metrics_url="http://127.0.0.1:$cport/metrics"

# ms of time_total for $REQUESTS sequential GETs of $1, after $WARMUP.
measure() {
    local url=$1 i
    for i in $(seq 1 "$WARMUP"); do curl -s -o /dev/null "$url"; done
    for i in $(seq 1 "$REQUESTS"); do
        curl -s -o /dev/null -w '%{time_total}\n' "$url"
    done | awk '{printf "%.3f\n", $1 * 1000}' | sort -n
}
stats() {  # stats <file>: median p90 max
    awk '{a[NR]=$1} END {m = (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2;
                         printf "%.2f %.2f %.2f\n", m, a[int(NR*0.9+0.5)], a[NR]}' "$1"
}

curl -s "$metrics_url" >"$BENCH_WORK/metrics.txt"
up=$(grep -c '^levqor_nginx_up{.*} 1$' "$BENCH_WORK/metrics.txt" || true)
samples=$(grep -vc '^#' "$BENCH_WORK/metrics.txt")
families=$(grep -c '^# TYPE' "$BENCH_WORK/metrics.txt")
bytes=$(wc -c <"$BENCH_WORK/metrics.txt")
lint=$(promtool check metrics <"$BENCH_WORK/metrics.txt" 2>&1 || true)

measure "$metrics_url" >"$BENCH_WORK/controld.ms"
measure "$first_status" >"$BENCH_WORK/status.ms"
read -r c_med c_p90 c_max < <(stats "$BENCH_WORK/controld.ms")
read -r s_med s_p90 s_max < <(stats "$BENCH_WORK/status.ms")

echo "== metrics: GET /metrics of levqor-controld over $INSTANCES nginx instances x $ZONES zones (${ZONE_SIZE} each), 3 plans"
printf '  exposition: %d families, %d samples, %d bytes, %d/%d instances up, promtool: %s\n' \
    "$families" "$samples" "$bytes" "$up" "$INSTANCES" "${lint:-ok}"
printf '  %-34s %8s %8s %8s   (%d requests after %d warm-up, curl time_total)\n' "" median p90 max "$REQUESTS" "$WARMUP"
printf '  %-34s %6.2f ms %6.2f ms %6.2f ms\n' "controld /metrics (all instances)" "$c_med" "$c_p90" "$c_max"
printf '  %-34s %6.2f ms %6.2f ms %6.2f ms\n' "one nginx levqor_status, direct" "$s_med" "$s_p90" "$s_max"
verdict=$(awk -v m="$c_max" -v t="$TARGET_MS" 'BEGIN { print (m < t) ? "PASS" : "FAIL" }')
printf '  target: under %d ms -> %s (max %.2f ms)\n' "$TARGET_MS" "$verdict" "$c_max"
for i in $(seq 1 "$INSTANCES"); do stop_nginx "$BENCH_WORK/nginx$i"; done
