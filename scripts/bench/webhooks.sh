#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Webhook verification: cost per request of levqor_webhook (GitHub scheme) vs
# the same check written in njs (crypto.createHmac over r.requestText) vs plain
# (the same POST to empty_gif, which answers 405), for signed POST bodies of
# 1 KB and 64 KB. One worker. Bodies stay in memory in every variant
# (client_body_buffer_size 128k: njs's requestText needs that).
#
# Reported: user-space instructions per request (callgrind) and the
# instructions each variant adds to plain; wrk requests/s (median of
# interleaved runs); and the reference cost of one bare OpenSSL one-shot
# HMAC() over the same body, measured under callgrind the same way.
source "$(dirname "$0")/lib.sh"

SECRET=bench-secret-0123456789abcdef
SIZES=(1k 64k)
declare -A BYTES=([1k]=1024 [64k]=65536)

printf '%s\n' "$SECRET" >"$BENCH_WORK/github.secret"

# A signed request per size, as a wrk script.
declare -A SIG
for size in "${SIZES[@]}"; do
    body=$BENCH_WORK/body-$size
    head -c "${BYTES[$size]}" /dev/zero | tr '\0' 'x' >"$body"
    sig=$(openssl dgst -sha256 -hmac "$SECRET" "$body" | awk '{print $NF}')
    {
        echo 'wrk.method = "POST"'
        echo "wrk.headers[\"X-Hub-Signature-256\"] = \"sha256=$sig\""
        echo 'wrk.headers["Content-Type"] = "application/json"'
        echo "wrk.body = string.rep(\"x\", ${BYTES[$size]})"
    } >"$BENCH_WORK/post-$size.lua"
    # The signature must verify in both implementations before anything is measured.
    SIG[$size]=$sig
done

NJS_MODULE="load_module /usr/lib/nginx/modules/ngx_http_js_module.so;"
BODY_CONF="client_body_buffer_size 128k; client_max_body_size 1m;"
declare -A MAIN HTTP SERVER
MAIN[plain]=""
HTTP[plain]=$BODY_CONF
SERVER[plain]="location /t { empty_gif; }"
MAIN[levqor]=""
HTTP[levqor]=$BODY_CONF
SERVER[levqor]="location /t { levqor_webhook github secret_file=$BENCH_WORK/github.secret; empty_gif; }"
MAIN[njs]=$NJS_MODULE
HTTP[njs]="$BODY_CONF js_import gh from $BENCH_DIR/njs/github_verify.js;"
SERVER[njs]="location /t { js_content gh.verify; }"
VARIANTS=(plain levqor njs)
declare -A PORT IPR RPS

setup() {
    local v=$1
    PORT[$v]=$(free_port)
    write_conf "$BENCH_WORK/$v" "${PORT[$v]}" 1 "${MAIN[$v]}" "${HTTP[$v]}" "${SERVER[$v]}"
}

# Both checks must accept the signed body and refuse a tampered one.
sanity() {
    local v size code bad
    for v in levqor njs; do
        setup "$v"
        start_nginx "$BENCH_WORK/$v"
        wait_port "${PORT[$v]}"
        for size in "${SIZES[@]}"; do
            code=$(curl -s -o /dev/null -w '%{http_code}' -X POST --data-binary "@$BENCH_WORK/body-$size" \
                -H "X-Hub-Signature-256: sha256=${SIG[$size]}" "http://127.0.0.1:${PORT[$v]}/t")
            bad=$(curl -s -o /dev/null -w '%{http_code}' -X POST --data-binary "@$BENCH_WORK/body-$size" \
                -H "X-Hub-Signature-256: sha256=$(printf '0%.0s' {1..64})" "http://127.0.0.1:${PORT[$v]}/t")
            if [[ $code != 405 || $bad != 401 ]]; then
                echo "webhooks bench: $v $size: valid -> $code, tampered -> $bad (expected 405 and 401)" >&2
                exit 1
            fi
        done
        stop_nginx "$BENCH_WORK/$v"
    done
    echo "  sanity: levqor and njs accept the signed bodies (405 from empty_gif/njs) and refuse tampered ones (401)"
}

# Instructions of one bare OpenSSL HMAC() call over n bytes, under callgrind.
bare_hmac() {
    local bytes=$1 prog=$BENCH_WORK/hmac_oneshot a b
    [[ -x $prog ]] || cc -O2 -Wno-deprecated-declarations -o "$prog" "$BENCH_DIR/hmac_oneshot.c" -lcrypto
    run() {
        valgrind --tool=callgrind --callgrind-out-file="$BENCH_WORK/hmac.out" "$prog" "$bytes" "$1" >/dev/null 2>&1
        awk '/^(summary|totals):/ {print $2; exit}' "$BENCH_WORK/hmac.out"
    }
    a=$(run 10)
    b=$(run 110)
    echo $(((b - a) / 100))
}

echo "== webhooks: sanity"
sanity

echo "== webhooks: instructions per request (callgrind, one worker, ${CALLGRIND_SECONDS}s wrk run after warm-up)"
for size in "${SIZES[@]}"; do
    for v in "${VARIANTS[@]}"; do
        setup "$v"
        IPR[$v-$size]=$(callgrind_ipr "$BENCH_WORK/$v" "${PORT[$v]}" /t -s "$BENCH_WORK/post-$size.lua")
        printf '  %-4s %-8s %10d instr/request  (+%d)\n' "$size" "$v" "${IPR[$v-$size]}" \
            $((IPR[$v-$size] - IPR[plain-$size]))
    done
done

echo "== webhooks: bare OpenSSL one-shot HMAC() (SHA-256) under callgrind, per call"
declare -A HMAC
for size in "${SIZES[@]}"; do
    HMAC[$size]=$(bare_hmac "${BYTES[$size]}")
    printf '  %-4s %10d instructions\n' "$size" "${HMAC[$size]}"
done

echo "== webhooks: wrk requests/s, one worker, median of $WRK_ROUNDS interleaved ${WRK_SECONDS}s runs"
for v in "${VARIANTS[@]}"; do
    setup "$v"
    start_nginx "$BENCH_WORK/$v"
    wait_port "${PORT[$v]}"
done
for size in "${SIZES[@]}"; do
    for v in "${VARIANTS[@]}"; do : >"$BENCH_WORK/$v-$size.rps"; done
    for round in $(seq 1 "$WRK_ROUNDS"); do
        for v in "${VARIANTS[@]}"; do
            wrk_rps "http://127.0.0.1:${PORT[$v]}/t" -s "$BENCH_WORK/post-$size.lua" >>"$BENCH_WORK/$v-$size.rps"
            echo >>"$BENCH_WORK/$v-$size.rps"
        done
    done
    for v in "${VARIANTS[@]}"; do RPS[$v-$size]=$(median <"$BENCH_WORK/$v-$size.rps"); done
done
for v in "${VARIANTS[@]}"; do stop_nginx "$BENCH_WORK/$v"; done
printf '  %-8s %12s %12s\n' variant "1 KB" "64 KB"
for v in "${VARIANTS[@]}"; do printf '  %-8s %12d %12d\n' "$v" "${RPS[$v-1k]}" "${RPS[$v-64k]}"; done

echo "== webhooks: summary (instructions added to plain per request)"
for size in "${SIZES[@]}"; do
    lq=$((IPR[levqor-$size] - IPR[plain-$size]))
    nj=$((IPR[njs-$size] - IPR[plain-$size]))
    awk -v s="$size" -v l="$lq" -v n="$nj" -v h="${HMAC[$size]}" 'BEGIN {
        printf "  %-4s levqor +%d, njs +%d, bare HMAC() %d: levqor/njs %.3f, levqor/bare HMAC %.3f\n",
               s, l, n, h, l / n, l / h }'
done
echo "  targets: levqor/njs <= 0.30 at 1 KB; levqor/bare HMAC <= 1.15 at 64 KB"
