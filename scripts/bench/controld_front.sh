#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# GET /ops/flags latency (the request behind `levqorctl rollback`) while
# slow clients hold controld's connections (M1, issue 11): SLOW
# slowloris-style clients from the same address send half a header line and
# then one byte every INTERVAL s, reconnecting whenever controld closes them
# (header deadline, eviction). Meanwhile REQUESTS admin requests, each on a
# new connection like levqorctl's, PAUSE_MS apart; latency = connect to the
# end of the answer. Target: p99 <= 100 ms with 256 slow clients. Then the
# same requests without slow clients, for comparison.
#   SLOW=256 INTERVAL=4 REQUESTS=1000 PAUSE_MS=10 CONTROLD=<binary>
source "$(dirname "$0")/lib.sh"

SLOW=${SLOW:-256}
INTERVAL=${INTERVAL:-4}
REQUESTS=${REQUESTS:-1000}
PAUSE_MS=${PAUSE_MS:-10}
CONTROLD=${CONTROLD:-$BUILD/levqor-controld}
TARGET_MS=100

make_token admin
token=$TOKEN
port=$(free_port)
start_controld "$port" LEVQOR_ADMIN_TOKEN_FILE="$BENCH_WORK/admin.token"

# measure <slow clients>: prints "p50 p99 max timeouts reopened" (ms).
measure() {
    perl -I"$REPO/t/lib" - "$port" "$token" "$1" "$INTERVAL" "$REQUESTS" "$PAUSE_MS" <<'PERL'
use strict;
use warnings;
use IO::Socket::INET;
use Time::HiRes qw(time sleep);
use Test::Levqor::SlowClients;

my ($port, $token, $slow_count, $interval, $requests, $pause_ms) = @ARGV;
$SIG{PIPE} = 'IGNORE';
my $slow = Test::Levqor::SlowClients->new(port => $port, count => $slow_count, interval => $interval);
$slow->open_all if $slow_count > 0;
$slow->tick;
my $request = "GET /ops/flags HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer $token\r\n"
            . "Connection: close\r\n\r\n";
my (@ms, $timeouts);
for (1 .. $requests) {
    my $start = time;
    my $sock = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port", Timeout => 5);
    my $answer = '';
    if ($sock) {
        $sock->timeout(5);
        print {$sock} $request;
        local $SIG{ALRM} = sub { die "timeout\n" };
        alarm 5;
        eval { local $/; $answer = <$sock> // ''; };
        alarm 0;
        close $sock;
    }
    if ($answer =~ m{^HTTP/1\.1 200 }) {
        push @ms, (time - $start) * 1000;
    } else {
        $timeouts++;
    }
    $slow->tick;
    sleep $pause_ms / 1000;
}
@ms = sort { $a <=> $b } @ms;
my $at = sub { @ms ? $ms[int($_[0] * $#ms + 0.5)] : -1 };
printf "%.2f %.2f %.2f %d %d\n", $at->(0.5), $at->(0.99), @ms ? $ms[-1] : -1, $timeouts // 0, $slow->reopened;
PERL
}

echo "controld $CONTROLD on 127.0.0.1:$port"
echo "GET /ops/flags with the admin token, $REQUESTS requests ${PAUSE_MS} ms apart, new connection each"
printf '%-28s %9s %9s %9s %9s %9s\n' "slow clients" p50_ms p99_ms max_ms failed reopened
for n in "$SLOW" 0; do
    read -r p50 p99 max failed reopened < <(measure "$n")
    label="none"
    [[ $n == 0 ]] || label="$n (a byte every ${INTERVAL}s)"
    printf '%-28s %9s %9s %9s %9s %9s\n' "$label" "$p50" "$p99" "$max" "$failed" "$reopened"
    [[ $n == "$SLOW" ]] && slow_p99=$p99 && slow_failed=$failed
done
if [[ $slow_failed == 0 ]] && awk -v v="$slow_p99" -v t="$TARGET_MS" 'BEGIN { exit !(v >= 0 && v <= t) }'; then
    echo "target p99 <= $TARGET_MS ms with $SLOW slow clients: met"
else
    echo "target p99 <= $TARGET_MS ms with $SLOW slow clients: NOT met"
fi
