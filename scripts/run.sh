#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# make run: levqor-controld plus nginx with the levqor module (demo server
# block: strict headers, a rate-limited /api/, a verified webhook, a small
# demo upstream). controld starts first and writes the runtime flags file
# that nginx reads (levqor_flags_file); it scrapes the demo's levqor_status.
# Checks that the demo answers as it should, prints the URLs to try; Ctrl-C
# stops both. The Makefile installs and builds first; this script does not.
#
# Two folders:
# - $LEVQOR_RUN_DIR (default ./run): nginx.conf, logs, controld's data, the
#   admin token and the webhook secret. Opened by the nginx master (root when
#   run as root) and controld only; kept across runs.
# - the workers' folder: the flags file, the demo pages and nginx's temp
#   folders, which nginx's workers open themselves. As root the workers run
#   as $LEVQOR_WORKER_USER (default nobody), never as root, so this must be a
#   folder that user can reach: the run folder itself when it can, else
#   /tmp/levqor-run-<uid>-<port> (made 0755, owned by the invoker, removed
#   on exit) -- e.g. for a clone in root's home (mode 0700). A normal user's
#   nginx runs its workers as that user, so the run folder always works.
#   LEVQOR_WORKER_DIR names the folder instead, with no fallback: run.sh
#   refuses to start when the worker user cannot read it.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${LEVQOR_BUILD:-$REPO/build}
RUN=${LEVQOR_RUN_DIR:-$REPO/run}
HTTP_PORT=${LEVQOR_HTTP_PORT:-8080}
UPSTREAM_PORT=${LEVQOR_UPSTREAM_PORT:-8081}
CONTROLD_LISTEN=${LEVQOR_LISTEN:-127.0.0.1:8089}
NGINX_BIN=${NGINX:-/usr/sbin/nginx}
# nginx itself reads NGINX from its environment (sockets inherited in a
# binary upgrade): an nginx binary chosen this way must not reach it.
unset NGINX

die() {
    echo "run: $*" >&2
    exit 1
}

for f in "$BUILD/ngx_http_levqor_module.so" "$BUILD/levqor-controld" "$BUILD/levqorctl"; do
    [[ -r $f ]] || die "$f is missing or not readable by $(id -un): build first (make build), in a clone of your own"
done

port_free() {
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}
for p in "$HTTP_PORT" "$UPSTREAM_PORT" "${CONTROLD_LISTEN##*:}"; do
    port_free "$p" || die "port $p on 127.0.0.1 is in use (set LEVQOR_HTTP_PORT / LEVQOR_UPSTREAM_PORT / LEVQOR_LISTEN)"
done

# Who nginx's workers run as.
if ((EUID == 0)); then
    WORKER_USER=${LEVQOR_WORKER_USER:-nobody}
    [[ $WORKER_USER != root && $(id -u "$WORKER_USER" 2>/dev/null) != 0 ]] ||
        die "LEVQOR_WORKER_USER=\"$WORKER_USER\": nginx's workers do not run as root here; name an unprivileged user"
    WORKER_GROUP=$(id -gn "$WORKER_USER" 2>/dev/null) || die "LEVQOR_WORKER_USER=\"$WORKER_USER\": no such user"
    USER_LINE="user $WORKER_USER $WORKER_GROUP;"
else
    WORKER_USER=$(id -un)
    USER_LINE="# workers run as $WORKER_USER: nginx was started by that user, not by root"
fi
as_worker() {
    if ((EUID == 0)); then runuser -u "$WORKER_USER" -- "$@"; else "$@"; fi
}
# Why the worker user cannot open $1 (a file to read, or with "dir" a folder
# to create files in); prints nothing when it can.
access_problem() {
    local path=$1 kind=${2:-file} prefix="" part
    local -a parts
    IFS=/ read -ra parts <<<"${path#/}"
    for part in "${parts[@]:0:${#parts[@]}-1}"; do
        prefix+=/$part
        as_worker test -x "$prefix" ||
            { echo "the directory $prefix (mode $(stat -c %a "$prefix"), owner $(stat -c %U "$prefix")) is not searchable by it"; return; }
    done
    if [[ $kind == dir ]]; then
        as_worker test -x "$path" || echo "the directory $path (mode $(stat -c %a "$path"), owner $(stat -c %U "$path")) is not searchable by it"
    else
        as_worker test -r "$path" || echo "the file $path (mode $(stat -c %a "$path"), owner $(stat -c %U "$path")) is not readable by it"
    fi
}

mkdir -p "$RUN/logs" "$RUN/data"
RUN=$(cd "$RUN" && pwd)
WWW_IS_TEMP=0
if [[ -n ${LEVQOR_WORKER_DIR:-} ]]; then
    mkdir -p "$LEVQOR_WORKER_DIR"
    WWW=$(cd "$LEVQOR_WORKER_DIR" && pwd)
elif as_worker test -x "$RUN"; then
    WWW=$RUN
else
    # In /tmp (sticky): nobody else can rename or replace it once it is ours.
    WWW=/tmp/levqor-run-$(id -u)-$HTTP_PORT
    if ! mkdir -m 0755 "$WWW" 2>/dev/null; then
        # Left by a run that was killed: reuse it only if it is ours alone.
        [[ -d $WWW && ! -L $WWW && -O $WWW && $(stat -c %a "$WWW") == 755 ]] ||
            die "$WWW exists but is not a folder of $(id -un) with mode 0755; remove it, or set LEVQOR_WORKER_DIR"
    fi
    WWW_IS_TEMP=1
fi
mkdir -p "$WWW/tmp"
chmod 0755 "$WWW/tmp"
rm -rf "$WWW/html"
cp -R "$REPO/conf/demo" "$WWW/html"
chmod -R a+rX "$WWW/html"

# What the workers open must be theirs to open (else the demo answers 500):
# checked before anything starts, the flags file once controld wrote it.
check_worker_access() {
    local problem
    problem=$(access_problem "$1" "${2:-file}")
    [[ -z $problem ]] || die "nginx's workers run as user \"$WORKER_USER\" and cannot open $1: $problem; use a folder that user can reach (LEVQOR_WORKER_DIR), or unset LEVQOR_WORKER_DIR to let run.sh pick one"
}
check_worker_access "$WWW/html/index.html"
check_worker_access "$WWW/tmp" dir

# The admin token for levqorctl and /ops: made once, kept across runs.
TOKEN_FILE=$RUN/admin.token
if [[ ! -s $TOKEN_FILE ]]; then
    (umask 077 && openssl rand -hex 32 >"$TOKEN_FILE")
fi
chmod 600 "$TOKEN_FILE" # controld refuses a token file others can read
# The same token as an HTTP header for curl -H @file: a token in curl's
# arguments would show in ps. read and printf are built-ins (no argv either).
HEADER_FILE=$RUN/admin.header
(umask 077 && read -r token <"$TOKEN_FILE" && printf 'Authorization: Bearer %s\n' "$token" >"$HEADER_FILE")
# The demo webhook's HMAC secret (read by the nginx master at start only).
WEBHOOK_SECRET=$RUN/webhook.secret
if [[ ! -s $WEBHOOK_SECRET ]]; then
    (umask 077 && openssl rand -hex 32 >"$WEBHOOK_SECRET")
fi
chmod 600 "$WEBHOOK_SECRET"

sed -e "s|@MODULE@|$BUILD/ngx_http_levqor_module.so|g" -e "s|@RUN@|$RUN|g" -e "s|@WWW@|$WWW|g" \
    -e "s|@USER@|$USER_LINE|g" -e "s|@HTTP_PORT@|$HTTP_PORT|g" -e "s|@UPSTREAM_PORT@|$UPSTREAM_PORT|g" \
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
    if ((WWW_IS_TEMP)); then rm -rf "$WWW"; fi
}
trap stop_all INT TERM EXIT

# The flags of the first run (later runs keep what was set, until
# levqorctl flags reset): everything the demo shows is on.
SECURITY_HEADERS_ENABLED=${SECURITY_HEADERS_ENABLED:-on}
RATELIMIT_ENABLED=${RATELIMIT_ENABLED:-on}
WEBHOOK_VERIFY_ALL=${WEBHOOK_VERIFY_ALL:-on}
LEVQOR_LISTEN=$CONTROLD_LISTEN \
    LEVQOR_DATA_DIR=$RUN/data \
    LEVQOR_FLAGS_FILE=$WWW/flags \
    LEVQOR_ADMIN_TOKEN_FILE=$TOKEN_FILE \
    LEVQOR_NGINX_STATUS_URLS="demo=http://127.0.0.1:$HTTP_PORT/levqor/status" \
    SECURITY_HEADERS_ENABLED=$SECURITY_HEADERS_ENABLED \
    RATELIMIT_ENABLED=$RATELIMIT_ENABLED \
    WEBHOOK_VERIFY_ALL=$WEBHOOK_VERIFY_ALL \
    "$BUILD/levqor-controld" 2>>"$RUN/logs/controld.log" &
pids+=($!)
for _ in $(seq 1 100); do
    [[ -s $WWW/flags ]] && break
    kill -0 "${pids[0]}" 2>/dev/null || {
        tail -5 "$RUN/logs/controld.log" >&2
        die "levqor-controld exited; see $RUN/logs/controld.log"
    }
    sleep 0.1
done
[[ -s $WWW/flags ]] || die "levqor-controld did not write $WWW/flags within 10 s; see $RUN/logs/controld.log"

# The flags file, written by controld, too.
check_worker_access "$WWW/flags"

"$NGINX_BIN" -t -q -p "$RUN" -c "$RUN/nginx.conf" -e "$RUN/logs/error.log"
"$NGINX_BIN" -p "$RUN" -c "$RUN/nginx.conf" -e "$RUN/logs/error.log" &
pids+=($!)

http_code() { curl -s -o /dev/null -w '%{http_code}' "$@" || true; }
for _ in $(seq 1 100); do
    [[ $(http_code "http://127.0.0.1:$HTTP_PORT/levqor/status") != 000 && $(http_code "http://$CONTROLD_LISTEN/healthz") != 000 ]] && break
    kill -0 "${pids[1]}" 2>/dev/null || die "nginx exited; see $RUN/logs/error.log"
    kill -0 "${pids[0]}" 2>/dev/null || die "levqor-controld exited; see $RUN/logs/controld.log"
    sleep 0.1
done

# The check: the demo page answers 200 with the headers its flag promises.
page=http://127.0.0.1:$HTTP_PORT/
head=$(curl -s -D - -o /dev/null "$page" | tr -d '\r') || true
code=$(sed -n '1s/^HTTP\/[0-9.]* \([0-9]*\).*/\1/p' <<<"$head")
if [[ $code != 200 ]]; then
    tail -5 "$RUN/logs/error.log" >&2
    die "the demo page $page answered ${code:-nothing}, not 200; see $RUN/logs/error.log (workers run as \"$WORKER_USER\", their folder is $WWW)"
fi
headers_flag=$(sed -n 's/^SECURITY_HEADERS_ENABLED=//p' "$WWW/flags")
case $headers_flag in
on) want=Content-Security-Policy ;;
shadow) want=Content-Security-Policy-Report-Only ;;
*) want="" ;;
esac
if [[ -n $want ]] && ! grep -qi "^$want: .*'nonce-" <<<"$head"; then
    die "the demo page $page has no $want with a nonce although SECURITY_HEADERS_ENABLED=$headers_flag; see $RUN/logs/error.log"
fi

flags_now=$(sed -n 's/^\([A-Z_]*=[a-z]*\)$/\1/p' "$WWW/flags" | tr '\n' ' ')
flags_now=${flags_now% }
not_on=$(grep -E '^(SECURITY_HEADERS_ENABLED|RATELIMIT_ENABLED|WEBHOOK_VERIFY_ALL)=' "$WWW/flags" | grep -v '=on$' | tr '\n' ' ') || true
[[ -z $not_on ]] ||
    echo "run: note: ${not_on% } (kept from an earlier run, or set in the environment): the README's tour needs them on; levqorctl flags reset turns the first run's flags back on" >&2
where="files under $RUN"
[[ $WWW == "$RUN" ]] || where="files under $RUN; nginx's workers ($WORKER_USER) read $WWW"
cat <<MSG

levqor is running ($where):
  http://127.0.0.1:$HTTP_PORT/               demo page, strict profile, CSP nonce in the inline script
  http://127.0.0.1:$HTTP_PORT/api/hello      JSON through the api profile, rate-limited (free plan: 60/min per X-API-Key, 30 per address)
  http://127.0.0.1:$HTTP_PORT/hooks/demo     webhook receiver: POST with X-Demo-Signature: sha256=<HMAC-SHA256 of the body>
  http://127.0.0.1:$HTTP_PORT/levqor/status  module metrics of this nginx (Prometheus text)
  http://$CONTROLD_LISTEN/metrics        all metrics: controld's and every nginx's (scrape this one)
  http://$CONTROLD_LISTEN/healthz        levqor-controld health

Runtime flags (file $WWW/flags), now: $flags_now
The first run turns SECURITY_HEADERS_ENABLED, RATELIMIT_ENABLED and WEBHOOK_VERIFY_ALL on, the rest off; later runs
keep what was set, until levqorctl flags reset. nginx applies a change within a second, without a reload:
  export LEVQOR_URL=http://$CONTROLD_LISTEN LEVQOR_TOKEN_FILE=$TOKEN_FILE
  $BUILD/levqorctl status
  $BUILD/levqorctl flags set RATELIMIT_ENABLED shadow
  $BUILD/levqorctl rollback          # every flag off: the demo loses its security headers
  $BUILD/levqorctl flags reset       # back to the first run's flags
Admin token: $TOKEN_FILE (as a curl header file: $HEADER_FILE)
Webhook secret: $WEBHOOK_SECRET

Jobs (a SQLite queue under $RUN/data; with NEW_QUEUE_ENABLED off they run in the request):
  curl -s -H @$HEADER_FILE -d '{"type":"noop"}' http://$CONTROLD_LISTEN/jobs
  $BUILD/levqorctl flags set NEW_QUEUE_ENABLED on   # then they are queued: GET /jobs/{id}, levqorctl dlq list

Try:  curl -si http://127.0.0.1:$HTTP_PORT/ | head -20
Logs: $RUN/logs/   Ctrl-C stops nginx and controld.
MSG

wait -n "${pids[@]}" || true
((stopping)) || echo "run: a process exited; see $RUN/logs/" >&2
