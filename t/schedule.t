#!/usr/bin/perl
# SPDX-License-Identifier: Apache-2.0
# The scheduler end to end (issue 14): two real controld processes on one
# real redis-server run a schedule every 2 s (the test-only seconds field,
# LEVQOR_TEST_SCHEDULE_SECONDS=1): every slot both saw is enqueued by exactly
# one of them and skipped by the other, with the same job, which succeeded.
# GET /ops/schedules, POST /ops/schedules/{name}/run, levqorctl schedules;
# inline mode (NEW_QUEUE_ENABLED=off) on SQLite; a bad cron (or a seconds
# field without the test override) stops controld at start, naming the
# schedule and the field.
use strict;
use warnings;

use lib 't/lib';
use Test::Levqor;
use Test::Levqor::Controld qw(json_of promtool_check);
use Test::Levqor::Redis;
use Test::Levqor::Util qw(run_cmd wait_until);
use JSON::PP ();

my $JSON = JSON::PP->new->canonical;
my ($no_redis) = run_cmd('/bin/sh', '-c', 'command -v redis-server');
plan skip_all => 'redis-server is not installed' if $no_redis != 0;

my %schedules = (tick => { cron => '*/2 * * * * *', job => { type => 'noop', payload => { from => 'schedule' } } });

# "schedule run" log lines of a controld: slot key -> {outcome, job_id}.
sub runs_of {
    my ($cd) = @_;
    my %runs;
    for my $line (grep { defined && ($_->{msg} // '') eq 'schedule run' } $cd->log_lines) {
        next unless defined $line->{idempotency_key};
        $runs{ $line->{idempotency_key} } = { outcome => $line->{outcome}, job_id => $line->{job_id} };
    }
    return \%runs;
}

sub common_slots {
    my ($a, $b) = @_;
    my ($ra, $rb) = (runs_of($a), runs_of($b));
    return grep { exists $rb->{$_} } sort keys %$ra;
}

# The "invalid configuration" error of a controld that refused to start.
sub config_error {
    my ($out) = @_;
    for my $line (split /\n/, $out // '') {
        my $l = eval { $JSON->decode($line) } or next;
        return $l->{error} if ($l->{msg} // '') eq 'invalid configuration';
    }
    return $out;
}

sub metric {
    my ($cd, $pattern) = @_;
    my $text = $cd->request('GET /metrics')->{body} // '';
    return $text =~ /^\Q$pattern\E (\S+)$/m ? $1 : undef;
}

my $redis = Test::Levqor::Redis->new;
my %env = (NEW_QUEUE_ENABLED => 'on', REDIS_URL => 'redis://127.0.0.1:' . $redis->port,
           LEVQOR_TEST_SCHEDULE_SECONDS => '1');
my @cds = map {
    Test::Levqor::Controld->new(env => {%env}, config => { schedules => \%schedules }, builtin_schedules => 1)->start
} 1 .. 2;
my ($a, $b) = @cds;

subtest 'two controlds on one Redis: one job per slot' => sub {
    ok(wait_until(25, sub { common_slots($a, $b) >= 3 }, 0.1), 'both saw at least 3 slots')
        or diag $a->log_text, $b->log_text;
    my ($ra, $rb) = (runs_of($a), runs_of($b));
    my @slots = common_slots($a, $b);
    for my $slot (@slots) {
        like($slot, qr/^schedule:tick:\d{4}-\d\d-\d\dT\d\d:\d\d:\d[02468]Z$/, "$slot: the slot's key");
        my @outcomes = sort($ra->{$slot}{outcome}, $rb->{$slot}{outcome});
        is("@outcomes", 'enqueued skipped', "$slot: enqueued once, skipped by the other");
        is($ra->{$slot}{job_id}, $rb->{$slot}{job_id}, "$slot: one job");
        my $job;
        wait_until(10, sub {
            $job = json_of($a->request("GET /jobs/$ra->{$slot}{job_id}", token => 'producer'));
            ($job->{status} // '') eq 'succeeded';
        }, 0.05);
        is($job->{status}, 'succeeded', "$slot: the job succeeded");
    }
    my %jobs = map { $_->{job_id} => 1 } values %$ra, values %$rb;
    my %keys = map { $_ => 1 } keys %$ra, keys %$rb;
    is(scalar(keys %jobs), scalar(keys %keys), 'as many jobs as slots, over both instances');
    my $enqueued = (metric($a, 'levqor_schedule_runs_total{schedule="tick",outcome="enqueued"}') // 0)
                 + (metric($b, 'levqor_schedule_runs_total{schedule="tick",outcome="enqueued"}') // 0);
    cmp_ok($enqueued, '>=', scalar(@slots), 'the enqueued counters add up to at least the common slots');
    is(metric($a, 'levqor_schedule_period_seconds{schedule="tick"}'), '2', 'the period gauge');
    # metrics-daily-reset runs once the cost component registers its job
    # type; until then it is listed, not scheduled (and says so at start).
    my $unregistered = grep { defined && ($_->{schedule} // '') eq 'metrics-daily-reset'
                              && ($_->{msg} // '') =~ /not registered/ } $a->log_lines;
    is(metric($a, 'levqor_schedule_period_seconds{schedule="metrics-daily-reset"}'), $unregistered ? '0' : '86400',
       'the built-in metrics-daily-reset: daily once its job type is registered');
    ok(wait_until(10, sub { (metric($a, 'levqor_schedule_last_success_timestamp_seconds{schedule="tick"}') // 0) > 0 }, 0.1),
       'last success timestamp set');
    my ($ok, $out) = promtool_check($a->request('GET /metrics')->{body});
    ok($ok, 'promtool check metrics') or diag $out;
};

subtest 'GET /ops/schedules and POST /ops/schedules/{name}/run' => sub {
    my $res = $a->request('GET /ops/schedules', token => 'admin');
    is($res->{status}, 200, 'admin lists');
    my %by_name = map { $_->{name} => $_ } @{ json_of($res) || [] };
    ok($by_name{tick}, 'tick listed');
    is($by_name{tick}{cron}, '*/2 * * * * *', 'its cron');
    like($by_name{tick}{next_run_at} // '', qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, 'next_run_at');
    like($by_name{tick}{last_run_at} // '', qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, 'last_run_at');
    ok(defined $by_name{tick}{last_status}, 'last_status');
    is($by_name{'metrics-daily-reset'}{cron}, '5 0 * * *', 'the built-in is listed');
    is($a->request('GET /ops/schedules', token => 'producer')->{status}, 403, 'producer refused');
    is($a->request('GET /ops/schedules')->{status}, 401, 'no token refused');

    $res = $a->request('POST /ops/schedules/tick/run', token => 'admin', body => '');
    is($res->{status}, 202, 'run now: 202');
    my $id = (json_of($res) || {})->{job_id} // '';
    like($id, qr/^[0-9a-f]{32}$/, 'a job id');
    my $job;
    wait_until(10, sub { $job = json_of($a->request("GET /jobs/$id", token => 'producer')); ($job->{status} // '') eq 'succeeded' }, 0.05);
    is($job->{status}, 'succeeded', 'the manual run succeeded');
    $res = $a->request('POST /ops/schedules/nope/run', token => 'admin', body => '');
    is($res->{status}, 404, 'unknown schedule: 404');
    is((json_of($res) || {})->{error}, 'schedule_not_found', 'its error');
};

subtest 'levqorctl schedules' => sub {
    my ($code, $out) = $a->ctl('schedules');
    is($code, 0, 'exit 0') or diag $out;
    like($out, qr/^NAME\s+CRON\s+NEXT RUN\s+LAST RUN\s+LAST STATUS$/m, 'table header');
    like($out, qr/^tick\s+\*\/2 \* \* \* \* \*/m, 'tick row');
    like($out, qr/^metrics-daily-reset\s+5 0 \* \* \*/m, 'built-in row');
    ($code, $out) = $a->ctl('--json', 'schedules');
    is($code, 0, '--json exit 0');
    my $list = eval { $JSON->decode($out) } || [];
    ok((grep { $_->{name} eq 'tick' } @$list), '--json lists tick');
    ($code, $out) = $a->ctl('schedules', 'run', 'tick', '--wait');
    is($code, 0, 'schedules run --wait: exit 0') or diag $out;
    like($out, qr/^schedule tick: job [0-9a-f]{32} succeeded$/m, 'says it succeeded');
    ($code, $out) = $a->ctl('schedules', 'run', 'nope');
    is($code, 1, 'unknown schedule: exit 1');
    like($out, qr/404/, 'says 404');
};

$_->stop for @cds;

subtest 'NEW_QUEUE_ENABLED=off: the job runs inline, on the scheduler thread' => sub {
    my $cd = Test::Levqor::Controld->new(env => { NEW_QUEUE_ENABLED => 'off', LEVQOR_TEST_SCHEDULE_SECONDS => '1' },
                                         config => { schedules => \%schedules })->start;
    my $line = $cd->wait_log(sub { ($_[0]{msg} // '') eq 'schedule run' && ($_[0]{outcome} // '') eq 'enqueued' }, 10);
    ok($line, 'a slot ran') or diag $cd->log_text;
    my $job = json_of($cd->request("GET /jobs/$line->{job_id}", token => 'producer'));
    is($job->{status}, 'succeeded', 'inline: succeeded');

    # SIGHUP: a new schedule is listed and scheduled; a bad one keeps the previous schedules.
    $cd->set_config({ schedules => { %schedules, hourly => { cron => '@hourly', job => { type => 'noop' } } } });
    $cd->hup;
    my $listed = sub { my %n = map { $_->{name} => $_ } @{ json_of($cd->request('GET /ops/schedules', token => 'admin')) || [] }; \%n };
    ok(wait_until(10, sub { $listed->()->{hourly} }, 0.05), 'SIGHUP adds a schedule');
    like($listed->()->{hourly}{next_run_at} // '', qr/^\d{4}-\d\d-\d\dT\d\d:00:00Z$/, 'at its next slot');
    $cd->set_config({ schedules => { other => { cron => '@hourly', job => { type => 'nosuch' } } } });
    $cd->hup;
    ok($cd->wait_log(sub { ($_[0]{msg} // '') =~ /configuration reloaded except the schedules|cannot reload/ }, 10),
       'a bad job on SIGHUP is refused') or diag $cd->log_text;
    ok($listed->()->{hourly} && !$listed->()->{other}, 'the previous schedules stay');
    # This controld runs with the harness's LEVQOR_TEST_BUILTIN_SCHEDULES=off:
    # the built-ins are listed, disabled (no catch-up reset in a suite).
    ok(exists $listed->()->{'metrics-daily-reset'} && !defined $listed->()->{'metrics-daily-reset'}{cron},
       'LEVQOR_TEST_BUILTIN_SCHEDULES=off: the built-in daily reset is listed disabled');
    ok($cd->stop, 'stops on SIGTERM');
};

subtest 'a bad cron stops controld at start, naming the schedule and the field' => sub {
    my $cd = Test::Levqor::Controld->new(
        config => { schedules => { nightly => { cron => '0 25 * * *', job => { type => 'noop' } } } });
    my ($code, $out) = $cd->run_once;
    is($code, 2, 'exit 2');
    like(config_error($out), qr/"schedules\.nightly\.cron" = "0 25 \* \* \*" is invalid: field 2 \(hour\) "25": out of range 0-23/,
         'names the schedule, the field and the range');
    $cd = Test::Levqor::Controld->new(config => { schedules => \%schedules });
    ($code, $out) = $cd->run_once;
    is($code, 2, 'a seconds field without LEVQOR_TEST_SCHEDULE_SECONDS=1: exit 2');
    like(config_error($out), qr/"schedules\.tick\.cron".*for tests only/, 'says it is for tests only');
    $cd = Test::Levqor::Controld->new(
        config => { schedules => { n => { cron => '@daily', job => { type => 'nosuch' } } } });
    ($code, $out) = $cd->run_once;
    is($code, 2, 'an unknown job type: exit 2');
    like(config_error($out), qr/"schedules\.n\.job".*nosuch/, 'names the job');
};

done_testing;
