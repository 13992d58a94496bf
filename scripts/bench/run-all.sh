#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# make bench: every benchmark in turn; output is also kept under
# scripts/bench/results/<date>/ (git-ignored).
set -euo pipefail
dir=$(cd "$(dirname "$0")" && pwd)
out=$dir/results/$(date +%Y%m%d-%H%M%S)
mkdir -p "$out"
for b in headers ratelimit ratelimit_path ratelimit_tiers cost ratelimit_redis redis_script webhooks metrics queue queue_restart controld_front backup abuse; do
    echo "### $b"
    "$dir/$b.sh" 2>&1 | tee "$out/$b.txt"
done
echo "results: $out"
