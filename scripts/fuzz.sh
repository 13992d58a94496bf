#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs libFuzzer targets of the fuzz tree (make fuzz-build) one after the
# other, each for SECONDS, and prints one line of statistics per target.
#
#   scripts/fuzz.sh SECONDS [TARGET...]     # default: every *_fuzz in $FUZZ_BUILD
#
# Seeds come from module/fuzz/corpus/<target>/ or controld/fuzz/corpus/<target>/
# (committed); what the fuzzer finds goes to $FUZZ_BUILD/corpus/<target>/; a
# crashing input to fuzz-artifacts/<target>-crash-<sha1> (replay it with
# $FUZZ_BUILD/<target>_fuzz <file>). Exits 1 if any target crashed.
set -uo pipefail
cd "$(dirname "$0")/.."
seconds=${1:?usage: scripts/fuzz.sh SECONDS [TARGET...]}
shift
build=${FUZZ_BUILD:-build/fuzz}
targets=("$@")
if ((${#targets[@]} == 0)); then
    for bin in "$build"/*_fuzz; do targets+=("$(basename "$bin" _fuzz)"); done
fi

failed=()
mkdir -p fuzz-artifacts
for t in "${targets[@]}"; do
    seeds=
    for d in module/fuzz/corpus/$t controld/fuzz/corpus/$t; do [[ -d $d ]] && seeds=$d; done
    [[ -n $seeds ]] || { echo "fuzz: no seed corpus for $t" >&2; failed+=("$t"); continue; }
    mkdir -p "$build/corpus/$t"
    log=$build/$t.log
    "$build/${t}_fuzz" -max_total_time="$seconds" -timeout=10 -print_final_stats=1 \
        -artifact_prefix="fuzz-artifacts/$t-" "$build/corpus/$t" "$seeds" >"$log" 2>&1
    rc=$?
    runs=$(awk -F: '/^stat::number_of_executed_units/ {gsub(/ /, "", $NF); print $NF}' "$log")
    rate=$(awk -F: '/^stat::average_exec_per_sec/ {gsub(/ /, "", $NF); print $NF}' "$log")
    corpus=$(grep -o 'corp: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    if ((rc != 0)); then
        echo "fuzz: $t FAILED (exit $rc); log $log:" >&2
        grep -A40 -m1 -E '^==[0-9]+==ERROR|deadly signal|^SUMMARY' "$log" >&2 || tail -40 "$log" >&2
        grep -E 'Test unit written|artifact' "$log" >&2
        failed+=("$t")
        continue
    fi
    printf 'fuzz: %-16s %9s runs %7s exec/s  corpus %s\n' "$t" "${runs:-?}" "${rate:-?}" "${corpus:-?}"
done
((${#failed[@]} == 0)) || { echo "fuzz: crashed or failed: ${failed[*]}" >&2; exit 1; }
