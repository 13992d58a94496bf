#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The job queue after a crash (issue 11, "Crash and restart behaviour of the
# queue"): JOBS http jobs (default 1000) to a target that takes DELAY_MS per
# delivery; controld (4 workers, fetch_batch 200) is killed with SIGKILL once
# KILL_AFTER deliveries arrived, and started again at once. Per backend
# (SQLite; Redis when redis-server is installed), ROUNDS times, the median of:
#   all done      from the new process's exec until every job succeeded
#                 (goal <= 5 s; before issue 11 it waited for the visibility
#                 timeout: 31.5 s with the default 30 s)
#   first again   until the first job that was running at the kill ran again
#   duplicates    deliveries beyond one per job (bound: 4 workers x 16 http
#                 jobs in flight)
# LEVQOR_BUILD picks the build (compare two builds that way).
#
#   JOBS=1000 DELAY_MS=20 KILL_AFTER=150 VISIBILITY_S=30 ROUNDS=3 scripts/bench/queue_restart.sh
set -euo pipefail
dir=$(cd "$(dirname "$0")" && pwd)
export LEVQOR_BUILD=${LEVQOR_BUILD:-$(cd "$dir/../.." && pwd)/build}
JOBS=${JOBS:-1000}
DELAY_MS=${DELAY_MS:-20}
KILL_AFTER=${KILL_AFTER:-150}
VISIBILITY_S=${VISIBILITY_S:-30}
ROUNDS=${ROUNDS:-3}
backends=(sqlite)
command -v redis-server >/dev/null && backends+=(redis)

echo "== queue restart: $JOBS http jobs (${DELAY_MS} ms each), kill -9 after $KILL_AFTER deliveries, visibility timeout ${VISIBILITY_S} s, median of $ROUNDS rounds, $(nproc) cores"
printf '  %-8s %14s %14s %12s %11s\n' backend "all done (s)" "first again" duplicates "start-up"
for backend in "${backends[@]}"; do
    results=()
    for _ in $(seq 1 "$ROUNDS"); do
        results+=("$(perl "$dir/queue/restart.pl" "$backend" "$JOBS" "$DELAY_MS" "$KILL_AFTER" "$VISIBILITY_S")")
    done
    printf '%s\n' "${results[@]}" | perl -MJSON::PP -e '
        my @r = map { decode_json($_) } grep { /\S/ } <STDIN>;
        for (@r) { die "bench: $_->{succeeded} of $_->{jobs} succeeded\n" if $_->{succeeded} != $_->{jobs} }
        sub med { my @v = sort { $a <=> $b } grep { defined } @_; @v ? $v[$#v / 2] : "-" }
        printf "  %-8s %14s %14s %12s %11s   (goal: all done <= 5 s; duplicates <= %d)\n", $r[0]{backend},
            med(map { $_->{all_done_s} } @r), med(map { $_->{first_again_s} } @r),
            med(map { $_->{duplicates} } @r), med(map { $_->{startup_s} } @r), $r[0]{in_flight_bound};
        printf "    rounds: all done %s; duplicates %s\n", join(" ", map { $_->{all_done_s} } @r),
            join(" ", map { $_->{duplicates} } @r);'
done
