# SPDX-License-Identifier: Apache-2.0
# Shared helpers for levqor benchmarks (sourced by scripts/bench/*.sh).
#
# Two measurements per variant, as the issues ask:
#  - user-space instructions per request under valgrind --tool=callgrind
#    (counters zeroed after warm-up, dumped after a fixed wrk run, divided by
#    the requests nginx's stub_status says it served): repeatable to ~0.1 %
#    on a noisy machine;
#  - wrk requests/s, median of interleaved runs (noisy on 2 cores; indicative).
# Every server listens on 127.0.0.1 only.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/../.." && pwd)
BUILD=${LEVQOR_BUILD:-$REPO/build}
MODULE_SO=$BUILD/ngx_http_levqor_module.so
NGINX=${NGINX:-/usr/sbin/nginx}
BENCH_WORK=${BENCH_WORK:-$(mktemp -d /tmp/levqor-bench.XXXXXX)}
CALLGRIND_SECONDS=${CALLGRIND_SECONDS:-5}
# CALLGRIND_DUMP_INSTR=yes keeps per-instruction costs in the dump (for
# callgrind_annotate --auto=yes on disassembly; with BENCH_KEEP=1).
CALLGRIND_DUMP_INSTR=${CALLGRIND_DUMP_INSTR:-no}
WRK_SECONDS=${WRK_SECONDS:-3}
WRK_ROUNDS=${WRK_ROUNDS:-5}
WRK_CONNECTIONS=${WRK_CONNECTIONS:-50}
declare -a BENCH_PIDS=()

bench_cleanup() {
    local pid
    for pid in "${BENCH_PIDS[@]:-}"; do
        [[ -n $pid ]] && kill "$pid" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    [[ ${BENCH_KEEP:-0} == 1 ]] || rm -rf "$BENCH_WORK"
}
trap bench_cleanup EXIT

free_port() {
    perl -MIO::Socket::INET -e 'my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1:0") or die; print $s->sockport'
}

# write_conf <dir> <port> <workers> <main_config> <http_config> <server_config> [load_module=1]
# Writes <dir>/nginx.conf for a single-server nginx; /__requests is stub_status.
write_conf() {
    local dir=$1 port=$2 workers=$3 main=$4 http=$5 server=$6 load=${7:-1}
    mkdir -p "$dir/logs" "$dir/html"
    {
        [[ $load == 1 ]] && echo "load_module $MODULE_SO;"
        cat <<CONF
worker_processes $workers;
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
$main
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $dir/client_body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;
    keepalive_requests 1000000;
    $http
    server {
        listen 127.0.0.1:$port reuseport backlog=4096;
        server_name localhost;
        location = /__requests { stub_status; }
        $server
    }
}
CONF
    } >"$dir/nginx.conf"
}

# wait_url <url> [tries]: returns once <url> answers (any status), polling
# every 50 ms; 1 if it never does.
wait_url() {
    local url=$1 tries=${2:-200} i
    for i in $(seq 1 "$tries"); do
        curl -s -o /dev/null "$url" && return 0
        sleep 0.05
    done
    return 1
}

wait_port() {
    wait_url "http://127.0.0.1:$1/__requests" || { echo "bench: nothing answers on port $1" >&2; return 1; }
}

# start_redis: a redis-server on 127.0.0.1 (no persistence) in
# $BENCH_WORK/redis, stopped with the benchmark; sets REDIS_PORT, REDIS_DIR
# and REDIS_PID.
start_redis() {
    REDIS_PORT=$(free_port)
    REDIS_DIR=$BENCH_WORK/redis
    mkdir -p "$REDIS_DIR"
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$REDIS_DIR" \
        --daemonize yes --pidfile "$REDIS_DIR/redis.pid" --logfile "$REDIS_DIR/redis.log"
    local _
    for _ in $(seq 1 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
    REDIS_PID=$(cat "$REDIS_DIR/redis.pid")
    BENCH_PIDS+=("$REDIS_PID")
}

# random_hex <bytes>: that many random bytes as hex.
random_hex() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }

# make_token <role>: a random token "<role>-<hex>" in $BENCH_WORK/<role>.token
# (mode 600, as controld requires); sets TOKEN to it.
make_token() {
    TOKEN="$1-$(random_hex 16)"
    printf '%s\n' "$TOKEN" >"$BENCH_WORK/$1.token"
    chmod 600 "$BENCH_WORK/$1.token"
}

# start_controld <port> [NAME=value...]: $CONTROLD on 127.0.0.1:<port> with
# data in $BENCH_WORK/controld and the given environment, its log in
# $BENCH_WORK/controld.log; returns once /healthz answers.
start_controld() {
    local port=$1
    shift
    mkdir -p "$BENCH_WORK/controld"
    env LEVQOR_LISTEN=127.0.0.1:$port LEVQOR_DATA_DIR="$BENCH_WORK/controld" "$@" \
        "$CONTROLD" 2>"$BENCH_WORK/controld.log" &
    BENCH_PIDS+=($!)
    wait_url "http://127.0.0.1:$port/healthz" 100 && return 0
    echo "bench: controld does not answer on port $port (see $BENCH_WORK/controld.log)" >&2
    return 1
}

# Requests nginx has served (stub_status), minus the status request itself.
served_requests() {
    curl -s "http://127.0.0.1:$1/__requests" | awk '/^ *[0-9]+ +[0-9]+ +[0-9]+/ {print $3 - 1}'
}

# start_nginx <dir>: normal master + workers; prints the master pid.
start_nginx() {
    local dir=$1
    "$NGINX" -p "$dir" -c "$dir/nginx.conf" -e "$dir/logs/error.log" -t -q
    "$NGINX" -p "$dir" -c "$dir/nginx.conf" -e "$dir/logs/error.log"
    local i
    for i in $(seq 1 100); do [[ -s $dir/nginx.pid ]] && break; sleep 0.05; done
    BENCH_PIDS+=("$(cat "$dir/nginx.pid")")
}

stop_nginx() {
    local dir=$1
    [[ -s $dir/nginx.pid ]] || return 0
    local pid
    pid=$(cat "$dir/nginx.pid")
    kill -QUIT "$pid" 2>/dev/null || true
    local i
    for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.05; done
    kill -KILL "$pid" 2>/dev/null || true
}

# wrk_rps <url> [extra wrk args...]: requests/s of one run.
wrk_rps() {
    local url=$1
    shift
    wrk -t1 -c"$WRK_CONNECTIONS" -d"${WRK_SECONDS}s" "$@" "$url" 2>/dev/null |
        awk '/Requests\/sec/ {printf "%d", $2}'
}

median() { sort -n | awk '{a[NR]=$1} END {if (NR == 0) print 0; else if (NR % 2) print a[(NR+1)/2]; else printf "%d\n", (a[NR/2]+a[NR/2+1])/2}'; }

# callgrind_ipr <dir> <port> <path> [extra wrk args...]
# nginx (master_process off, 1 process) under callgrind; prints user-space
# instructions per request over a fixed wrk run after warm-up.
callgrind_ipr() {
    local dir=$1 port=$2 path=$3
    shift 3
    local out=$dir/callgrind.out
    sed -i 's/^worker_processes .*/worker_processes 1; master_process off; daemon off;/' "$dir/nginx.conf"
    valgrind --tool=callgrind --callgrind-out-file="$out" --dump-instr="$CALLGRIND_DUMP_INSTR" --compress-strings=no --compress-pos=no \
        "$NGINX" -p "$dir" -c "$dir/nginx.conf" -e "$dir/logs/error.log" \
        >"$dir/valgrind.log" 2>&1 &
    local vpid=$!
    BENCH_PIDS+=("$vpid")
    wait_port "$port"
    # Warm-up: 2 s of the measured load, or the command CALLGRIND_WARMUP
    # given the URL (a load whose effect must not depend on the machine's speed).
    if [[ -n ${CALLGRIND_WARMUP:-} ]]; then
        $CALLGRIND_WARMUP "http://127.0.0.1:$port$path" >/dev/null
    else
        wrk -t1 -c10 -d2s "$@" "http://127.0.0.1:$port$path" >/dev/null 2>&1
    fi
    # CALLGRIND_WARMUP_REQUESTS=N: then one more warm-up run long enough for
    # N requests at the rate of the first, e.g. more than a wrk script's
    # distinct keys (a script's key counter restarts with each wrk run, so it
    # must be ONE run), so that the measured run finds every key's state
    # already created. Under valgrind a busy machine serves a fraction of a
    # quiet one's requests in the same 2 s, and a measured run that still
    # inserts keys counts their creation.
    local warm_target=${CALLGRIND_WARMUP_REQUESTS:-0} warm_done
    warm_done=$(served_requests "$port")
    if ((warm_target > 0)); then
        ((warm_done > 0)) || warm_done=1
        wrk -t1 -c10 -d"$((warm_target * 2 / warm_done + 2))s" "$@" "http://127.0.0.1:$port$path" >/dev/null 2>&1
    fi
    callgrind_control -z "$vpid" >/dev/null 2>&1
    local before after
    before=$(served_requests "$port")
    wrk -t1 -c10 -d"${CALLGRIND_SECONDS}s" "$@" "http://127.0.0.1:$port$path" >/dev/null 2>&1
    after=$(served_requests "$port")
    callgrind_control -d "$vpid" >/dev/null 2>&1
    kill -TERM "$vpid" 2>/dev/null || true
    # Under valgrind the signal is handled only when epoll_wait returns, and
    # an idle nginx without timers waits for ever: one request wakes it.
    curl -s -m 1 -o /dev/null "http://127.0.0.1:$port/__requests" || true
    wait "$vpid" 2>/dev/null || true
    # The dump made by callgrind_control -d is <out>.<n>; take its totals.
    local dump
    dump=$(ls -1t "$out".* 2>/dev/null | head -1)
    local total
    total=$(awk '/^(summary|totals):/ {print $2; exit}' "$dump")
    local requests=$((after - before - 1))
    # For per-function costs (callgrind_fn_per_request): the dump and the count.
    echo "$dump" >"$dir/callgrind.dump"
    echo "$requests" >"$dir/callgrind.requests"
    awk -v t="$total" -v n="$requests" 'BEGIN { printf "%d\n", t / n }'
}

# callgrind_fn_max_per_request <dir> <function regex>: inclusive instructions
# per request of a function (its callees included) in the last callgrind_ipr
# run of <dir>. callgrind_annotate splits a function over the files its
# inlined code comes from; the largest line is the one holding the calls.
callgrind_fn_max_per_request() {
    local dir=$1 fn=$2
    callgrind_annotate --inclusive=yes --threshold=100 "$(cat "$dir/callgrind.dump")" 2>/dev/null |
        awk -v re="$fn" -v n="$(cat "$dir/callgrind.requests")" '
            $0 ~ re { gsub(",", "", $1); if ($1 + 0 > max) max = $1 + 0 }
            END { printf "%.1f\n", max / n }'
}

# callgrind_obj_per_request <dir> <regex>: self instructions per request of
# every function whose "file:function [object]" line matches <regex> in the
# last callgrind_ipr run of <dir>, e.g. 'ngx_http_levqor_module[.]so|levqor::'
# (the module's own code: its object, and its functions' lines inlined from
# headers, which callgrind_annotate lists without the object) or 'malloc[.]c:'
# (glibc's allocator): an attribution that does not move with the rest of
# the run.
callgrind_obj_per_request() {
    local dir=$1 re=$2
    callgrind_annotate --auto=no --threshold=100 "$(cat "$dir/callgrind.dump")" 2>/dev/null |
        awk -v re="$re" -v n="$(cat "$dir/callgrind.requests")" '
            /^ *[0-9,]+ +\(/ && !/PROGRAM TOTALS/ && $0 ~ re { c = $1; gsub(",", "", c); sum += c }
            END { printf "%.1f\n", sum / n }'
}

# callgrind_calls_per_request <dir> <function>: calls per request of a
# function (e.g. malloc), from every caller, in the last callgrind_ipr run.
callgrind_calls_per_request() {
    local dir=$1 fn=$2
    awk -v fn="$fn" -v n="$(cat "$dir/callgrind.requests")" '
        /^cfn=/ { name = $0; sub(/^cfn=(\([0-9]+\) ?)?/, "", name); want = (name == fn); next }
        want && /^calls=/ { split($0, a, /[= ]/); total += a[2]; want = 0 }
        END { printf "%.2f\n", total / n }' "$(cat "$dir/callgrind.dump")"
}

# ipr_line <variant> <instr/request> <base variant> <base instr/request> <function> <its cost>
# One result line of a callgrind comparison: the difference from the base
# variant when there is one, and a function's inclusive cost per request.
ipr_line() {
    local v=$1 ipr=$2 base=$3 base_ipr=$4 fn=$5 cost=$6
    if [[ -n $base && -n $base_ipr ]]; then
        printf '  %-15s %8d instr/request  %+5d vs %-12s (%s: %s)\n' "$v" "$ipr" $((ipr - base_ipr)) "$base" "$fn" "$cost"
    else
        printf '  %-15s %8d instr/request  %18s (%s: %s)\n' "$v" "$ipr" "" "$fn" "$cost"
    fi
}
