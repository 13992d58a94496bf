#!/usr/bin/perl
# SPDX-License-Identifier: Apache-2.0
# controld's HTTP front against hostile clients (M1), and what callers
# without a token learn (L10): the admin still gets GET /ops/flags while
# 256 slow clients hold connections; chunked, oversized and compressed
# bodies, endless request lines and header floods are refused before any
# handler, and controld stops reading; the Host allow-list; /healthz and
# /metrics name no URLs and carry no error text without the admin token;
# concurrent /healthz callers share one check.
use strict;
use warnings;

use lib 't/lib';
use Test::Levqor;
use Test::Levqor::Controld qw(json_of);
use Test::Levqor::HTTP;
use Test::Levqor::SlowClients;
use Errno qw(EAGAIN EWOULDBLOCK EINTR);
use IO::Select;
use IO::Socket::INET;
use JSON::PP ();
use Time::HiRes qw(time);

my $dead = free_port();    # nothing listens here
my $cd = Test::Levqor::Controld->new(
    config => {
        http => { max_body_bytes => 65536, allowed_hosts => ['controld.test'] },
        nginx_status_urls => [{ name => 'edge', url => "http://127.0.0.1:$dead/secret-status-path" }],
    },
    env => { DATABASE_URL => "postgresql://levqor:pg-secret-pw\@127.0.0.1:$dead/levqor" },
);
$cd->start;

sub rss_kib {
    my ($pid) = @_;
    open my $fh, '<', "/proc/$pid/status" or return 0;
    while (<$fh>) { return $1 if /^VmRSS:\s+(\d+)/ }
    return 0;
}

# Sends $head, then $chunk again and again (up to $limit bytes) while
# reading the answer, until controld closes or stops reading for 3 s.
# Returns (bytes sent, what came back).
sub flood {
    my ($head, $chunk, $limit) = @_;
    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1:' . $cd->port) or die "connect: $!";
    local $SIG{PIPE} = 'IGNORE';
    syswrite($sock, $head);
    $sock->blocking(0);
    my $select = IO::Select->new($sock);
    my ($sent, $got, $last) = (0, '', time);
    while ($sent < $limit && time - $last < 3) {
        my ($r, $w) = IO::Select->select($select, $select, undef, 0.1);
        if ($r && @$r) {
            my $n = sysread($sock, my $buf, 65536);
            last if !$n && !($! == EAGAIN || $! == EWOULDBLOCK || $! == EINTR);
            $got .= $buf if $n;
        }
        next unless $w && @$w;
        my $n = syswrite($sock, $chunk);
        if (!defined $n) {
            last unless $! == EAGAIN || $! == EWOULDBLOCK || $! == EINTR;
            next;
        }
        ($sent, $last) = ($sent + $n, time);
    }
    # The answer may still be queued after a failed write: read it.
    $sock->blocking(1);
    $sock->timeout(2);
    while (IO::Select->new($sock)->can_read(2)) {
        my $n = sysread($sock, my $buf, 65536);
        last unless $n;
        $got .= $buf;
    }
    close $sock;
    return ($sent, $got);
}

sub raw {
    my ($request) = @_;
    return http_request(port => $cd->port, raw_request => $request, timeout => 5);
}

subtest 'GET /ops/flags answers while 256 slow clients hold connections' => sub {
    my $slow = Test::Levqor::SlowClients->new(port => $cd->port, count => 256, interval => 1);
    $slow->open_all;
    $slow->tick;
    for my $i (1 .. 5) {
        my $start = time;
        my $res = $cd->request('GET /ops/flags', token => 'admin', timeout => 5);
        my $took = time - $start;
        is($res->{status}, 200, "request $i: 200") or diag $res->{error};
        ok($took < 2, sprintf('request %d answered in %.3f s (bench: scripts/bench/controld_front.sh)', $i, $took));
        $slow->tick;
    }
    my ($code, $out) = $cd->ctl('flags', 'get');
    is($code, 0, 'levqorctl flags get: exit 0') or diag $out;
    $slow->tick;
    # Each admin connection makes room by closing the oldest slow one; the
    # rest were connected throughout.
    cmp_ok($slow->reopened, '<', 64, sprintf('slow clients held their connections (%d reopened)', $slow->reopened));
    $slow->close_all;
};

subtest 'a chunked body past http.max_body_bytes: 413, and controld stops reading' => sub {
    my $before = rss_kib($cd->proc->pid);
    my $auth = 'Authorization: Bearer ' . $cd->admin_token . "\r\n";
    my $chunk = sprintf("%x\r\n", 65536) . ('A' x 65536) . "\r\n";
    my ($sent, $got) = flood("PUT /ops/flags HTTP/1.1\r\nHost: localhost\r\n${auth}Transfer-Encoding: chunked\r\n\r\n",
                             $chunk, 512 * 1024 * 1024);
    like($got, qr{^HTTP/1\.1 413 }, 'answered 413') or diag substr($got, 0, 300);
    like($got, qr/"error":"payload_too_large"/, 'JSON error');
    cmp_ok($sent, '<', 64 * 1024 * 1024, sprintf('controld stopped reading after %.1f MiB', $sent / 1048576));
    my $grew = rss_kib($cd->proc->pid) - $before;
    cmp_ok($grew, '<', 32 * 1024, "controld's memory grew by $grew KiB");

    ($sent, $got) = flood("POST /jobs HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n",
                          $chunk, 64 * 1024 * 1024);
    like($got, qr{^HTTP/1\.1 401 }, 'without a token: 401 before the body is read') or diag substr($got, 0, 300);
};

subtest 'compressed bodies, endless lines and header floods are refused' => sub {
    my $auth = 'Authorization: Bearer ' . $cd->admin_token . "\r\n";
    my $res = raw("PUT /ops/flags HTTP/1.1\r\nHost: localhost\r\n${auth}Content-Encoding: gzip\r\n"
                  . "Content-Length: 4\r\nConnection: close\r\n\r\nabcd");
    is($res->{status}, 415, 'Content-Encoding: gzip: 415');
    is(json_of($res)->{error}, 'unsupported_media_type', 'JSON error');

    my $start = time;
    $res = raw('GET /' . ('a' x 100_000) . " HTTP/1.1\r\nHost: localhost\r\n\r\n");
    is($res->{status}, 414, '100 KB request line: 414');
    ok(time - $start < 2, 'at once');

    $res = raw("GET /healthz HTTP/1.1\r\nHost: localhost\r\n" . join('', map { "X-H$_: v\r\n" } 1 .. 1000) . "\r\n");
    is($res->{status}, 431, '1,000 headers: 431');
    is(json_of($res)->{error}, 'request_header_fields_too_large', 'JSON error');

    is($cd->request('GET /ops/flags', token => 'admin')->{status}, 200, 'controld serves on');
};

subtest 'Host allow-list (DNS rebinding)' => sub {
    my $res = $cd->request('GET /healthz', more_headers => "Host: rebound.example\n");
    is($res->{status}, 421, 'an unknown name: 421');
    is(json_of($res)->{error}, 'misdirected_request', 'JSON error');
    is($cd->request('GET /metrics', more_headers => "Host: rebound.example:8089\n")->{status}, 421, '/metrics too');
    is($cd->request('GET /healthz', more_headers => "Host: localhost:" . $cd->port . "\n")->{status}, 200, 'localhost');
    is($cd->request('GET /healthz', more_headers => "Host: 127.0.0.1\n")->{status}, 200, '127.0.0.1');
    is($cd->request('GET /healthz', more_headers => "Host: controld.test\n")->{status}, 200, 'http.allowed_hosts');
};

subtest '/healthz and /metrics: no URLs or error text without the admin token' => sub {
    my $public = $cd->request('GET /healthz');
    is(json_of($public)->{status}, 'degraded', 'degraded');
    is_deeply(json_of($public)->{checks}{nginx}, { edge => { status => 'down' } }, 'instance state only');
    is(json_of($public)->{checks}{postgres}, 'down', 'postgres state');
    unlike($public->{body}, qr/secret-status-path|$dead|errors|refused/, 'no URL, port or error text') or diag $public->{body};
    my $metrics = $cd->request('GET /metrics')->{body};
    unlike($metrics, qr/secret-status-path|pg-secret|levqor:/, '/metrics: no URLs');
    my $producer = $cd->request('GET /healthz', token => 'producer');
    unlike($producer->{body}, qr/secret-status-path|errors/, 'the producer token sees the summary');
    my $admin = json_of($cd->request('GET /healthz', token => 'admin'));
    like($admin->{checks}{nginx}{edge}{url}, qr/secret-status-path/, 'the admin token sees the URL');
    ok($admin->{checks}{nginx}{edge}{error}, 'and the error');
    ok($admin->{errors}{postgres}, 'and why postgres is down');
    unlike(JSON::PP->new->encode($admin), qr/pg-secret-pw/, 'never the password');
};

subtest 'concurrent /healthz callers share one check' => sub {
    my $count = sub {
        my ($n) = $cd->request('GET /metrics')->{body} =~ /^levqor_backend_errors_total\{backend="postgres"\} (\d+)$/m;
        return $n // 0;
    };
    my $before = $count->();
    my @socks = map {
        IO::Socket::INET->new(PeerAddr => '127.0.0.1:' . $cd->port) or die "connect: $!"
    } 1 .. 20;
    print {$_} "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n" for @socks;
    my $ok = grep { local $/; my $r = <$_>; defined $r && $r =~ m{^HTTP/1\.1 200 } } @socks;
    is($ok, 20, '20 answers');
    my $checks = $count->() - $before;
    cmp_ok($checks, '<=', 5, "20 concurrent callers, $checks postgres check(s)");
};

$cd->stop;
done_testing();
