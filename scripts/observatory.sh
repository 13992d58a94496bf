#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# On-demand check (not part of `make test`; it needs npm): serve
# conf/nginx/tls-strict.conf -- levqor's strict profile over TLS plus the
# HTTP -> HTTPS redirect -- on 127.0.0.1:80 and :443 and scan it with the MDN
# HTTP Observatory (@mdn/mdn-http-observatory). Prints grade, score and every
# test's result; exits 0 iff the grade is A+. See docs/observatory.md.
#
# Environment:
#   MODULE_SO              the module .so to load (wins when set), else
#   LEVQOR_BUILD           build dir holding ngx_http_levqor_module.so
#                          (default: <repo>/build)
#   NGINX                  nginx binary (default: /usr/sbin/nginx)
#   OBSERVATORY_VERSION    scanner version from npm (default: 1.4.8)
#   OBSERVATORY_CACHE      where the scanner is installed
#                          (default: ${XDG_CACHE_HOME:-$HOME/.cache}/levqor/observatory)
#   OBSERVATORY_CONF       scan this snippet instead of conf/nginx/tls-strict.conf
#                          (same @PLACEHOLDERS@; e.g. your edited copy)
#   OBSERVATORY_JSON       if set, the scanner's raw JSON result is copied there
#   KEEP_TMP=1             keep the temp dir (config, certs, logs) for debugging
#
# Needs: root (or CAP_NET_BIND_SERVICE) for ports 80/443, which must be free on
# 127.0.0.1; openssl, curl, node >= 20, npm (first run only, to install the
# scanner).
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
NGINX=${NGINX:-/usr/sbin/nginx}
OBSERVATORY_VERSION=${OBSERVATORY_VERSION:-1.4.8}
CACHE=${OBSERVATORY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/levqor/observatory}/$OBSERVATORY_VERSION
PKG=$CACHE/node_modules/@mdn/mdn-http-observatory
HOST=localhost
CONF_SRC=${OBSERVATORY_CONF:-$REPO/conf/nginx/tls-strict.conf}

say() { printf 'observatory: %s\n' "$*" >&2; }
die() { say "$*"; exit 2; }

if [[ -n ${MODULE_SO:-} ]]; then
    MODULE=$MODULE_SO
else
    MODULE=${LEVQOR_BUILD:-$REPO/build}/ngx_http_levqor_module.so
fi
[[ -f $MODULE ]] || die "module not found: $MODULE (build it with 'make build', or set LEVQOR_BUILD or MODULE_SO)"
MODULE=$(cd "$(dirname "$MODULE")" && pwd)/$(basename "$MODULE")
[[ -f $CONF_SRC ]] || die "missing $CONF_SRC"
for tool in openssl curl node "$NGINX"; do
    command -v "$tool" >/dev/null || die "'$tool' not found on PATH"
done

# --- ports --------------------------------------------------------------------
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in 80 443; do
    if port_busy "$p"; then
        who=$(ss -Hltnp "sport = :$p" 2>/dev/null | head -1 || true)
        die "port $p on 127.0.0.1 is already in use${who:+ ($who)}; the Observatory only scans the default ports 80/443, so stop that server first"
    fi
done

# --- temp dir and cleanup -----------------------------------------------------
TMP=$(mktemp -d "${TMPDIR:-/tmp}/levqor-observatory.XXXXXX")
NGINX_PID=
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [[ -n $NGINX_PID ]] && kill -0 "$NGINX_PID" 2>/dev/null; then
        kill -QUIT "$NGINX_PID" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$NGINX_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$NGINX_PID" 2>/dev/null || true
        wait "$NGINX_PID" 2>/dev/null || true
    fi
    if [[ ${KEEP_TMP:-0} == 1 ]]; then
        say "kept $TMP"
    else
        rm -rf "$TMP"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# nginx workers drop privileges (to "nobody") and must read the docroot; the
# private keys stay 0600 (only the master reads them, at start-up).
chmod 0755 "$TMP"
mkdir -p "$TMP/pki" "$TMP/www" "$TMP/logs" "$TMP/tmp"
chmod 0700 "$TMP/pki"

# --- throwaway CA and a certificate for localhost -----------------------------
say "creating a throwaway CA and a certificate for $HOST"
(
    cd "$TMP/pki"
    umask 077
    openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout ca.key -out ca.pem -days 2 -subj "/CN=levqor observatory throwaway CA" \
        -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -addext "subjectKeyIdentifier=hash" 2>/dev/null
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout leaf.key -out leaf.csr -subj "/CN=$HOST" 2>/dev/null
    cat >leaf.ext <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=DNS:$HOST,IP:127.0.0.1
authorityKeyIdentifier=keyid
subjectKeyIdentifier=hash
EXT
    openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
        -days 1 -sha256 -extfile leaf.ext -out leaf.pem 2>/dev/null
    cat leaf.pem ca.pem >fullchain.pem
    openssl verify -CAfile ca.pem leaf.pem >/dev/null
) || die "openssl failed to create the test certificates"
chmod 0644 "$TMP/pki/ca.pem"

# --- the site: one page with a nonce'd inline script, one stylesheet ----------
cat >"$TMP/www/index.html" <<'HTML'
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>levqor strict profile over TLS</title>
<link rel="stylesheet" href="/style.css">
</head>
<body>
<h1>levqor strict profile</h1>
<p id="status">The inline script has not run.</p>
<script nonce="<!--# echo var="levqor_csp_nonce" -->">
  document.getElementById("status").textContent =
    "The inline script ran: it carries this response's CSP nonce.";
</script>
</body>
</html>
HTML
printf 'body { font-family: sans-serif; max-width: 40em; margin: 2em auto; }\n' >"$TMP/www/style.css"
chmod -R a+rX "$TMP/www"

# --- nginx configuration: the example, placeholders filled in -----------------
sed -e "s|@SERVER_NAME@|$HOST|g" \
    -e "s|@HTTP_LISTEN@|127.0.0.1:80|g" \
    -e "s|@HTTPS_LISTEN@|127.0.0.1:443|g" \
    -e "s|@TLS_CERT@|$TMP/pki/fullchain.pem|g" \
    -e "s|@TLS_KEY@|$TMP/pki/leaf.key|g" \
    -e "s|@DOCROOT@|$TMP/www|g" \
    "$CONF_SRC" >"$TMP/tls-strict.conf"
if grep -v '^[[:space:]]*#' "$TMP/tls-strict.conf" | grep -q '@[A-Z_]*@'; then
    die "unfilled placeholder in $CONF_SRC: $(grep -v '^[[:space:]]*#' "$TMP/tls-strict.conf" | grep -o '@[A-Z_]*@' | sort -u | tr '\n' ' ')"
fi
cat >"$TMP/nginx.conf" <<CONF
# Generated by scripts/observatory.sh; only the wrapper around the example.
load_module $MODULE;
worker_processes 1;
pid $TMP/nginx.pid;
error_log $TMP/logs/error.log warn;
daemon off;

events { worker_connections 256; }

http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log $TMP/logs/access.log;
    client_body_temp_path $TMP/tmp/client_body;
    proxy_temp_path $TMP/tmp/proxy;
    fastcgi_temp_path $TMP/tmp/fastcgi;
    uwsgi_temp_path $TMP/tmp/uwsgi;
    scgi_temp_path $TMP/tmp/scgi;

    include $TMP/tls-strict.conf;
}
CONF

NGX=("$NGINX" -p "$TMP" -c "$TMP/nginx.conf" -e "$TMP/logs/error.log")
if ! "${NGX[@]}" -t -q 2>"$TMP/logs/nginx-t.log"; then
    cat "$TMP/logs/nginx-t.log" "$TMP/logs/error.log" >&2 2>/dev/null || true
    die "nginx -t rejected the configuration"
fi
"${NGX[@]}" &
NGINX_PID=$!

CURL=(curl -sS --max-time 5 --cacert "$TMP/pki/ca.pem" --resolve "$HOST:443:127.0.0.1" --resolve "$HOST:80:127.0.0.1")
for _ in $(seq 1 100); do
    "${CURL[@]}" -o /dev/null "https://$HOST/" 2>/dev/null && break
    kill -0 "$NGINX_PID" 2>/dev/null || { cat "$TMP/logs/error.log" >&2 || true; die "nginx exited (are ports 80/443 free, are you root?)"; }
    sleep 0.1
done
"${CURL[@]}" -o /dev/null "https://$HOST/" || { cat "$TMP/logs/error.log" >&2 || true; die "nginx does not answer on https://$HOST/"; }

# --- sanity checks before the scan ----------------------------------------------
redirect=$("${CURL[@]}" -o /dev/null -w '%{http_code} %{redirect_url}' "http://$HOST/some/path?q=1")
[[ $redirect == "301 https://$HOST/some/path?q=1" ]] || die "unexpected redirect from http://$HOST/: '$redirect'"
proto=$("${CURL[@]}" --http2 -D "$TMP/headers.txt" -o "$TMP/body.html" -w '%{http_version}' "https://$HOST/")
[[ $proto == 2 ]] || die "https://$HOST/ answered over HTTP/$proto, expected HTTP/2"
header_nonce=$(tr -d '\r' <"$TMP/headers.txt" | sed -n "s/^content-security-policy:.*'nonce-\([^']*\)'.*/\1/Ip")
body_nonce=$(sed -n 's/.*<script nonce="\([^"]*\)".*/\1/p' "$TMP/body.html")
if [[ -z $header_nonce ]]; then
    say "warning: no CSP nonce in the response headers (is the strict profile on?)"
elif [[ $header_nonce != "$body_nonce" ]]; then
    die "CSP nonce '$header_nonce' differs from the page's nonce '$body_nonce' (is ssi on for the page?)"
else
    say "nginx is up: http:// redirects with 301, https:// (HTTP/2) page nonce matches its CSP header"
fi

# --- the scanner ----------------------------------------------------------------
if [[ ! -f $PKG/src/scan.js ]]; then
    command -v npm >/dev/null || die "npm not found; it is needed once to install the scanner into $CACHE"
    say "installing @mdn/mdn-http-observatory@$OBSERVATORY_VERSION into $CACHE"
    staging=$CACHE.partial.$$
    rm -rf "$staging"
    mkdir -p "$staging"
    # --ignore-scripts: its postinstall downloads the HSTS preload and TLD lists.
    if ! npm install --prefix "$staging" --ignore-scripts --no-audit --no-fund --loglevel=error \
        "@mdn/mdn-http-observatory@$OBSERVATORY_VERSION" >&2; then
        rm -rf "$staging"
        die "npm install failed"
    fi
    rm -rf "$CACHE"
    mv "$staging" "$CACHE"
fi
# The scanner reads conf/hsts-preload.json, normally fetched by the skipped
# postinstall; an empty list is right for localhost (not preloaded).
[[ -s $PKG/conf/hsts-preload.json ]] || printf '{}\n' >"$PKG/conf/hsts-preload.json"

say "scanning $HOST with MDN HTTP Observatory $OBSERVATORY_VERSION"
set +e
(cd "$PKG" && NODE_EXTRA_CA_CERTS="$TMP/pki/ca.pem" NODE_OPTIONS="--dns-result-order=ipv4first" \
    node src/scan.js "$HOST") >"$TMP/scan.json" 2>"$TMP/scan.err"
scan_rc=$?
set -e
if [[ $scan_rc -ne 0 ]] || ! node -e 'JSON.parse(require("fs").readFileSync(process.argv[1]))' "$TMP/scan.json" 2>/dev/null; then
    cat "$TMP/scan.json" "$TMP/scan.err" >&2
    die "the scan failed (exit $scan_rc)"
fi
if [[ -n ${OBSERVATORY_JSON:-} ]]; then cp "$TMP/scan.json" "$OBSERVATORY_JSON"; fi

# Print the summary; the node one-liner exits 0 iff the grade is A+.
set +e
node - "$TMP/scan.json" <<'JS'
const r = JSON.parse(require("fs").readFileSync(process.argv[2], "utf8"));
if (r.error) { console.log(`scan error: ${r.error}`); process.exit(1); }
const s = r.scan;
console.log(`grade ${s.grade}  score ${s.score}  tests passed ${s.testsPassed}/${s.testsQuantity}  (algorithm v${s.algorithmVersion})`);
console.log("");
const rows = Object.entries(r.tests).map(([name, t]) => [
  name, t.pass ? "pass" : "FAIL", (t.scoreModifier > 0 ? "+" : "") + t.scoreModifier, t.result,
]);
const head = ["test", "pass", "score", "result"];
const w = head.map((h, i) => Math.max(h.length, ...rows.map((row) => String(row[i]).length)));
for (const row of [head, ...rows]) console.log(row.map((c, i) => String(c).padEnd(w[i])).join("  ").trimEnd());
process.exit(s.grade === "A+" ? 0 : 1);
JS
rc=$?
set -e
if [[ $rc -eq 0 ]]; then
    say "PASS: grade A+"
else
    say "FAIL: grade is not A+ (raw result: set OBSERVATORY_JSON=<file>, KEEP_TMP=1 keeps config and logs)"
    exit 1
fi
