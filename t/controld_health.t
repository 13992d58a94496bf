#!/usr/bin/perl
# SPDX-License-Identifier: Apache-2.0
# /healthz with real dependencies: a redis-server and a PostgreSQL on
# loopback ("ok"), then stopped ("down", "degraded", counted once per check,
# one error event each; error text only for the admin token); levqorctl
# health follows.
use strict;
use warnings;

use lib 't/lib';
use Test::Levqor;
use Test::Levqor::Controld qw(json_of);
use Test::Levqor::Util qw(temp_dir slurp run_cmd wait_until);
use IO::Socket::INET;

my ($have_redis) = run_cmd('/bin/sh', '-c', 'command -v redis-server');
my $pg_bin = (sort glob '/usr/lib/postgresql/*/bin')[-1];
my $have_pg = $pg_bin && -x "$pg_bin/initdb" && getpwnam('postgres');

my ($redis, $redis_port);
if ($have_redis == 0) {
    $redis_port = free_port();
    $redis = spawn_server(name => 'redis', cmd => ['redis-server', '--port', $redis_port, '--bind', '127.0.0.1',
                                                   '--save', '', '--appendonly', 'no', '--requirepass', 'redis-pass-123'],
                          ready => sub { IO::Socket::INET->new("127.0.0.1:$redis_port") });
}

my ($pg, $pg_port);
if ($have_pg) {
    my $dir = temp_dir('pg') . '/data';
    mkdir $dir or die "$dir: $!";
    my (undef, undef, $uid, $gid) = getpwnam('postgres');
    chown $uid, $gid, $dir;
    my ($code, $out) = run_cmd('runuser', '-u', 'postgres', '--', "$pg_bin/initdb", '-D', $dir, '-A', 'trust',
                               '-U', 'postgres', '--no-sync');
    die "initdb failed:\n$out" if $code;
    $pg_port = free_port();
    $pg = spawn_server(name => 'postgres',
                       cmd => ['runuser', '-u', 'postgres', '--', "$pg_bin/postgres", '-D', $dir, '-p', $pg_port,
                               '-k', $dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off'],
                       ready => sub { IO::Socket::INET->new("127.0.0.1:$pg_port") }, timeout => 20);
}

my $cd = Test::Levqor::Controld->new(env => {
    ($redis ? (REDIS_URL => "redis://:redis-pass-123\@127.0.0.1:$redis_port/0") : ()),
    ($pg ? (DATABASE_URL => "postgresql://postgres\@127.0.0.1:$pg_port/postgres") : ()),
});
$cd->start;

subtest 'dependencies up: ok' => sub {
    plan skip_all => 'neither redis-server nor PostgreSQL is installed' unless $redis || $pg;
    my $health = json_of($cd->request('GET /healthz'));
    is($health->{status}, 'ok', 'ok') or diag explain $health;
    is($health->{checks}{redis}, 'ok', 'redis: PING answered (with AUTH)') if $redis;
    is($health->{checks}{postgres}, 'ok', 'postgres: accepts connections') if $pg;
    my ($code, $out) = run_cmd(Test::Levqor::Controld::ctl_binary(), '--url', $cd->url, 'health');
    is($code, 0, 'levqorctl health: exit 0') or diag $out;
};

subtest 'dependencies down: degraded, counted, one event each' => sub {
    plan skip_all => 'neither redis-server nor PostgreSQL is installed' unless $redis || $pg;
    $redis->stop if $redis;
    $pg->stop(signal => 'INT') if $pg;    # fast shutdown
    my $public = json_of($cd->request('GET /healthz'));
    is($public->{status}, 'degraded', 'degraded');
    is($public->{checks}{redis}, 'down', 'without a token: states') if $redis;
    ok(!exists $public->{errors}, 'without a token: no error text') or diag explain $public;
    my $health = json_of($cd->request('GET /healthz', token => 'admin'));
    is($health->{status}, 'degraded', 'degraded');
    if ($redis) {
        is($health->{checks}{redis}, 'down', 'redis down');
        like($health->{errors}{redis}, qr/refused|connect/i, 'why');
        unlike(JSON::PP->new->encode($health), qr/redis-pass-123/, 'no password in the answer');
    }
    if ($pg) {
        is($health->{checks}{postgres}, 'down', 'postgres down');
        ok($health->{errors}{postgres}, 'why');
    }
    $cd->request('GET /healthz');    # still down: no second event
    my $metrics = $cd->request('GET /metrics')->{body};
    # Counted once per check, not per caller (checks are shared for 1 s;
    # controld/tests/health_test.cpp counts exactly).
    like($metrics, qr/^levqor_backend_errors_total\{backend="redis"\} [1-3]$/m, 'redis failures counted') if $redis;
    like($metrics, qr/^levqor_backend_errors_total\{backend="postgres"\} [1-3]$/m, 'postgres failures counted') if $pg;
    my @events = map { JSON::PP->new->decode($_) } grep { /\S/ } split /\n/, slurp($cd->data_dir . '/errors.jsonl') // '';
    is(scalar(grep { $_->{message}{formatted} eq 'redis is down' } @events), 1, 'one redis event') if $redis;
    is(scalar(grep { $_->{message}{formatted} eq 'postgres is down' } @events), 1, 'one postgres event') if $pg;
    unlike(slurp($cd->data_dir . '/errors.jsonl') // '', qr/redis-pass-123/, 'no password in the events');
    my ($code, $out) = run_cmd(Test::Levqor::Controld::ctl_binary(), '--url', $cd->url, 'health');
    is($code, 1, 'levqorctl health: exit 1');
    like($out, qr/status is "degraded"/, 'says why');
};

$cd->stop;
done_testing();
