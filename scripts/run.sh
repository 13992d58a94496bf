#!/usr/bin/env bash
# make run: levqor-controld plus nginx with the levqor module (demo server
# block, strict headers, a small demo upstream), all under ./run/ (or
# $LEVQOR_RUN_DIR). controld starts first and writes the runtime flags file
# that nginx reads (levqor_flags_file); it scrapes the demo's levqor_status.
# Prints the URLs to try; Ctrl-C stops both.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${LEVQOR_BUILD:-$REPO/build}
RUN=${LEVQOR_RUN_DIR:-$REPO/run}
HTTP_PORT=${LEVQOR_HTTP_PORT:-8080}
UPSTREAM_PORT=${LEVQOR_UPSTREAM_PORT:-8081}
CONTROLD_LISTEN=${LEVQOR_LISTEN:-127.0.0.1:8089}
NGINX=${NGINX:-/usr/sbin/nginx}

port_free() {
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}
for p in "$HTTP_PORT" "$UPSTREAM_PORT" "${CONTROLD_LISTEN##*:}"; do
    port_free "$p" || { echo "run: port $p on 127.0.0.1 is in use (set LEVQOR_HTTP_PORT / LEVQOR_UPSTREAM_PORT / LEVQOR_LISTEN)" >&2; exit 1; }
done

mkdir -p "$RUN/logs" "$RUN/tmp" "$RUN/data"
# The admin token for levqorctl and /ops: made once, kept across runs.
TOKEN_FILE=$RUN/admin.token
if [[ ! -s $TOKEN_FILE ]]; then
    (umask 077 && openssl rand -hex 32 >"$TOKEN_FILE")
fi
chmod 600 "$TOKEN_FILE"    # controld refuses a token file others can read
# The same token as an HTTP header for curl -H @file: a token in curl's
# arguments would show in ps. read and printf are built-ins (no argv either).
HEADER_FILE=$RUN/admin.header
(umask 077 && read -r token <"$TOKEN_FILE" && printf 'Authorization: Bearer %s\n' "$token" >"$HEADER_FILE")
sed -e "s|@MODULE@|$BUILD/ngx_http_levqor_module.so|g" -e "s|@RUN@|$RUN|g" -e "s|@REPO@|$REPO|g" \
    -e "s|@HTTP_PORT@|$HTTP_PORT|g" -e "s|@UPSTREAM_PORT@|$UPSTREAM_PORT|g" \
    "$REPO/conf/nginx/demo.conf.in" >"$RUN/nginx.conf"

pids=()
stopping=0
stop_all() {
    trap - INT TERM EXIT
    stopping=1
    echo
    echo "run: stopping"
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap stop_all INT TERM EXIT

LEVQOR_LISTEN=$CONTROLD_LISTEN \
LEVQOR_DATA_DIR=$RUN/data \
LEVQOR_FLAGS_FILE=$RUN/flags \
LEVQOR_ADMIN_TOKEN_FILE=$TOKEN_FILE \
LEVQOR_NGINX_STATUS_URLS="demo=http://127.0.0.1:$HTTP_PORT/levqor/status" \
SECURITY_HEADERS_ENABLED=${SECURITY_HEADERS_ENABLED:-on} \
    "$BUILD/levqor-controld" 2>>"$RUN/logs/controld.log" &
pids+=($!)
for _ in $(seq 1 100); do
    [[ -s $RUN/flags ]] && break
    kill -0 "${pids[0]}" 2>/dev/null || { echo "run: levqor-controld exited; see $RUN/logs/controld.log" >&2; tail -5 "$RUN/logs/controld.log" >&2; exit 1; }
    sleep 0.1
done

"$NGINX" -t -q -p "$RUN" -c "$RUN/nginx.conf" -e "$RUN/logs/error.log"
"$NGINX" -p "$RUN" -c "$RUN/nginx.conf" -e "$RUN/logs/error.log" &
pids+=($!)

for _ in $(seq 1 100); do
    curl -fs -o /dev/null "http://127.0.0.1:$HTTP_PORT/" && curl -fs -o /dev/null "http://$CONTROLD_LISTEN/healthz" && break
    sleep 0.1
done

cat <<MSG

levqor is running (files under $RUN):
  http://127.0.0.1:$HTTP_PORT/               demo page, strict profile, CSP nonce in the inline script
  http://127.0.0.1:$HTTP_PORT/api/hello      JSON through the api profile
  http://127.0.0.1:$HTTP_PORT/levqor/status  module metrics of this nginx (Prometheus text)
  http://$CONTROLD_LISTEN/metrics        all metrics: controld's and every nginx's (scrape this one)
  http://$CONTROLD_LISTEN/healthz        levqor-controld health

Runtime flags (file $RUN/flags; on the first run SECURITY_HEADERS_ENABLED=${SECURITY_HEADERS_ENABLED:-on}, the rest off;
later runs keep what was set, until levqorctl flags reset; nginx applies a change within a second, without a reload):
  export LEVQOR_URL=http://$CONTROLD_LISTEN LEVQOR_TOKEN_FILE=$TOKEN_FILE
  $BUILD/levqorctl status
  $BUILD/levqorctl flags set RATELIMIT_ENABLED shadow
  $BUILD/levqorctl rollback          # every flag off: the demo loses its security headers
Admin token: $TOKEN_FILE (as a curl header file: $HEADER_FILE)

Jobs (a SQLite queue under $RUN/data; with NEW_QUEUE_ENABLED off they run in the request):
  curl -s -H @$HEADER_FILE -d '{"type":"noop"}' http://$CONTROLD_LISTEN/jobs
  $BUILD/levqorctl flags set NEW_QUEUE_ENABLED on   # then they are queued: GET /jobs/{id}, levqorctl dlq list

Try:  curl -si http://127.0.0.1:$HTTP_PORT/ | head -20
Logs: $RUN/logs/   Ctrl-C stops nginx and controld.
MSG

wait -n "${pids[@]}" || true
((stopping)) || echo "run: a process exited; see $RUN/logs/" >&2
