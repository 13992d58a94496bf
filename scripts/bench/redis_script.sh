#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The rate-limit script alone on a local redis-server (no nginx): Redis's own
# time per decision (INFO commandstats usec of EVALSHA / decisions) for
# batches of 1, 11 and 50 decisions, each decision a key bucket (10,000 keys)
# and one shared address bucket, as the module sends them (the script text
# is read from module/core/src/limit_redis.cpp). Where the time goes: the
# same batches with the script's writes removed, and an empty script with the
# same arguments (their transfer into Lua). Last column: the prototype with
# buckets as fields of time-generation hashes (redis_gen_hash.lua, not used
# by the module; docs/redis-deployments.md 3.4), same decisions.
#   BATCHES=3000
source "$(dirname "$0")/lib.sh"

BATCHES=${BATCHES:-3000}
start_redis

SCRIPT=$BENCH_WORK/gcra.lua
awk '/R"lua\(/ { f = 1; sub(/.*R"lua\(/, "") } /^\)lua";/ { f = 0 } f' "$REPO/module/core/src/limit_redis.cpp" >"$SCRIPT"
grep -q "call('SET'" "$SCRIPT" || { echo "redis_script: no SET in the extracted script" >&2; exit 1; }
sed "s/^ *call('SET'.*/ -- (no write)/" "$SCRIPT" >"$BENCH_WORK/nowrite.lua"
echo "return ''" >"$BENCH_WORK/empty.lua"

echo "== redis_script: Redis time per decision (INFO commandstats), key + address bucket, $BATCHES batches each"
printf '  %-10s %14s %14s %14s %14s\n' decisions "script" "without SETs" "empty script" "gen. hashes"
for d in 1 11 50; do
    row=()
    for s in "$SCRIPT" "$BENCH_WORK/nowrite.lua" "$BENCH_WORK/empty.lua"; do
        row+=("$(perl "$BENCH_DIR/redis_script.pl" "$REDIS_PORT" "$s" "$d" "$BATCHES")")
    done
    row+=("$(perl "$BENCH_DIR/redis_script.pl" "$REDIS_PORT" "$BENCH_DIR/redis_gen_hash.lua" "$d" "$BATCHES" 10000 gen)")
    printf '  %-10s %11s us %11s us %11s us %11s us\n' "$d" "${row[@]}"
done
