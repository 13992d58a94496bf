#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Cluster-wide limits: local shared-memory mode vs Redis mode (a local
# redis-server) in the same run, one worker, 10,000 API keys, empty_gif;
# then Redis SIGSTOPped (the deadline and the circuit breaker at work).
# Reports requests/s and p99 latency (wrk --latency), medians of interleaved runs.
source "$(dirname "$0")/lib.sh"

KEYS_LUA=$BENCH_DIR/lua/keys.lua
start_redis

# key_secret_file=: the secret that names the buckets in Redis (required with redis=).
KEY_FILE=$REDIS_DIR/redis.key
random_hex 32 >"$KEY_FILE"

PLAN="levqor_plan bench key=100000r/s ip=100000000r/s;"
SERVER="levqor_limit_headers off; location /t { levqor_limit zone=api key=\$http_x_api_key plan=bench; empty_gif; }"
declare -A HTTP=(
    [local]="levqor_limit_zone api:10m; $PLAN"
    [redis]="levqor_limit_zone api:10m redis=redis://127.0.0.1:$REDIS_PORT key_secret_file=$KEY_FILE; $PLAN"
)
VARIANTS=(local redis)
declare -A PORT

# Instructions per decision on the nginx side (callgrind, one process) and
# malloc calls per request, local vs redis. Under valgrind nginx is ~50x
# slower: the redis variant gets a deadline of 1 s so that no decision falls
# back; the script-call counter shows how many decisions each call carried.
echo "== ratelimit_redis: nginx instructions per request (callgrind, 1 process, 10 connections, ${CALLGRIND_SECONDS}s wrk run after warm-up)"
declare -A CG_HTTP=(
    [local]="${HTTP[local]}"
    [redis]="levqor_limit_zone api:10m redis=redis://127.0.0.1:$REDIS_PORT key_secret_file=$KEY_FILE redis_timeout=1000; $PLAN"
)
declare -A IPR
for v in "${VARIANTS[@]}"; do
    port=$(free_port)
    write_conf "$BENCH_WORK/cg_$v" "$port" 1 "" "${CG_HTTP[$v]}" "$SERVER"
    redis-cli -p "$REDIS_PORT" config resetstat >/dev/null
    IPR[$v]=$(callgrind_ipr "$BENCH_WORK/cg_$v" "$port" /t -s "$KEYS_LUA")
    calls=$(redis-cli -p "$REDIS_PORT" info commandstats | awk -F'[=,:]' '/^cmdstat_evalsha:/ { print $3 }')
    mallocs=$(callgrind_calls_per_request "$BENCH_WORK/cg_$v" malloc)
    requests=$(cat "$BENCH_WORK/cg_$v/callgrind.requests")
    printf '  %-6s %8d instr/request   malloc %5s calls/request   (%d requests, %d script calls incl. warm-up)\n' \
        "$v" "${IPR[$v]}" "$mallocs" "$requests" "${calls:-0}"
done
printf '  redis - local: %+d instructions per decision (target <= +4000)\n' $((IPR[redis] - IPR[local]))
[[ -n ${CALLGRIND_ONLY:-} ]] && { kill "$REDIS_PID" 2>/dev/null || true; exit 0; }

# wrk_line <url> [connections]: "<req/s> <p99 ms>"
wrk_line() {
    wrk -t1 -c"${2:-$WRK_CONNECTIONS}" -d"${WRK_SECONDS}s" --latency -s "$KEYS_LUA" "$1" 2>/dev/null | awk '
        /Requests\/sec/ { rps = $2 }
        /^ +99%/ { v = $2; if (v ~ /us$/) { sub(/us/, "", v); v /= 1000 } else if (v ~ /ms$/) { sub(/ms/, "", v) } else if (v ~ /s$/) { sub(/s/, "", v); v *= 1000 }; p99 = v }
        END { printf "%d %.3f\n", rps, p99 }'
}

for v in "${VARIANTS[@]}"; do
    PORT[$v]=$(free_port)
    write_conf "$BENCH_WORK/$v" "${PORT[$v]}" 1 "" "${HTTP[$v]}" "$SERVER"
    start_nginx "$BENCH_WORK/$v"
    wait_port "${PORT[$v]}"
    wrk -t1 -c10 -d1s -s "$KEYS_LUA" "http://127.0.0.1:${PORT[$v]}/t" >/dev/null 2>&1  # warm-up, script loaded
done

# measure <label> <connections> <RPS array name> <P99 array name>: median
# req/s and median p99 of WRK_ROUNDS interleaved runs of every variant.
measure() {
    local label=$1 conns=$2 round v
    local -n rps_out=$3 p99_out=$4
    for v in "${VARIANTS[@]}"; do : >"$BENCH_WORK/$v.$label"; done
    for round in $(seq 1 "$WRK_ROUNDS"); do
        for v in "${VARIANTS[@]}"; do wrk_line "http://127.0.0.1:${PORT[$v]}/t" "$conns" >>"$BENCH_WORK/$v.$label"; done
    done
    for v in "${VARIANTS[@]}"; do
        rps_out[$v]=$(awk '{print $1}' "$BENCH_WORK/$v.$label" | median)
        p99_out[$v]=$(awk '{print $2}' "$BENCH_WORK/$v.$label" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
        printf '  %-6s %8d req/s   p99 %7.3f ms\n' "$v" "${rps_out[$v]}" "${p99_out[$v]}"
    done
}

redis-cli -p "$REDIS_PORT" config resetstat >/dev/null
echo "== ratelimit_redis: 1 worker, $WRK_CONNECTIONS connections, 10,000 keys, median of $WRK_ROUNDS interleaved ${WRK_SECONDS}s runs"
declare -A RPS P99
measure saturated "$WRK_CONNECTIONS" RPS P99
# Buckets expire as soon as they are full again (here within microseconds),
# so Redis's command counter is the evidence that every decision went there.
redis_calls=$(redis-cli -p "$REDIS_PORT" info commandstats | awk -F'[=,:]' '/^cmdstat_evalsha:/ { print $3 }')
redis_served=$(awk -v r="${RPS[redis]}" -v n="$WRK_ROUNDS" -v s="$WRK_SECONDS" 'BEGIN { printf "%d", r * n * s }')
echo "  (redis ran EVALSHA ${redis_calls:-0} times; redis mode served about $redis_served requests)"

# Where the CPU goes: on 2 cores wrk takes one; in Redis mode nginx and
# redis-server share the other. CPU time of the nginx worker and of Redis
# per request, over one more saturated run per variant.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# CPU_ROUNDS runs per variant, interleaved; each line is one run, then the
# median (Redis's share moves by a third between single runs: how many keys
# it creates anew depends on what expired in between).
CPU_ROUNDS=${CPU_ROUNDS:-3}
echo "== ratelimit_redis: CPU per request = per decision ($CPU_ROUNDS ${WRK_SECONDS}s saturated runs each, interleaved; /proc ticks of 10 ms)"
declare -A CPU_LINES
for round in $(seq 1 "$CPU_ROUNDS"); do
    for v in "${VARIANTS[@]}"; do
        worker=$(pgrep -P "$(cat "$BENCH_WORK/$v/nginx.pid")" | head -1)
        redis-cli -p "$REDIS_PORT" config resetstat >/dev/null
        w0=$(cpu_ticks "$worker"); r0=$(cpu_ticks "$REDIS_PID")
        n=$(wrk -t1 -c"$WRK_CONNECTIONS" -d"${WRK_SECONDS}s" -s "$KEYS_LUA" "http://127.0.0.1:${PORT[$v]}/t" 2>/dev/null |
            awk '/requests in/ { print $1 }')
        w1=$(cpu_ticks "$worker"); r1=$(cpu_ticks "$REDIS_PID")
        # Redis's own account of the script (INFO commandstats: usec and calls).
        script=$(redis-cli -p "$REDIS_PORT" info commandstats | awk -F'[=,:]' -v n="$n" '/^cmdstat_evalsha:/ {
            printf "%.2f %.1f", $5 / n, n / $3 }')
        CPU_LINES[$v]+=$(awk -v n="$n" -v w=$((w1 - w0)) -v r=$((r1 - r0)) -v s="${script:-0 0}" 'BEGIN {
            printf "%.1f %.1f %s\n", w * 10000 / n, r * 10000 / n, s }')$'\n'
    done
done
for v in "${VARIANTS[@]}"; do
    printf '%s' "${CPU_LINES[$v]}" | awk -v v="$v" '
        NF { nw[NR] = $1; nr[NR] = $2; ns[NR] = $3; nd[NR] = $4; k = NR
             printf "  %-6s nginx worker %5.1f us/request, redis-server %5.1f us/request, together %5.1f", v, $1, $2, $1 + $2
             if (v == "redis") printf "   (script %.2f us/decision, %.1f decisions per call)", $3, $4
             printf "\n" }
        function med(a,   i, j, t, m) { m = k; for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }; return a[int((m + 1) / 2)] }
        END { w = med(nw); r = med(nr)
              printf "  %-6s median: nginx worker %5.1f us/request, redis-server %5.1f us/request", v, w, r
              if (v == "redis") printf ", script time %.2f us/decision (target <= 3 us redis-server CPU)", med(ns)
              printf "\n" }'
done

# Latency at saturation mixes in the throughput difference (50 connections
# queue behind a slower server); at light load p99 is the time Redis adds to
# one request.
LIGHT=${LIGHT_CONNECTIONS:-4}
echo "== ratelimit_redis: light load, $LIGHT connections, median of $WRK_ROUNDS interleaved ${WRK_SECONDS}s runs"
declare -A LRPS LP99
measure light "$LIGHT" LRPS LP99

echo "== ratelimit_redis: Redis SIGSTOPped (deadline 5 ms), same load"
kill -STOP "$REDIS_PID"
read -r stopped_rps stopped_p99 < <(wrk_line "http://127.0.0.1:${PORT[redis]}/t")
kill -CONT "$REDIS_PID"
printf '  redis (stopped) %8d req/s   p99 %7.3f ms\n' "$stopped_rps" "$stopped_p99"

for v in "${VARIANTS[@]}"; do stop_nginx "$BENCH_WORK/$v"; done
kill "$REDIS_PID" 2>/dev/null || true

echo "== ratelimit_redis: summary"
awk -v r="${RPS[redis]}" -v l="${RPS[local]}" 'BEGIN { printf "  throughput redis/local: %.2f (target >= 0.60)\n", r / l }'
awk -v r="${P99[redis]}" -v l="${P99[local]}" 'BEGIN { printf "  p99 added by redis at saturation ('"$WRK_CONNECTIONS"' connections): %.3f ms (target <= 1 ms)\n", r - l }'
awk -v r="${LP99[redis]}" -v l="${LP99[local]}" 'BEGIN { printf "  p99 added by redis at light load ('"$LIGHT"' connections): %.3f ms (target <= 1 ms)\n", r - l }'
awk -v s="$stopped_p99" 'BEGIN { printf "  p99 with redis stopped: %.3f ms (target <= 7 ms: deadline 5 + 2)\n", s }'
