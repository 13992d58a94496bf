#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The Debian packages checked (make deb-check, in make test): what `make deb`
# wrote to $DEB_DIR (default build/deb).
#   1. contents: every expected path, the modes of what matters, no secret
#      shipped, the conffile, the man pages;
#   2. dependencies: the nginx ABI of the nginx installed here, the shared
#      libraries (shlibs), sysusers;
#   3. maintainer scripts: the unit enabled and not started, the module
#      enabled through modules-enabled;
#   4. lintian: no error, and every warning justified in
#      conf/debian/README.source;
#   5. the bash completion of levqorctl;
#   6. install and purge on this machine, only if that leaves it as it was:
#      skipped (saying why) when not root, when either package is installed,
#      or when the levqor user or group, /etc/levqor, /var/lib/levqor or the
#      modules-enabled link exist. Installed: files, the levqor user, the
#      tokens (0640 root:levqor), the unit enabled, the modules-enabled link,
#      `nginx -t` loading the module through that link, controld started as
#      the levqor user accepting the generated admin token. Purged: nothing of
#      the packages left but /var/lib/levqor (user data; then removed here,
#      with the levqor user and group the installation created), and the
#      machine as before.
# Exit 0 when every check passes, 1 naming each failure.
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
deb_dir=${DEB_DIR:-$root/build/deb}
ctl_deb=$(ls "$deb_dir"/levqor-controld_*.deb 2>/dev/null | head -1)
mod_deb=$(ls "$deb_dir"/libnginx-mod-http-levqor_*.deb 2>/dev/null | head -1)
[[ -n $ctl_deb && -n $mod_deb ]] || { echo "deb-check: no packages in $deb_dir (run make deb)" >&2; exit 1; }

failures=0
checks=0
ok() { checks=$((checks + 1)); }
fail() {
    checks=$((checks + 1))
    failures=$((failures + 1))
    echo "deb-check: FAIL: $*" >&2
}
expect() { # expect DESCRIPTION COMMAND...
    local what=$1
    shift
    if "$@" >/dev/null 2>&1; then ok; else fail "$what"; fi
}

report_times() {
    echo "deb-check: seconds: contents $t_contents, dependencies and scripts $((t_scripts - t_contents))," \
        "lintian $((t_lintian - t_scripts)), completion $((t_completion - t_lintian))," \
        "install/purge $((SECONDS - t_completion))" >&2
}

# ---- 1. contents ------------------------------------------------------------
# "mode path" per line, as dpkg-deb -c prints them (directories omitted).
listing() { dpkg-deb -c "$1" | awk '$1 !~ /^d/ { p = $6; sub(/^\./, "", p); print $1, p }'; }
declare -A contents=([$mod_deb]=$(listing "$mod_deb") [$ctl_deb]=$(listing "$ctl_deb"))
has_file() { # has_file DEB MODE PATH
    local deb=$1 mode=$2 path=$3 line
    line=$(awk -v p="$path" '$2 == p' <<<"${contents[$deb]}")
    if [[ -z $line ]]; then
        fail "$(basename "$deb") has no $path"
    elif [[ ${line%% *} != "$mode" ]]; then
        fail "$(basename "$deb"): $path is ${line%% *}, expected $mode"
    else
        ok
    fi
}
has_file "$mod_deb" -rw-r--r-- /usr/lib/nginx/modules/ngx_http_levqor_module.so
has_file "$mod_deb" -rw-r--r-- /usr/share/nginx/modules-available/mod-http-levqor.conf
has_file "$mod_deb" -rw-r--r-- /usr/share/doc/libnginx-mod-http-levqor/copyright
has_file "$mod_deb" -rw-r--r-- /usr/share/doc/libnginx-mod-http-levqor/directives.md.gz
has_file "$ctl_deb" -rwxr-xr-x /usr/sbin/levqor-controld
has_file "$ctl_deb" -rwxr-xr-x /usr/bin/levqorctl
has_file "$ctl_deb" -rw-r--r-- /lib/systemd/system/levqor-controld.service
has_file "$ctl_deb" -rw-r--r-- /usr/lib/sysusers.d/levqor-controld.conf
has_file "$ctl_deb" -rw-r--r-- /usr/lib/tmpfiles.d/levqor-controld.conf
has_file "$ctl_deb" -rw-r--r-- /etc/levqor/controld.json
has_file "$ctl_deb" -rw-r--r-- /usr/share/man/man1/levqorctl.1.gz
has_file "$ctl_deb" -rw-r--r-- /usr/share/man/man8/levqor-controld.8.gz
has_file "$ctl_deb" -rw-r--r-- /usr/share/bash-completion/completions/levqorctl
has_file "$ctl_deb" -rw-r--r-- /usr/share/doc/levqor-controld/copyright
has_file "$ctl_deb" -rw-r--r-- /usr/share/doc/levqor-controld/OPERATIONS.md.gz
# Secrets are generated on the machine, never shipped; nothing set-id; the
# module is not where a multiarch nginx would look (Debian's nginx does not).
for deb in "$mod_deb" "$ctl_deb"; do
    expect "$(basename "$deb") ships a token or key file" \
        bash -c '! grep -Eq "\.(token|key|pem)\$" <<<"$0"' "${contents[$deb]}"
    expect "$(basename "$deb") ships a set-id or group/world-writable file" \
        bash -c '! grep -Eq "^[^l](..[sS]|.....[sS]|.{4}w|.{7}w)" <<<"$0"' "${contents[$deb]}"
    expect "$(basename "$deb") ships files under /usr/local" bash -c '! grep -q " /usr/local/" <<<"$0"' "${contents[$deb]}"
    # A symlink into the build machine (make deb's source tree) would dangle
    # on every other machine: targets are relative or system paths.
    expect "$(basename "$deb") ships a symlink to a path outside the installed system" \
        bash -c '! dpkg-deb -c "$0" | awk '"'"'$1 ~ /^l/ { print $NF }'"'"' | grep -Eqv "^([^/]|/(usr|etc|lib|var)/)"' "$deb"
done
expect "the module snippet does not load ngx_http_levqor_module.so from modules/" \
    bash -c "dpkg-deb --fsys-tarfile '$mod_deb' | tar -xO ./usr/share/nginx/modules-available/mod-http-levqor.conf |
             grep -qx 'load_module modules/ngx_http_levqor_module.so;'"
expect "the unit does not start /usr/sbin/levqor-controld" \
    bash -c "dpkg-deb --fsys-tarfile '$ctl_deb' | tar -xO ./lib/systemd/system/levqor-controld.service |
             grep -q '^ExecStart=/usr/sbin/levqor-controld '"
expect "/etc/levqor/controld.json is not a conffile" \
    bash -c "dpkg-deb -I '$ctl_deb' conffiles | grep -qx /etc/levqor/controld.json"

t_contents=$SECONDS
# ---- 2. dependencies ----------------------------------------------------------
abi=$(dpkg-query -W -f='${Provides}' nginx 2>/dev/null | tr ',' '\n' | grep -o 'nginx-abi-[^ ]*' | head -1)
mod_depends=$(dpkg-deb -f "$mod_deb" Depends)
ctl_depends=$(dpkg-deb -f "$ctl_deb" Depends)
if [[ -z $abi ]]; then
    fail "the installed nginx provides no nginx-abi-*"
elif [[ ", $mod_depends," != *", $abi,"* ]]; then
    fail "libnginx-mod-http-levqor does not depend on $abi (the installed nginx's ABI): $mod_depends"
else
    ok
fi
for lib in libhiredis0.14 libssl3 libstdc++6 libc6; do
    expect "libnginx-mod-http-levqor does not depend on $lib (shlibs): $mod_depends" \
        grep -q "\\b$lib\\b" <<<"$mod_depends"
done
for lib in libcurl4 libsqlite3-0 libpq5 libhiredis0.14 libcpp-httplib0.11 libssl3 libstdc++6; do
    expect "levqor-controld does not depend on $lib (shlibs): $ctl_depends" grep -q "\\b$lib\\b" <<<"$ctl_depends"
done
expect "levqor-controld does not depend on systemd-sysusers: $ctl_depends" \
    grep -q "systemd | systemd-standalone-sysusers" <<<"$ctl_depends"

# ---- 3. maintainer scripts -------------------------------------------------------
script() { dpkg-deb -I "$1" "$2" 2>/dev/null; }
expect "levqor-controld's postinst does not create the levqor user" \
    grep -q 'systemd-sysusers.* levqor-controld.conf' <(script "$ctl_deb" postinst)
expect "levqor-controld's postinst does not enable the unit" \
    grep -q "deb-systemd-helper enable 'levqor-controld.service'" <(script "$ctl_deb" postinst)
expect "levqor-controld's postinst starts the unit (it must not)" \
    bash -c "! dpkg-deb -I '$ctl_deb' postinst | grep -Eq 'deb-systemd-invoke (start|restart)'"
expect "levqor-controld's postrm does not purge the unit's state" \
    grep -q "deb-systemd-helper purge 'levqor-controld.service'" <(script "$ctl_deb" postrm)
expect "libnginx-mod-http-levqor's postinst does not link 50-mod-http-levqor.conf" \
    grep -q 'mod-http-levqor.conf:50-mod-http-levqor.conf' <(script "$mod_deb" postinst)

t_scripts=$SECONDS
# ---- 4. lintian ----------------------------------------------------------------------
if command -v lintian >/dev/null; then
    lint=$(lintian --tag-display-limit 0 "$mod_deb" "$ctl_deb" 2>&1 | grep -E '^[EW]: ')
    while IFS= read -r line; do
        [[ -n $line ]] || continue
        tag=$(awk '{print $3}' <<<"$line")
        if [[ $line == E:* ]]; then
            fail "lintian error: $line"
        elif ! grep -q -- "$tag" "$root/conf/debian/README.source"; then
            fail "lintian warning not justified in conf/debian/README.source: $line"
        else
            ok
        fi
    done <<<"$lint"
    ok
else
    fail "lintian is not installed (scripts/deps.sh installs it)"
fi

t_lintian=$SECONDS
# ---- 5. bash completion ------------------------------------------------------------------
completion() { # completion WORD... (the last one is completed)
    bash -c '. /usr/share/bash-completion/bash_completion
             . "$0"
             COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
             _levqorctl levqorctl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
             printf "%s\n" "${COMPREPLY[@]}"' "$root/conf/bash-completion/levqorctl" levqorctl "$@" | sort | tr '\n' ' '
}
if [[ -r /usr/share/bash-completion/bash_completion ]]; then
    got=$(completion "")
    [[ $got == *"backup "*"dlq "*"flags "*"health "*"rollback "*"schedules "*"status "*"verify "* ]] && ok ||
        fail "completion of 'levqorctl ': $got"
    got=$(completion flags set RATE)
    [[ $got == "RATELIMIT_ENABLED " ]] && ok || fail "completion of 'levqorctl flags set RATE': $got"
    got=$(completion --json flags set RATELIMIT_ENABLED s)
    [[ $got == "shadow " ]] && ok || fail "completion of 'levqorctl --json flags set RATELIMIT_ENABLED s': $got"
    got=$(completion verify --nginx http://127.0.0.1/ --)
    [[ $got == *"--backup-max-age "*"--dlq-window "*"--promtool "* ]] && ok ||
        fail "completion of 'levqorctl verify --nginx http://127.0.0.1/ --': $got"
    got=$(completion --url http://x backup r)
    [[ $got == "restore run " ]] && ok || fail "completion of 'levqorctl --url http://x backup r': $got"
else
    fail "bash-completion is not installed (scripts/deps.sh installs it)"
fi

t_completion=$SECONDS
# ---- 6. install and purge ------------------------------------------------------------------
skip_reason=""
if [[ $(id -u) -ne 0 ]]; then
    skip_reason="not root"
else
    for p in libnginx-mod-http-levqor levqor-controld; do
        status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
        [[ -z $status || $status == not-installed ]] || skip_reason="package $p is $status here"
    done
    getent passwd levqor >/dev/null && skip_reason="the user levqor exists"
    getent group levqor >/dev/null && skip_reason="the group levqor exists"
    for path in /etc/levqor /var/lib/levqor /etc/nginx/modules-enabled/50-mod-http-levqor.conf; do
        [[ -e $path || -L $path ]] && skip_reason="$path exists"
    done
fi

# What installing and purging may touch, before and after.
snapshot() {
    {
        find /etc/nginx/modules-enabled /etc/systemd/system /var/lib/systemd/deb-systemd-helper-enabled \
            /etc/levqor /var/lib/levqor -printf '%p %l %m %u:%g\n' 2>/dev/null
        grep '^levqor:' /etc/passwd /etc/group /etc/shadow /etc/gshadow 2>/dev/null
        for p in libnginx-mod-http-levqor levqor-controld; do
            dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "$p" 2>/dev/null
        done
        for f in /usr/sbin/levqor-controld /usr/bin/levqorctl /usr/lib/nginx/modules/ngx_http_levqor_module.so \
            /usr/share/nginx/modules-available/mod-http-levqor.conf /lib/systemd/system/levqor-controld.service \
            /usr/lib/sysusers.d/levqor-controld.conf /usr/lib/tmpfiles.d/levqor-controld.conf \
            /usr/share/bash-completion/completions/levqorctl /usr/share/doc/levqor-controld; do
            [[ -e $f ]] && echo "present $f"
        done
    } | sort
}

apt_get() {
    DEBIAN_FRONTEND=noninteractive apt-get -q -y -o DPkg::Lock::Timeout=300 --no-install-recommends "$@"
}

if [[ -n $skip_reason ]]; then
    echo "deb-check: install/purge test SKIPPED: $skip_reason (it runs only where it leaves the machine as it was)" >&2
else
    before=$(snapshot)
    work=$(mktemp -d)
    chmod 755 "$work"
    created_user=""
    controld_pid=""
    installed=""
    # On any exit (a failed check included): the packages purged, the user
    # and /var/lib/levqor removed if this test created them.
    cleanup() {
        [[ -n $controld_pid ]] && kill "$controld_pid" 2>/dev/null && wait "$controld_pid" 2>/dev/null
        controld_pid=""
        [[ -n $installed ]] && apt_get purge libnginx-mod-http-levqor levqor-controld >>"$work/apt.log" 2>&1
        if [[ -n $created_user ]]; then
            userdel levqor 2>/dev/null
            getent group levqor >/dev/null && groupdel levqor 2>/dev/null
            rm -rf /var/lib/levqor
        fi
    }
    trap 'cleanup; rm -rf "$work"' EXIT

    # Everything the packages need is installed already: apt must plan to
    # install these two and nothing else (no download, no other change).
    plan=$(apt_get -s install "$ctl_deb" "$mod_deb" 2>&1 | grep -E '^[0-9]+ upgraded, ')
    installed=yes
    if [[ $plan != "0 upgraded, 2 newly installed, 0 to remove"* ]]; then
        installed=""
        fail "apt-get would change more than the two packages: $plan"
    elif ! apt_get install "$ctl_deb" "$mod_deb" >"$work/apt.log" 2>&1; then
        tail -20 "$work/apt.log" >&2
        fail "apt-get install of the two packages failed"
    else
        ok
        getent passwd levqor >/dev/null && created_user=yes
        for f in /usr/sbin/levqor-controld /usr/bin/levqorctl /usr/lib/nginx/modules/ngx_http_levqor_module.so \
            /lib/systemd/system/levqor-controld.service /etc/levqor/controld.json \
            /usr/share/man/man8/levqor-controld.8.gz /usr/share/bash-completion/completions/levqorctl; do
            expect "installed: no $f" test -f "$f"
        done
        uid=$(getent passwd levqor | cut -d: -f3)
        if [[ -z $uid ]]; then
            fail "installed: no levqor user"
        else
            [[ $uid -lt 1000 ]] && ok || fail "installed: levqor is not a system user (uid $uid)"
            expect "installed: levqor's group is not levqor" test "$(id -gn levqor)" = levqor
        fi
        expect "installed: /etc/levqor is not 750 root:levqor" test "$(stat -c '%a %U:%G' /etc/levqor)" = "750 root:levqor"
        for role in admin producer; do
            t=/etc/levqor/$role.token
            expect "installed: $t is not 640 root:levqor" test "$(stat -c '%a %U:%G' "$t" 2>/dev/null)" = "640 root:levqor"
            expect "installed: $t does not hold 64 hex digits" grep -Eqx '[0-9a-f]{64}' "$t"
        done
        expect "installed: /var/lib/levqor is not 755 levqor:levqor" \
            test "$(stat -c '%a %U:%G' /var/lib/levqor 2>/dev/null)" = "755 levqor:levqor"
        expect "installed: the unit is not enabled" \
            test -L /etc/systemd/system/multi-user.target.wants/levqor-controld.service
        link=/etc/nginx/modules-enabled/50-mod-http-levqor.conf
        expect "installed: $link does not point to the snippet" \
            test "$(readlink "$link")" = /usr/share/nginx/modules-available/mod-http-levqor.conf

        # nginx -t with the module loaded through the modules-enabled link,
        # using one of its directives (unknown without the module).
        cat >"$work/nginx.conf" <<EOF
include $link;
pid $work/nginx.pid;
events {}
http {
    access_log off;
    server { listen 127.0.0.1:1; levqor_headers on; }
}
EOF
        if nginx -t -q -c "$work/nginx.conf" -e "$work/error.log" >"$work/nginx-t.log" 2>&1; then
            ok
        else
            cat "$work/nginx-t.log" >&2
            fail "installed: nginx -t with the packaged module failed"
        fi

        # controld as the unit runs it (user levqor), with the installed config
        # and the generated tokens; its own port and data directory.
        port=$(perl -MIO::Socket::INET -e 'print IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1:0")->sockport')
        install -d -o levqor -g levqor -m 0750 "$work/data"
        cat >"$work/controld.env" <<EOF
LEVQOR_LISTEN=127.0.0.1:$port
LEVQOR_DATA_DIR=$work/data
LEVQOR_FLAGS_FILE=$work/data/flags
EOF
        (set -a && . "$work/controld.env" && exec runuser -u levqor -- /usr/sbin/levqor-controld \
            --config /etc/levqor/controld.json) >"$work/controld.log" 2>&1 &
        controld_pid=$!
        healthy=""
        for _ in $(seq 1 100); do
            if /usr/bin/levqorctl --url "http://127.0.0.1:$port" --token-file /etc/levqor/admin.token flags get \
                >"$work/flags.out" 2>&1; then
                healthy=yes
                break
            fi
            kill -0 "$controld_pid" 2>/dev/null || break
            sleep 0.1
        done
        if [[ -n $healthy ]] && grep -q RATELIMIT_ENABLED "$work/flags.out"; then
            ok
        else
            tail -n 5 "$work/controld.log" "$work/flags.out" >&2
            fail "installed: levqor-controld as levqor with the generated admin token did not answer levqorctl flags get"
        fi
        kill "$controld_pid" 2>/dev/null
        wait "$controld_pid" 2>/dev/null
        controld_pid=""
        rm -rf "$work/data"

        # Purge: everything goes but /var/lib/levqor (user data) and the user.
        if apt_get purge libnginx-mod-http-levqor levqor-controld >>"$work/apt.log" 2>&1; then
            ok
            installed=""
        else
            fail "apt-get purge failed"
        fi
        expect "purged: /etc/levqor remains" test ! -e /etc/levqor
        expect "purged: $link remains" test ! -e "$link" -a ! -L "$link"
        expect "purged: /var/lib/levqor (user data) was removed" test -d /var/lib/levqor
        expect "purged: the unit is still enabled" \
            test ! -L /etc/systemd/system/multi-user.target.wants/levqor-controld.service
        # What the installation created and purge keeps on purpose, removed
        # here so the machine is as before.
        if [[ -n $created_user ]]; then
            userdel levqor 2>/dev/null
            getent group levqor >/dev/null && groupdel levqor
            rm -rf /var/lib/levqor
            created_user=""
        fi
        after=$(snapshot)
        if [[ $before == "$after" ]]; then ok; else
            diff <(echo "$before") <(echo "$after") >&2
            fail "the machine is not as before the install/purge test"
        fi
    fi
fi

if ((failures > 0)); then
    report_times
    echo "deb-check: $failures of $checks checks failed" >&2
    exit 1
fi
report_times
echo "deb-check: $checks checks passed ($(basename "$mod_deb"), $(basename "$ctl_deb"))"
