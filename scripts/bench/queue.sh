#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The job queue's throughput (issue 7): JOBS no-op jobs enqueued in batches of
# BATCH and processed, on one local redis-server, by levqor-controld, BullMQ
# (npm bullmq + ioredis, Worker concurrency 16, addBulk) and RQ 1.13
# (Debian's python3-rq, SimpleWorker). Target: controld's processed/s >= 2 x
# BullMQ's.
#
# Every system gets the same redis-server, started here with its defaults
# (no config file: RDB snapshots on, no append-only file) and FLUSHALLed
# between systems, and the same two phases:
#   enqueue   the producer adds all jobs, no worker running;
#   process   workers start; the clock runs from their start until every job
#             reached a final state (controld: the stream is empty, i.e.
#             every entry acknowledged; BullMQ: N 'completed' events; RQ: the
#             burst worker returns), then the count of succeeded jobs is
#             checked.
# controld keeps its durability on: each batch of outcomes is one atomic Lua
# script (job records, XACK, XDEL), at-least-once delivery, job records kept.
# It runs as two processes: a producer with 0 workers (POST /jobs, batches of
# BATCH over one keep-alive connection) and, for the process phase, one with
# WORKERS workers. A last row runs enqueue and processing together in one
# controld, timed from the first POST to the last job done.
#
# RQ is slow (one Redis round trip per job and several writes each): it runs
# RQ_JOBS jobs and its rate is labelled so.
#
# SYSTEMS (comma separated, default controld,bullmq,rq) picks what runs, e.g.
# SYSTEMS=controld to compare two controld builds (LEVQOR_BUILD=...).
#
#   JOBS=20000 BATCH=1000 RQ_JOBS=2000 WORKERS=4 ROUNDS=3 scripts/bench/queue.sh
source "$(dirname "$0")/lib.sh"

JOBS=${JOBS:-20000}
BATCH=${BATCH:-1000}
RQ_JOBS=${RQ_JOBS:-2000}
WORKERS=${WORKERS:-4}
ROUNDS=${ROUNDS:-3}
SYSTEMS=,${SYSTEMS:-controld,bullmq,rq},
wanted() { [[ $SYSTEMS == *",$1,"* ]]; }
CONTROLD=$BUILD/levqor-controld
BULLMQ_DIR=${XDG_CACHE_HOME:-$HOME/.cache}/levqor/bullmq
QUEUE_DIR=$BENCH_DIR/queue

redis_port=$(free_port)
mkdir -p "$BENCH_WORK/redis"
redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$BENCH_WORK/redis" \
    --daemonize no --loglevel warning >"$BENCH_WORK/redis.log" 2>&1 &
BENCH_PIDS+=($!)
for _ in $(seq 1 100); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.05; done
rcli() { redis-cli -p "$redis_port" "$@"; }

now() { date +%s.%N; }
rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%d", n / s }'; }

# Waits until the controld stream is empty and no retry waits; prints the time.
wait_drained() {
    perl -MIO::Socket::INET -MTime::HiRes=time,sleep -e '
        my $r = IO::Socket::INET->new("127.0.0.1:$ARGV[0]") or die "redis: $!";
        my $deadline = time + 120;
        while (time < $deadline) {
            print $r "XLEN levqor:jobs\r\nZCARD levqor:delayed\r\n";
            my ($a, $b) = (scalar <$r>, scalar <$r>);
            if ($a eq ":0\r\n" && $b eq ":0\r\n") { printf "%.6f\n", time; exit 0 }
            sleep 0.002;
        }
        die "not drained after 120 s\n";' "$redis_port"
}

producer_token=$BENCH_WORK/producer.token
echo "producer-bench-token-0123456789abcdef" >"$producer_token"
chmod 600 "$producer_token"
perl -MJSON::PP -e 'my ($n) = @ARGV; print JSON::PP->new->encode({ jobs => [ map { { type => "noop", payload => { i => $_ } } } 1 .. $n ] })' \
    "$BATCH" >"$BENCH_WORK/batch.json"

# start_controld <port> <workers> <name>: prints the pid.
start_controld() {
    local port=$1 workers=$2 name=$3
    LEVQOR_LISTEN=127.0.0.1:$port LEVQOR_DATA_DIR=$BENCH_WORK/$name \
    LEVQOR_PRODUCER_TOKEN_FILE=$producer_token NEW_QUEUE_ENABLED=on \
    REDIS_URL=redis://127.0.0.1:$redis_port LEVQOR_QUEUE_WORKERS=$workers LEVQOR_LOG_LEVEL=warn \
        "$CONTROLD" >/dev/null 2>>"$BENCH_WORK/$name.log" &
    echo $!
}

wait_healthz() {
    local i
    for i in $(seq 1 200); do curl -fs -o /dev/null "http://127.0.0.1:$1/healthz" && return 0; sleep 0.01; done
    echo "bench: controld on port $1 did not start" >&2
    return 1
}

# POSTs JOBS/BATCH batches over one connection; fails unless every answer is 202.
post_batches() {
    local port=$1 n=$((JOBS / BATCH)) urls=() i
    for i in $(seq 1 "$n"); do urls+=(-o /dev/null "http://127.0.0.1:$port/jobs"); done
    local codes
    codes=$(curl -s -w '%{http_code}\n' \
        -H "Authorization: Bearer $(cat "$producer_token")" -H 'Content-Type: application/json' \
        --data-binary @"$BENCH_WORK/batch.json" "${urls[@]}" | sort | uniq -c | tr -s ' ')
    [[ $codes == " $n 202" ]] || { echo "bench: POST /jobs answered: $codes" >&2; return 1; }
}

succeeded_in() {  # succeeded noop jobs counted by the controld on port $1
    curl -s "http://127.0.0.1:$1/metrics" | awk '/^levqor_jobs_total\{type="noop",result="succeeded"\}/ {print $2}'
}

controld_round() {
    rcli FLUSHALL >/dev/null
    local pport cport ppid cpid t0 t1 t2 t3 ok
    pport=$(free_port)
    ppid=$(start_controld "$pport" 0 producer)
    BENCH_PIDS+=("$ppid")
    wait_healthz "$pport"
    t0=$(now); post_batches "$pport"; t1=$(now)
    [[ $(rcli XLEN levqor:jobs) == "$JOBS" ]] || { echo "bench: stream holds $(rcli XLEN levqor:jobs) jobs" >&2; return 1; }
    cport=$(free_port)
    t2=$(now)
    cpid=$(start_controld "$cport" "$WORKERS" consumer)
    BENCH_PIDS+=("$cpid")
    t3=$(wait_drained)
    wait_healthz "$cport"
    ok=$(succeeded_in "$cport")
    kill "$ppid" "$cpid"; wait "$ppid" "$cpid" 2>/dev/null || true
    [[ $ok == "$JOBS" ]] || { echo "bench: controld reports $ok succeeded of $JOBS" >&2; return 1; }
    echo "$(rate "$JOBS" "$(echo "$t1 - $t0" | bc -l)") $(rate "$JOBS" "$(echo "$t3 - $t2" | bc -l)")"
}

controld_mixed_round() {
    rcli FLUSHALL >/dev/null
    local port pid t0 t1 ok
    port=$(free_port)
    pid=$(start_controld "$port" "$WORKERS" mixed)
    BENCH_PIDS+=("$pid")
    wait_healthz "$port"
    t0=$(now); post_batches "$port"; t1=$(wait_drained)
    ok=$(succeeded_in "$port")
    kill "$pid"; wait "$pid" 2>/dev/null || true
    [[ $ok == "$JOBS" ]] || { echo "bench: controld reports $ok succeeded of $JOBS" >&2; return 1; }
    rate "$JOBS" "$(echo "$t1 - $t0" | bc -l)"
}

# JSON lines of a bench program -> "enqueue/s process/s"
rates_of() {
    perl -MJSON::PP -ne 'my $r = decode_json($_); $s{$r->{phase}} = $r->{jobs} / $r->{seconds};
        die "bench: $r->{system}: $r->{succeeded} of $r->{jobs} succeeded\n"
            if $r->{phase} eq "process" && $r->{succeeded} != $r->{jobs};
        END { printf "%d %d\n", $s{enqueue}, $s{process} }'
}

have_bullmq=0
if ! wanted bullmq; then
    :
elif command -v node >/dev/null && command -v npm >/dev/null; then
    if [[ ! -d $BULLMQ_DIR/node_modules/bullmq || ! -d $BULLMQ_DIR/node_modules/ioredis ]]; then
        mkdir -p "$BULLMQ_DIR"
        [[ -f $BULLMQ_DIR/package.json ]] || echo '{"name":"levqor-bullmq-bench","private":true}' >"$BULLMQ_DIR/package.json"
        (cd "$BULLMQ_DIR" && npm install --no-audit --no-fund --silent bullmq ioredis >"$BENCH_WORK/npm.log" 2>&1) ||
            echo "bench: npm install bullmq ioredis failed (see below); BullMQ is skipped" >&2
    fi
    [[ -d $BULLMQ_DIR/node_modules/bullmq ]] && have_bullmq=1
else
    echo "bench: node/npm not found; BullMQ is skipped" >&2
fi
[[ $have_bullmq == 1 ]] || ! wanted bullmq || tail -5 "$BENCH_WORK/npm.log" 2>/dev/null >&2 || true
have_rq=0
if wanted rq; then
    /usr/bin/python3 -c 'import rq' 2>/dev/null && have_rq=1 || echo "bench: python3-rq not installed; RQ is skipped" >&2
fi

bullmq_round() {
    rcli FLUSHALL >/dev/null
    NODE_PATH=$BULLMQ_DIR/node_modules node "$QUEUE_DIR/bullmq_bench.mjs" "$redis_port" "$JOBS" "$BATCH" | rates_of
}

rq_round() {
    rcli FLUSHALL >/dev/null
    PYTHONPATH=$QUEUE_DIR /usr/bin/python3 "$QUEUE_DIR/rq_bench.py" "$redis_port" "$RQ_JOBS" "$BATCH" | rates_of
}

declare -a c_enq=() c_proc=() c_mixed=() b_enq=() b_proc=() r_enq=() r_proc=()
for round in $(seq 1 "$ROUNDS"); do
    read -r e p < <(controld_round); c_enq+=("$e"); c_proc+=("$p")
    c_mixed+=("$(controld_mixed_round)")
    if [[ $have_bullmq == 1 ]]; then read -r e p < <(bullmq_round); b_enq+=("$e"); b_proc+=("$p"); fi
    if [[ $have_rq == 1 ]]; then read -r e p < <(rq_round); r_enq+=("$e"); r_proc+=("$p"); fi
done
med() { printf '%s\n' "$@" | median; }

bullmq_version=$([[ $have_bullmq == 1 ]] && node -p "require('$BULLMQ_DIR/node_modules/bullmq/package.json').version" || echo -)
rq_version=$([[ $have_rq == 1 ]] && /usr/bin/python3 -c 'import rq; print(rq.VERSION)' || echo -)
echo "== queue: $JOBS no-op jobs in batches of $BATCH on redis-server $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/') (default config: RDB on, no AOF), median of $ROUNDS rounds, $(nproc) cores"
printf '  %-46s %12s %14s\n' system enqueue/s processed/s
printf '  %-46s %12d %14d\n' "levqor-controld ($WORKERS workers, fetch_batch 200)" "$(med "${c_enq[@]}")" "$(med "${c_proc[@]}")"
printf '  %-46s %12s %14d\n' "levqor-controld, enqueue and process together" "-" "$(med "${c_mixed[@]}")"
if [[ $have_bullmq == 1 ]]; then
    printf '  %-46s %12d %14d\n' "BullMQ $bullmq_version (concurrency 16, addBulk)" "$(med "${b_enq[@]}")" "$(med "${b_proc[@]}")"
else
    printf '  %-46s %12s %14s\n' "BullMQ (not run: SYSTEMS or npm)" - -
fi
if [[ $have_rq == 1 ]]; then
    printf '  %-46s %12d %14d\n' "RQ $rq_version (SimpleWorker; $RQ_JOBS jobs)" "$(med "${r_enq[@]}")" "$(med "${r_proc[@]}")"
else
    printf '  %-46s %12s %14s\n' "RQ (not run: SYSTEMS or python3-rq)" - -
fi
if [[ $have_bullmq == 1 ]]; then
    awk -v c="$(med "${c_proc[@]}")" -v b="$(med "${b_proc[@]}")" 'BEGIN {
        r = c / b; printf "  processed/s vs BullMQ: %.2f x (target >= 2 x) -> %s\n", r, (r >= 2 ? "PASS" : "FAIL") }'
fi
printf '  rounds: controld %s | %s; mixed %s; BullMQ %s | %s; RQ %s | %s (enqueue | processed)\n' \
    "${c_enq[*]}" "${c_proc[*]}" "${c_mixed[*]}" "${b_enq[*]:-}" "${b_proc[*]:-}" "${r_enq[*]:-}" "${r_proc[*]:-}"
