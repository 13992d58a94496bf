#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Abuse controls (issue 15): device checks through nginx auth_request.
#  1. p99 latency added by the check: wrk paced to RATE req/s (each of CONNS
#     connections waits CONNS/RATE s before each request) for SECONDS s
#     against /checked (auth_request to controld's GET /abuse/device, then the
#     application) and /plain (the same proxy_pass to the application, no
#     auth_request: the only difference). Every request is a new account, so
#     every check records a device pair (the store grows, as in production).
#     Store: SQLite under controld's data_dir. Goal: p99 added <= 2 ms.
#  2. controld's throughput for POST /abuse/device (wrk, 8 connections, new
#     account per request), with controld pinned to one core (taskset).
#   RATE=1000 BENCH_SECONDS=10 CONNS=10 CONTROLD=<binary>
source "$(dirname "$0")/lib.sh"

RATE=${RATE:-1000}
SECONDS_RUN=${BENCH_SECONDS:-10}
CONNS=${CONNS:-10}
CONTROLD=${CONTROLD:-$BUILD/levqor-controld}
TARGET_P99_MS=2

make_token producer
token=$TOKEN
random_hex 48 >"$BENCH_WORK/pepper"
chmod 600 "$BENCH_WORK/pepper"
printf '{"abuse":{"pepper_file":"%s"}}\n' "$BENCH_WORK/pepper" >"$BENCH_WORK/controld.json"
cport=$(free_port)
# controld pinned to one core, with the abuse config (a wrapper: start_controld runs one word).
pin=""
command -v taskset >/dev/null && pin="taskset -c 1"
printf '#!/bin/sh\nexec %s %s --config %s\n' "$pin" "$CONTROLD" "$BENCH_WORK/controld.json" >"$BENCH_WORK/controld.sh"
chmod +x "$BENCH_WORK/controld.sh"
CONTROLD=$BENCH_WORK/controld.sh
start_controld "$cport" LEVQOR_PRODUCER_TOKEN_FILE="$BENCH_WORK/producer.token" ABUSE_GUARDS_ENABLED=on

app_port=$(free_port)
port=$(free_port)
dir=$BENCH_WORK/nginx
write_conf "$dir" "$port" 1 "" "
    upstream controld { server 127.0.0.1:$cport; keepalive 32; }
    upstream app { server 127.0.0.1:$app_port; keepalive 32; }
    server { listen 127.0.0.1:$app_port; location / { return 200 'app'; } }" "
        location = /_abuse {
            internal;
            proxy_pass http://controld/abuse/device;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
            proxy_set_header Host localhost;
            proxy_set_header Authorization \"Bearer $token\";
            proxy_pass_request_body off;
            proxy_set_header Content-Length \"\";
            proxy_set_header X-Levqor-Account \$http_x_account_id;
            proxy_set_header X-Levqor-Plan free;
            proxy_set_header X-Levqor-Device \$http_x_device_fingerprint;
            proxy_set_header X-Real-IP \$remote_addr;
        }
        location /checked { auth_request /_abuse; proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection \"\"; }
        location /plain { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection \"\"; }" 0
start_nginx "$dir"
wait_port "$port"

# Paced wrk: every request a new account (thread id + counter).
cat >"$BENCH_WORK/paced.lua" <<LUA
local counter = 0
local id = 0
function setup(thread) id = id + 1; thread:set("tid", id) end
function init(args) counter = 0 end
function delay() return $((1000 * CONNS / RATE)) end
function request()
    counter = counter + 1
    return wrk.format("GET", nil, { ["X-Account-Id"] = "acct-" .. tid .. "-" .. counter,
                                    ["X-Device-Fingerprint"] = "device-" .. counter })
end
LUA
p99_ms() {  # <path>: "p99_ms requests errors"
    wrk -t2 -c"$CONNS" -d"${SECONDS_RUN}s" --latency -s "$BENCH_WORK/paced.lua" "http://127.0.0.1:$port$1" 2>/dev/null |
        awk '
            function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
            $1 == "99%" { p = ms($2) }
            /requests in/ { n = $1 }
            /Non-2xx/ { e = $NF }
            END { printf "%.3f %d %d\n", p, n, e + 0 }'
}
# Warm up both paths, then interleave.
p99_ms /plain >/dev/null
p99_ms /checked >/dev/null
read -r plain_p99 plain_n plain_err < <(p99_ms /plain)
read -r checked_p99 checked_n checked_err < <(p99_ms /checked)
added=$(awk -v a="$checked_p99" -v b="$plain_p99" 'BEGIN { printf "%.3f", a - b }')
verdict=$(awk -v x="$added" -v t="$TARGET_P99_MS" 'BEGIN { print (x <= t ? "meets" : "MISSES") }')

echo "== abuse: device checks through nginx auth_request (SQLite store), ${RATE} req/s paced, ${SECONDS_RUN}s, ${CONNS} connections"
printf '  plain    p99 %8.3f ms  (%d requests, %d non-2xx)\n' "$plain_p99" "$plain_n" "$plain_err"
printf '  checked  p99 %8.3f ms  (%d requests, %d non-2xx)\n' "$checked_p99" "$checked_n" "$checked_err"
printf '  added by the check: p99 %s ms  (target <= %s ms: %s)\n' "$added" "$TARGET_P99_MS" "$verdict"

cat >"$BENCH_WORK/post.lua" <<LUA
local counter = 0
local id = 0
function setup(thread) id = id + 1; thread:set("tid", id) end
function request()
    counter = counter + 1
    local body = '{"account":"post-' .. tid .. '-' .. counter .. '","plan":"free","device":"d-' .. counter .. '","ip":"198.51.100.' .. (counter % 250) .. '"}'
    return wrk.format("POST", "/abuse/device", { ["Authorization"] = "Bearer $token", ["Content-Type"] = "application/json" }, body)
end
LUA
rps=$(wrk -t1 -c8 -d5s -s "$BENCH_WORK/post.lua" "http://127.0.0.1:$cport" 2>/dev/null | awk '/Requests\/sec/ {printf "%d", $2}')
echo "== abuse: POST /abuse/device throughput, controld on one core (taskset -c 1), 8 connections, 5 s: ${rps} req/s"
