#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# PostgreSQL backups (issue 13): what a verified backup costs and the RTO it
# proves. One PostgreSQL server started here like the test harness
# (t/lib/Test/Levqor/Postgres.pm: initdb + pg_ctl as the postgres user, on a
# loopback port, in a temp dir, scram-sha-256 over TCP) but with the default
# durability (fsync, synchronous_commit and full_page_writes on: the RTO of a
# production server, not of a test one; BENCH_PG_FAST=1 turns them off).
# `pgbench -i -s SCALE` (70: ~1 GB), then through the engine itself
# (controld/tests/backup_bench_test.cpp, BackupBench.*: dump_postgres and
# drill_postgres):
#   dump      pg_dump -Fc --snapshot=<exported> + the parity in that snapshot;
#   drill     pg_restore -j2 into a scratch database + the parity there +
#             the comparison + DROP DATABASE (wall clock of the whole drill);
#   raw       `pg_restore -j2 --no-owner` of the same dump into a fresh
#             database, nothing else.
# Goal: drill / raw <= 1.3 x. The RTO of 1 GB is the drill's time per GB of
# database (pg_database_size); the largest database that still meets the
# seed's RTO <= 30 min is extrapolated linearly from it (restore and parity
# are both sequential in the data).
#
# FILLER=random replaces pgbench's blank filler column with 64 hex digits
# per row, so the dump is not ~50 x smaller than the database.
#
#   SCALE=70 [FILLER=random] scripts/bench/backup.sh
source "$(dirname "$0")/lib.sh"

SCALE=${SCALE:-70}
FILLER=${FILLER:-pgbench}
RTO_GOAL_S=${RTO_GOAL_S:-1800}
TESTS=$BUILD/controld/tests/levqor_controld_tests
[[ -x $TESTS ]] || { echo "bench: $TESTS is not built (make build)" >&2; exit 1; }
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[[ -x $PG_BIN/initdb && -x $PG_BIN/pg_ctl ]] || { echo "bench: PostgreSQL (initdb, pg_ctl) is not installed" >&2; exit 1; }
as_postgres() { if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }

chmod 755 "$BENCH_WORK"
PGDIR=$BENCH_WORK/pg
mkdir -p "$PGDIR" "$BENCH_WORK/dump"
[[ $(id -u) == 0 ]] && chown postgres: "$PGDIR"
PG_PORT=$(free_port)
PG_USER=levqor_bench
PG_DB=levqor_bench
PG_PASSWORD=bench-$RANDOM$RANDOM
export PGPASSWORD=$PG_PASSWORD
PG_URL=postgresql://$PG_USER:$PG_PASSWORD@127.0.0.1:$PG_PORT/$PG_DB

pg_stop() { [[ -f $PGDIR/data/postmaster.pid ]] && as_postgres "$PG_BIN/pg_ctl" -D "$PGDIR/data" -m fast -w stop >/dev/null 2>&1 || true; }
trap 'pg_stop; bench_cleanup' EXIT

as_postgres "$PG_BIN/initdb" -D "$PGDIR/data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
    --no-instructions -E UTF8 --locale=C >"$PGDIR/initdb.log" 2>&1 || { cat "$PGDIR/initdb.log" >&2; exit 1; }
{
    echo "port = $PG_PORT"
    echo "listen_addresses = '127.0.0.1'"
    echo "unix_socket_directories = '$PGDIR'"
    echo "password_encryption = 'scram-sha-256'"
    echo "max_wal_size = 4GB"
    if [[ ${BENCH_PG_FAST:-0} == 1 ]]; then
        echo "fsync = off"; echo "synchronous_commit = off"; echo "full_page_writes = off"
    fi
} | as_postgres tee -a "$PGDIR/data/postgresql.conf" >/dev/null
as_postgres "$PG_BIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/server.log" -w -t 30 start >/dev/null
admin() { psql -X -q -At -h "$PGDIR" -p "$PG_PORT" -U postgres -d "${2:-postgres}" -v ON_ERROR_STOP=1 -c "$1"; }
admin "CREATE ROLE $PG_USER LOGIN CREATEDB PASSWORD '$PG_PASSWORD'"
admin "CREATE DATABASE $PG_DB OWNER $PG_USER"
conn=(-h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER")
now() { date +%s.%N; }

pgbench_init() {
    "$PG_BIN/pgbench" "${conn[@]}" -i -q "$@" "$PG_DB" >>"$BENCH_WORK/pgbench.log" 2>&1 ||
        { cat "$BENCH_WORK/pgbench.log" >&2; exit 1; }
}
t0=$(now)
if [[ $FILLER == random ]]; then
    # pgbench's filler is blank (the dump compresses ~50 x); 64 hex digits
    # per account instead (about 2 x), loaded before the keys like pgbench.
    pgbench_init -s "$SCALE" -I dtg
    psql -X -q -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -d "$PG_DB" -v ON_ERROR_STOP=1 -c "TRUNCATE pgbench_accounts" \
        -c "INSERT INTO pgbench_accounts SELECT aid, (aid - 1) / 100000 + 1, 0, md5(aid::text) || md5((aid * 7)::text)
            FROM generate_series(1, 100000 * $SCALE) AS aid"
    pgbench_init -I vp
else
    pgbench_init -s "$SCALE"
fi
t1=$(now)
db_bytes=$(admin "SELECT pg_database_size('$PG_DB')")
echo "== PostgreSQL backup: pgbench scale $SCALE ($FILLER filler), $(awk -v b="$db_bytes" 'BEGIN{printf "%.0f", b/1e6}') MB" \
    "(pg_database_size), PostgreSQL $(admin 'SHOW server_version' | cut -d' ' -f1)," \
    "$( [[ ${BENCH_PG_FAST:-0} == 1 ]] && echo 'fsync off' || echo 'fsync on')," \
    "$(nproc) cores; pgbench -i took $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.0f", b-a}') s"
admin "CHECKPOINT" "$PG_DB"

out=$(LEVQOR_BENCH_PG_URL=$PG_URL LEVQOR_BENCH_DIR=$BENCH_WORK/dump LEVQOR_BENCH_PG_BIN=$PG_BIN \
    "$TESTS" --gtest_filter='BackupBench.*' 2>&1) || { echo "$out" >&2; exit 1; }
line=$(grep '^bench: ' <<<"$out") || { echo "$out" >&2; echo "bench: the driver printed no result (skipped?)" >&2; exit 1; }
declare -A r
for kv in ${line#bench: }; do r[${kv%%=*}]=${kv#*=}; done

admin "CHECKPOINT" "$PG_DB"
admin "CREATE DATABASE raw_restore OWNER $PG_USER"
t0=$(now)
"$PG_BIN/pg_restore" "${conn[@]}" --no-owner --no-acl --exit-on-error -j2 -d raw_restore "$BENCH_WORK/dump/dump.pgc"
t1=$(now)
raw=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b-a}')

awk -v dbb="$db_bytes" -v dump_b="${r[dump_bytes]}" -v dump_s="${r[dump_seconds]}" -v dump_w="${r[dump_wall]}" \
    -v par_s="${r[parity_seconds]}" -v rest_s="${r[restore_seconds]}" -v dpar_s="${r[drill_parity_seconds]}" \
    -v drill_w="${r[drill_wall]}" -v raw="$raw" -v goal="$RTO_GOAL_S" -v rows="${r[rows]}" -v tables="${r[tables]}" '
BEGIN {
    gb = dbb / 1e9
    printf "  %-44s %8.1f s   (%d tables, %d rows; parity %.1f s alongside)\n", "dump (pg_dump -Fc, exported snapshot)", dump_w, tables, rows, par_s
    printf "  %-44s %8.1f MB/s (database), %.1f MB/s (%.0f MB written)\n", "dump rate", dbb / 1e6 / dump_w, dump_b / 1e6 / dump_w, dump_b / 1e6
    printf "  %-44s %8.1f s   (restore %.1f s + parity %.1f s + create/compare/drop)\n", "drill (engine, pg_restore -j2 + parity)", drill_w, rest_s, dpar_s
    printf "  %-44s %8.1f s\n", "raw pg_restore -j2 of the same dump", raw
    printf "  %-44s %8.2f x  (goal: <= 1.3 x)\n", "drill / raw restore", drill_w / raw
    printf "  %-44s %8.1f s\n", "RTO for 1 GB (drill time per GB)", drill_w / gb
    printf "  %-44s %8.0f GB (linear extrapolation)\n", sprintf("largest database with RTO <= %d min", goal / 60), goal / (drill_w / gb)
}'
