#!/usr/bin/perl
# SPDX-License-Identifier: Apache-2.0
# levqor-controld as a process: start-up, /healthz, JSON errors, bad
# configuration, port in use, clean stop on SIGTERM; levqorctl health.
use strict;
use warnings;

use lib 't/lib';
use Test::Levqor;
use Test::Levqor::Controld qw(json_of controld_binary ctl_binary);
use Test::Levqor::Process;
use Test::Levqor::Util qw(slurp run_cmd);
use Time::HiRes qw(time);

ok(-x controld_binary(), controld_binary() . ' is built') or BAIL_OUT('build levqor-controld first (make build)');

# --- a running daemon -------------------------------------------------------

my $cd   = Test::Levqor::Controld->new;
my $addr = '127.0.0.1:' . $cd->port;
my $base = $cd->url;
my $up   = eval { $cd->start; $cd->request('GET /healthz') };
ok($up && ($up->{status} // 0) == 200, "controld answers /healthz on $addr")
    or BAIL_OUT("controld did not start:\n" . ($@ || $cd->log_text));

subtest 'GET /healthz' => sub {
    is($up->{headers}{'content-type'}, 'application/json', 'Content-Type');
    my $body = json_of($up) || {};
    is_deeply([sort keys %$body], [qw(checks status uptime_s version)],
              'status, version, uptime_s, checks');
    is($body->{status}, 'ok', 'status ok');
    is_deeply($body->{checks}, { nginx => {}, redis => 'not_configured', postgres => 'not_configured',
                              abuse => { status => 'not_configured' } },
              'no dependencies configured');
    like($body->{version}, qr/^\d+\.\d+\.\d+$/, 'version is x.y.z');
    like($body->{uptime_s}, qr/^\d+$/, 'uptime_s is a whole number');
};

subtest 'unknown route: 404 JSON' => sub {
    my $res = $cd->request('GET /no/such/route');
    is($res->{status}, 404, 'status');
    is($res->{headers}{'content-type'}, 'application/json', 'Content-Type');
    is_deeply(json_of($res),
              { error => 'not_found', message => 'no route for GET /no/such/route' }, 'body');
};

subtest 'wrong method: 405 JSON with Allow' => sub {
    for my $method (qw(POST PUT DELETE)) {
        my $res = $cd->request("$method /healthz");
        is($res->{status}, 405, "$method status");
        is($res->{headers}{allow}, 'GET, HEAD, OPTIONS', "$method Allow");
        is($res->{headers}{'content-type'}, 'application/json', "$method Content-Type");
        my $body = json_of($res) || {};
        is($body->{error}, 'method_not_allowed', "$method error code");
        like($body->{message}, qr/^\Q$method\E is not allowed on \/healthz/, "$method message");
    }
};

subtest 'levqorctl health' => sub {
    plan skip_all => ctl_binary() . ' is not built' unless -x ctl_binary();
    my ($code, $out) = run_cmd(ctl_binary(), '--url', $base, 'health');
    is($code, 0, 'exit 0 when healthy') or diag $out;
    like($out, qr/"status":"ok"/, 'prints the JSON');

    {
        local $ENV{LEVQOR_URL} = $base;
        ($code, $out) = run_cmd(ctl_binary(), 'health');
    }
    is($code, 0, 'LEVQOR_URL is the default --url') or diag $out;

    ($code, $out) = run_cmd(ctl_binary(), '--url', 'http://127.0.0.1:' . free_port(), 'health');
    is($code, 1, 'exit 1 when unreachable');
    like($out, qr/is levqor-controld running/, 'says why');

    ($code, $out) = run_cmd(ctl_binary(), '--help');
    is($code, 0, '--help exits 0');
    like($out, qr/health/, '--help lists health');
};

subtest 'port in use: exit 1' => sub {
    my ($code, $out) = $cd->run_once(env => { RATELIMIT_ENABLED => 'on' });
    is($code, 1, 'exit code');
    like($out, qr/cannot listen on \Q$addr\E: Address already in use/, 'message') or diag $out;
    like(slurp($cd->flags_file) // '', qr/^RATELIMIT_ENABLED=off$/m, 'the running one\'s flags file is untouched');
};

subtest 'SIGTERM: exit 0 within 2 s' => sub {
    # An idle keep-alive connection stays open: it must not delay the stop.
    my $kept = http_request(port => $cd->port, request => 'GET /healthz', more_headers => "Connection: keep-alive\n",
                            keep_open => 1, timeout => 2);
    is($kept->{status}, 200, 'a keep-alive request just before');
    my $start = time;
    my $exited = $cd->stop(2);
    ok($exited, sprintf('exited in %.2f s', time - $start));
    ok($exited && $cd->proc->exit_status == 0, 'exit status 0') or diag 'controld ' . $cd->proc->exit_text;
    my @log = $cd->log_lines;
    ok(@log && !(grep { !defined } @log), 'every log line is a JSON object') or diag $cd->log_text;
    @log = grep { defined } @log;
    ok((grep { $_->{msg} eq 'listening' && $_->{addr} eq $addr && $_->{level} eq 'info' } @log),
       'logged {"level":"info","msg":"listening","addr":...}');
    ok((grep { $_->{msg} eq 'shutting down' && $_->{signal} eq 'SIGTERM' } @log),
       'logged the signal');
    ok(!(grep { $_->{level} eq 'error' } @log), 'no error lines') or diag $cd->log_text;
};

subtest 'SIGINT: exit 0, port 0 picks a free port' => sub {
    my $cd0 = Test::Levqor::Controld->new(env => { LEVQOR_LISTEN => '127.0.0.1:0' });
    # Not $cd0->start: that waits for /healthz on a port chosen in advance.
    my $proc = Test::Levqor::Process->spawn(name => 'levqor-controld', cmd => [$cd0->command],
                                            env => $cd0->environment, log => $cd0->log_file);
    my $listening = $cd0->wait_log(sub { $_[0]{msg} eq 'listening' }, 5);
    my $bound = $listening ? $listening->{addr} : undef;
    like($bound // '', qr/^127\.0\.0\.1:(\d+)$/, 'logs the bound address');
    my ($got) = ($bound // '') =~ /:(\d+)$/;
    ok($got && $got != 0, 'a real port');
    is(http_request(port => $got, request => 'GET /healthz', timeout => 2)->{status}, 200, 'serves on it') if $got;
    my $exited = $proc->stop(signal => 'INT', timeout => 2);
    ok($exited && $proc->exit_status == 0, 'exit 0 within 2 s') or diag 'controld ' . $proc->exit_text;
};

# --- configuration errors ---------------------------------------------------

subtest 'bad LEVQOR_LISTEN: exit 2 naming variable and value' => sub {
    for my $bad ('nope', '127.0.0.1:99999', '127.0.0.1:', ':8089', '::1:8089', '') {
        my ($code, $out) = $cd->run_once(env => { LEVQOR_LISTEN => $bad });
        is($code, 2, "'$bad': exit 2");
        like($out, qr/LEVQOR_LISTEN=\\?"\Q$bad\E\\?"/, "'$bad': message names variable and value")
            or diag $out;
    }
};

subtest '--config' => sub {
    my ($code, $out) = $cd->run_once(args => ['--config', $cd->dir . '/absent.conf']);
    is($code, 2, 'absent file: exit 2');
    like($out, qr/absent\.conf.*does not exist/, 'absent file: message') or diag $out;

    ($code, $out) = $cd->run_once(args => ['--no-such-flag']);
    is($code, 2, 'unknown flag: exit 2');

    ($code, $out) = $cd->run_once(args => ['--help']);
    is($code, 0, '--help: exit 0');
    like($out, qr/--config/, '--help mentions --config');
};

done_testing();
