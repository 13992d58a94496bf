#!/usr/bin/perl
# SPDX-License-Identifier: Apache-2.0
# Runtime flags end to end: controld writes the flags file, nginx (master + 2
# workers, levqor_flags_file) applies a change within 2 s in every worker
# without a reload; off/shadow/on for security headers and rate limits;
# levqorctl rollback turns everything off in one command.
#
# Needs the module side of issue 6 (levqor_flags_file, flag gating,
# levqor_flag_state): every subtest is skipped while `nginx -t` rejects
# levqor_flags_file, and runs once the module has it.
use strict;
use warnings;

use lib 't/lib';
use Test::Levqor;
use Test::Levqor::Controld qw(json_of);
use Test::Levqor::Util qw(temp_dir spew slurp wait_until);
use Time::HiRes qw(time sleep);

my $dir = temp_dir('flags');
my $flags_file = "$dir/flags";

# The probe: does this module accept levqor_flags_file?
spew($flags_file, join '', "# probe\n",
     map { "$_=off\n" } qw(SECURITY_HEADERS_ENABLED RATELIMIT_ENABLED WEBHOOK_VERIFY_ALL
                             ABUSE_GUARDS_ENABLED NEW_QUEUE_ENABLED));
my ($module_has_flags) = Test::Levqor::Nginx->new(http_config => "levqor_flags_file $flags_file;")->test_config;
my $SKIP = 'the module does not accept levqor_flags_file yet (lead\'s module work for issue 6)';

# nginx: master and 2 workers, every feature enabled in nginx.conf, so only
# the flags decide. Created first for its port; started after controld has
# written the flags file.
my $ng = Test::Levqor::Nginx->new(
    master => 1, workers => 2,
    http_config => "levqor_flags_file $flags_file;\n"
                 . "levqor_limit_zone api:1m;\n"
                 . "levqor_plan tiny key=2r/m ip=1000r/m;",
    config => <<'CONF',
levqor_headers on;
levqor_headers_profile strict;
location /t { levqor_limit zone=api key=$http_x_api_key plan=tiny; empty_gif; }
location = /levqor/status { levqor_headers off; levqor_status; }
CONF
);

my $cd = Test::Levqor::Controld->new(env => {
    LEVQOR_FLAGS_FILE        => $flags_file,
    LEVQOR_NGINX_STATUS_URLS => 'edge=http://127.0.0.1:' . $ng->port . '/levqor/status',
    SECURITY_HEADERS_ENABLED => 'off',
    RATELIMIT_ENABLED        => 'off',
});
$cd->start;
is(slurp($flags_file) =~ tr/\n//, 6, 'controld wrote the flags file (comment + five flags)');
$ng->start if $module_has_flags;

my $key = 0;
sub fresh_key { 'k' . $$ . '-' . ++$key }

# Six requests on new connections, so both workers answer some of them.
sub all_responses {
    my ($check, %args) = @_;
    for (1 .. 6) {
        return 0 unless $check->($ng->request('GET /t', more_headers => $args{headers} // ''));
    }
    return 1;
}

# Applies a flag change through levqorctl and waits (up to 2 s) until every
# response passes $check; returns the seconds it took, or undef.
sub flip_and_wait {
    my ($cmd, $check) = @_;
    my ($code, $out) = $cd->ctl(@$cmd);
    is($code, 0, "levqorctl @$cmd") or diag $out;
    my $start = time;
    my $ok = wait_until(2, sub { all_responses($check) }, 0.05);
    return $ok ? time - $start : undef;
}

sub has_header { my ($name) = @_; sub { defined $_[0]{headers}{lc $name} } }
sub lacks_header { my ($name) = @_; sub { ($_[0]{status} // 0) == 200 && !defined $_[0]{headers}{lc $name} } }

my ($master, @workers);

subtest 'flags off: nginx.conf enables headers and limits, the flags keep them off' => sub {
    plan skip_all => $SKIP unless $module_has_flags;
    $master = $ng->pid;
    @workers = sort $ng->worker_pids;
    is(scalar @workers, 2, 'two workers');
    ok(all_responses(lacks_header('Content-Security-Policy')), 'no security headers');
    my $k = fresh_key();
    my @codes = map { $ng->request('GET /t', more_headers => "X-Api-Key: $k\n")->{status} } 1 .. 4;
    is_deeply(\@codes, [200, 200, 200, 200], 'no rate limit (the plan allows 2 a minute)');
};

subtest 'SECURITY_HEADERS_ENABLED: on, then shadow (report-only CSP)' => sub {
    plan skip_all => $SKIP unless $module_has_flags;
    my $took = flip_and_wait([qw(flags set SECURITY_HEADERS_ENABLED on)], has_header('Content-Security-Policy'));
    ok(defined $took, sprintf('every worker sends CSP within 2 s (%.2f s)', $took // 2));
    ok(all_responses(has_header('X-Frame-Options')), 'and the rest of the strict profile');

    $took = flip_and_wait([qw(flags set SECURITY_HEADERS_ENABLED shadow)], sub {
        defined $_[0]{headers}{'content-security-policy-report-only'}
            && !defined $_[0]{headers}{'content-security-policy'} });
    ok(defined $took, sprintf('shadow: CSP report-only, not enforced, within 2 s (%.2f s)', $took // 2));
};

subtest 'RATELIMIT_ENABLED: on rejects, shadow is a dry run' => sub {
    plan skip_all => $SKIP unless $module_has_flags;
    my ($code, $out) = $cd->ctl(qw(flags set RATELIMIT_ENABLED on));
    is($code, 0, 'set on') or diag $out;
    my $limited = wait_until(2, sub {
        my $k = fresh_key();
        my @codes = map { $ng->request('GET /t', more_headers => "X-Api-Key: $k\n")->{status} } 1 .. 3;
        $codes[2] == 429;
    }, 0.05);
    ok($limited, 'on: the third request of a minute is rejected (429) within 2 s');

    ($code, $out) = $cd->ctl(qw(flags set RATELIMIT_ENABLED shadow));
    is($code, 0, 'set shadow') or diag $out;
    my $dry = wait_until(2, sub {
        my $k = fresh_key();
        my @codes = map { $ng->request('GET /t', more_headers => "X-Api-Key: $k\n")->{status} } 1 .. 3;
        !grep { $_ != 200 } @codes;
    }, 0.05);
    ok($dry, 'shadow: nothing rejected within 2 s');
    like($cd->request('GET /metrics')->{body},
         qr/^levqor_ratelimit_decisions_total\{instance="edge",zone="api",plan="tiny",result="dry_run_rejected"\} [1-9]\d*$/m,
         'shadow still counts what it would have rejected');
};

subtest 'levqor_flag_state follows the file' => sub {
    plan skip_all => $SKIP unless $module_has_flags;
    my $metrics = $cd->request('GET /metrics')->{body};
    like($metrics, qr/^levqor_flag_state\{instance="edge",flag="RATELIMIT_ENABLED",state="shadow"\} 1$/m, 'module: shadow');
    like($metrics, qr/^levqor_controld_flag_state\{flag="RATELIMIT_ENABLED",state="shadow"\} 1$/m, 'controld: shadow');
};

subtest 'levqorctl rollback: everything off within 2 s, one command, no reload' => sub {
    plan skip_all => $SKIP unless $module_has_flags;
    my $start = time;
    my ($code, $out) = $cd->ctl('rollback');
    is($code, 0, 'exit 0') or diag $out;
    my $off = wait_until(2, sub {
        return 0 unless all_responses(lacks_header('Content-Security-Policy'))
                     && all_responses(lacks_header('Content-Security-Policy-Report-Only'));
        my $k = fresh_key();
        my @codes = map { $ng->request('GET /t', more_headers => "X-Api-Key: $k\n")->{status} } 1 .. 3;
        !grep { $_ != 200 } @codes;
    }, 0.05);
    ok($off, sprintf('no headers, no limits after %.2f s', time - $start));
    is($ng->pid, $master, 'the same master');
    is_deeply([sort $ng->worker_pids], \@workers, 'the same workers: nginx was not reloaded');
    unlike($ng->error_log, qr/\[(alert|crit|emerg)\]/, 'no alerts in the error log');
};

subtest 'a missing flags file keeps the last flags' => sub {
    plan skip_all => $SKIP unless $module_has_flags;
    $cd->ctl(qw(flags set SECURITY_HEADERS_ENABLED on));
    ok(wait_until(2, sub { all_responses(has_header('Content-Security-Policy')) }, 0.05), 'on');
    unlink $flags_file;
    sleep 1.5;
    ok(all_responses(has_header('Content-Security-Policy')), 'still on after the file disappeared');
    my ($code) = $cd->ctl('rollback');    # writes the file again
    ok(wait_until(2, sub { all_responses(lacks_header('Content-Security-Policy')) }, 0.05), 'the rewritten file applies');
};

# Security review H2: a restart (crash, OOM, upgrade) used to rewrite the flags
# file from the configured values, switching webhook verification back off.
subtest 'runtime flags survive kill -9 and restarts; flags reset applies the configured ones' => sub {
    my ($code, $out) = $cd->ctl(qw(flags set WEBHOOK_VERIFY_ALL on));
    is($code, 0, 'WEBHOOK_VERIFY_ALL on at run time') or diag $out;
    my $flags = sub { json_of($cd->request('GET /ops/flags', token => 'admin')) // {} };
    my $warned = sub {
        my ($flag, $persisted, $configured) = @_;
        grep { defined && ($_->{level} // '') eq 'warn' && ($_->{flag} // '') eq $flag
                   && $_->{persisted} eq $persisted && $_->{configured} eq $configured } $cd->log_lines;
    };

    $cd->proc->stop(signal => 'KILL');
    like($cd->proc->exit_text, qr/killed by signal 9/, 'controld killed with SIGKILL');
    $cd->start;
    is($flags->()->{WEBHOOK_VERIFY_ALL}, 'on', 'after the restart GET /ops/flags still says on');
    like(slurp($flags_file), qr/^WEBHOOK_VERIFY_ALL=on$/m, 'and so does the flags file');
    ok($warned->('WEBHOOK_VERIFY_ALL', 'on', 'off'), 'the start logs the persisted and the configured value');
    if ($module_has_flags) {
        ok(wait_until(2, sub { $cd->request('GET /metrics')->{body}
                                  =~ /^levqor_flag_state\{instance="edge",flag="WEBHOOK_VERIFY_ALL",state="on"\} 1$/m }, 0.05),
           'nginx has it on');
    }

    ($code, $out) = $cd->ctl(qw(flags reset));
    is($code, 0, 'levqorctl flags reset') or diag $out;
    like($out, qr/^flags reset: the configured flags apply \(WEBHOOK_VERIFY_ALL on -> off\)$/m, 'says what changed');
    is($flags->()->{WEBHOOK_VERIFY_ALL}, 'off', 'the configured value');
    like(slurp($flags_file), qr/^WEBHOOK_VERIFY_ALL=off$/m, 'in the file too');

    # A restart with other configured values keeps the runtime ones and logs both.
    ok($cd->stop, 'stopped');
    $cd->{env}{RATELIMIT_ENABLED} = 'shadow';
    $cd->start;
    is($flags->()->{RATELIMIT_ENABLED}, 'off', 'RATELIMIT_ENABLED keeps its runtime value (off)');
    ok($warned->('RATELIMIT_ENABLED', 'off', 'shadow'), 'the difference is logged with both values');
    ok(!$warned->('WEBHOOK_VERIFY_ALL', 'off', 'off'), 'only the differing flag');
    ($code, $out) = $cd->ctl(qw(flags reset));
    is($flags->()->{RATELIMIT_ENABLED}, 'shadow', 'flags reset applies the new configured value');
};

$ng->stop if $module_has_flags;
$cd->stop;
done_testing();
