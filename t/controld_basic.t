#!/usr/bin/perl
# levqor-controld as a process: start-up, /healthz, JSON errors, bad
# configuration, port in use, clean stop on SIGTERM; levqorctl health.
#
# Plain Test::More and core modules only. Binaries come from $LEVQOR_BUILD
# (default <repo>/build), as `make t` sets it.
use strict;
use warnings;

use Test::More;
use File::Basename qw(dirname);
use File::Spec;
use File::Temp qw(tempdir);
use HTTP::Tiny;
use IO::Socket::INET;
use JSON::PP qw(decode_json);
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(time sleep);

my $repo  = File::Spec->rel2abs(File::Spec->catdir(dirname(__FILE__), '..'));
my $build = $ENV{LEVQOR_BUILD} || "$repo/build";
my $controld = "$build/levqor-controld";
my $ctl      = "$build/levqorctl";
my $tmp      = tempdir('levqor-controld-t-XXXXXX', TMPDIR => 1, CLEANUP => 1);

ok(-x $controld, "$controld is built") or BAIL_OUT("build levqor-controld first (make build)");

my @children;    # pids still to reap if a test dies half-way
END { kill 'KILL', @children if @children }

# A port that was free a moment ago.
sub free_port {
    my $sock = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1', LocalPort => 0,
                                     Proto => 'tcp', ReuseAddr => 1)
        or die "cannot find a free port: $!";
    my $port = $sock->sockport;
    close $sock;
    return $port;
}

# Starts @cmd with %$env added to the environment, stdout and stderr to $log.
sub spawn {
    my ($env, $log, @cmd) = @_;
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        @ENV{keys %$env} = values %$env;
        open STDOUT, '>', $log or die "$log: $!";
        open STDERR, '>&', \*STDOUT or die "dup: $!";
        exec @cmd or die "exec $cmd[0]: $!";
    }
    push @children, $pid;
    return $pid;
}

# Waits up to $timeout seconds for $pid; returns the wait status, or undef.
sub reap {
    my ($pid, $timeout) = @_;
    my $deadline = time + $timeout;
    while (time < $deadline) {
        if (waitpid($pid, WNOHANG) == $pid) {
            @children = grep { $_ != $pid } @children;
            return $?;
        }
        sleep 0.01;
    }
    return undef;
}

# Runs @cmd to completion (killing it after 5 s); returns (exit code, output).
my $runs = 0;
sub run_capture {
    my ($env, @cmd) = @_;
    my $log = "$tmp/run-" . ++$runs . '.log';
    my $pid = spawn($env, $log, @cmd);
    my $status = reap($pid, 5);
    if (!defined $status) {
        kill 'KILL', $pid;
        reap($pid, 5);
        return (-1, slurp($log) . "\n[killed: still running after 5 s]");
    }
    return (WIFEXITED($status) ? WEXITSTATUS($status) : -1, slurp($log));
}

sub slurp {
    my ($file) = @_;
    open my $fh, '<', $file or return '';
    local $/;
    return scalar <$fh>;
}

# The log lines of a file, decoded; lines that are not JSON objects are
# returned as undef.
sub log_lines {
    my ($file) = @_;
    return map { my $l = $_; eval { decode_json($l) } } split /\n/, slurp($file);
}

sub json_body {
    my ($res) = @_;
    return eval { decode_json($res->{content}) } || {};
}

# --- a running daemon -------------------------------------------------------

my $port = free_port();
my $addr = "127.0.0.1:$port";
my $log  = "$tmp/controld.log";
# Every controld here keeps its flags file and error log in the temp dir.
$ENV{LEVQOR_DATA_DIR} = "$tmp/data";
my $pid  = spawn({ LEVQOR_LISTEN => $addr }, $log, $controld);

# keep_alive: the open connection must not delay the SIGTERM stop below.
my $http = HTTP::Tiny->new(timeout => 2, keep_alive => 1);
my $base = "http://$addr";

my $up;
for (1 .. 100) {
    my $res = $http->get("$base/healthz");
    if ($res->{status} == 200) { $up = $res; last }
    die "levqor-controld exited early:\n" . slurp($log) if waitpid($pid, WNOHANG) == $pid;
    sleep 0.05;
}
ok($up, "controld answers /healthz on $addr") or BAIL_OUT("controld did not start:\n" . slurp($log));

subtest 'GET /healthz' => sub {
    is($up->{headers}{'content-type'}, 'application/json', 'Content-Type');
    my $body = json_body($up);
    is_deeply([sort keys %$body], [qw(checks status uptime_s version)],
              'status, version, uptime_s, checks');
    is($body->{status}, 'ok', 'status ok');
    is_deeply($body->{checks}, { nginx => {}, redis => 'not_configured', postgres => 'not_configured' },
              'no dependencies configured');
    like($body->{version}, qr/^\d+\.\d+\.\d+$/, 'version is x.y.z');
    like($body->{uptime_s}, qr/^\d+$/, 'uptime_s is a whole number');
};

subtest 'unknown route: 404 JSON' => sub {
    my $res = $http->get("$base/no/such/route");
    is($res->{status}, 404, 'status');
    is($res->{headers}{'content-type'}, 'application/json', 'Content-Type');
    is_deeply(json_body($res),
              { error => 'not_found', message => 'no route for GET /no/such/route' }, 'body');
};

subtest 'wrong method: 405 JSON with Allow' => sub {
    for my $method (qw(POST PUT DELETE)) {
        my $res = $http->request($method, "$base/healthz");
        is($res->{status}, 405, "$method status");
        is($res->{headers}{allow}, 'GET, HEAD, OPTIONS', "$method Allow");
        is($res->{headers}{'content-type'}, 'application/json', "$method Content-Type");
        my $body = json_body($res);
        is($body->{error}, 'method_not_allowed', "$method error code");
        like($body->{message}, qr/^\Q$method\E is not allowed on \/healthz/, "$method message");
    }
};

subtest 'levqorctl health' => sub {
    plan skip_all => "$ctl is not built" unless -x $ctl;
    my ($code, $out) = run_capture({}, $ctl, '--url', $base, 'health');
    is($code, 0, 'exit 0 when healthy') or diag $out;
    like($out, qr/"status":"ok"/, 'prints the JSON');

    ($code, $out) = run_capture({ LEVQOR_URL => $base }, $ctl, 'health');
    is($code, 0, 'LEVQOR_URL is the default --url') or diag $out;

    ($code, $out) = run_capture({}, $ctl, '--url', 'http://127.0.0.1:' . free_port(), 'health');
    is($code, 1, 'exit 1 when unreachable');
    like($out, qr/is levqor-controld running/, 'says why');

    ($code, $out) = run_capture({}, $ctl, '--help');
    is($code, 0, '--help exits 0');
    like($out, qr/health/, '--help lists health');
};

subtest 'port in use: exit 1' => sub {
    my ($code, $out) = run_capture({ LEVQOR_LISTEN => $addr, RATELIMIT_ENABLED => 'on' }, $controld);
    is($code, 1, 'exit code');
    like($out, qr/cannot listen on \Q$addr\E: Address already in use/, 'message') or diag $out;
    like(slurp("$tmp/data/flags"), qr/^RATELIMIT_ENABLED=off$/m, 'the running one\'s flags file is untouched');
};

subtest 'SIGTERM: exit 0 within 2 s' => sub {
    # A fresh request leaves an idle keep-alive connection open in $http.
    is($http->get("$base/healthz")->{status}, 200, 'a keep-alive request just before');
    my $start = time;
    kill 'TERM', $pid;
    my $status = reap($pid, 2);
    ok(defined $status, sprintf('exited in %.2f s', time - $start));
    ok(defined $status && WIFEXITED($status) && WEXITSTATUS($status) == 0, 'exit status 0')
        or diag 'wait status ' . ($status // 'none');
    my @log = log_lines($log);
    ok(@log && !(grep { !defined } @log), 'every log line is a JSON object') or diag slurp($log);
    @log = grep { defined } @log;
    ok((grep { $_->{msg} eq 'listening' && $_->{addr} eq $addr && $_->{level} eq 'info' } @log),
       'logged {"level":"info","msg":"listening","addr":...}');
    ok((grep { $_->{msg} eq 'shutting down' && $_->{signal} eq 'SIGTERM' } @log),
       'logged the signal');
    ok(!(grep { $_->{level} eq 'error' } @log), 'no error lines') or diag slurp($log);
};

subtest 'SIGINT: exit 0, port 0 picks a free port' => sub {
    my $log0 = "$tmp/controld-port0.log";
    my $pid0 = spawn({ LEVQOR_LISTEN => '127.0.0.1:0' }, $log0, $controld);
    my $bound;
    for (1 .. 100) {
        ($bound) = map { $_->{addr} } grep { defined && $_->{msg} eq 'listening' }
                   log_lines($log0);
        last if $bound;
        sleep 0.05;
    }
    like($bound // '', qr/^127\.0\.0\.1:(\d+)$/, 'logs the bound address');
    my ($got) = ($bound // '') =~ /:(\d+)$/;
    ok($got && $got != 0, 'a real port');
    is($http->get("http://$bound/healthz")->{status}, 200, 'serves on it') if $got;
    kill 'INT', $pid0;
    my $status = reap($pid0, 2);
    ok(defined $status && WIFEXITED($status) && WEXITSTATUS($status) == 0, 'exit 0 within 2 s');
};

# --- configuration errors ---------------------------------------------------

subtest 'bad LEVQOR_LISTEN: exit 2 naming variable and value' => sub {
    for my $bad ('nope', '127.0.0.1:99999', '127.0.0.1:', ':8089', '::1:8089', '') {
        my ($code, $out) = run_capture({ LEVQOR_LISTEN => $bad }, $controld);
        is($code, 2, "'$bad': exit 2");
        like($out, qr/LEVQOR_LISTEN=\\?"\Q$bad\E\\?"/, "'$bad': message names variable and value")
            or diag $out;
    }
};

subtest '--config' => sub {
    my ($code, $out) = run_capture({}, $controld, '--config', "$tmp/absent.conf");
    is($code, 2, 'absent file: exit 2');
    like($out, qr/absent\.conf.*does not exist/, 'absent file: message') or diag $out;

    ($code, $out) = run_capture({}, $controld, '--no-such-flag');
    is($code, 2, 'unknown flag: exit 2');

    ($code, $out) = run_capture({}, $controld, '--help');
    is($code, 0, '--help: exit 0');
    like($out, qr/--config/, '--help mentions --config');
};

done_testing();
