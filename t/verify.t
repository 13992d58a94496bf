#!/usr/bin/perl
# SPDX-License-Identifier: Apache-2.0
# levqorctl verify against a real deployment: controld (SQLite queue, one
# SQLite backup target, two nginx instances scraped) and two real nginx.
# nginx A reads controld's flags file and is named with its status URL
# (--nginx URL,status=URL); nginx B reads a flags file of its own (written
# here) and is found through controld's instances. Cases: usage errors (exit
# 2); a backup target without a verified backup fails; everything passes
# after a verified backup (table and --json); shadow passes with report-only
# headers; flag drift (B applies SECURITY_HEADERS_ENABLED=off, controld says
# on) fails naming the flag and the nginx; a location without levqor_headers
# fails "no Content-Security-Policy"; a job dead-lettered in the window fails
# the DLQ row (--dlq-window 0 skips it); an unreachable nginx and an
# unreachable controld fail with a clear message; a Redis queue backend that
# does not answer fails; promtool absent (skip) and
# promtool with findings (fail).
use strict;
use warnings;

use lib 't/lib';
use Test::Levqor;
use Test::Levqor::Controld qw(json_of);
use Test::Levqor::Nginx;
use Test::Levqor::Util qw(temp_dir spew slurp run_cmd wait_until free_port);
use JSON::PP ();

my $JSON = JSON::PP->new->canonical;
my $dir = temp_dir('verify');
my @FLAGS = qw(SECURITY_HEADERS_ENABLED RATELIMIT_ENABLED WEBHOOK_VERIFY_ALL ABUSE_GUARDS_ENABLED NEW_QUEUE_ENABLED);
my %CONTROLD_FLAGS = (SECURITY_HEADERS_ENABLED => 'on', RATELIMIT_ENABLED => 'off', WEBHOOK_VERIFY_ALL => 'off',
                      ABUSE_GUARDS_ENABLED => 'off', NEW_QUEUE_ENABLED => 'on');

sub flags_text { my (%f) = @_; join '', map { "$_=$f{$_}\n" } @FLAGS }

my $flags_a = "$dir/flags";      # controld's
my $flags_b = "$dir/flags-b";    # B's own
spew($flags_b, flags_text(%CONTROLD_FLAGS));

sub nginx_reading {
    my ($file) = @_;
    return Test::Levqor::Nginx->new(
        http_config => "levqor_flags_file $file;",
        config      => <<'CONF',
levqor_headers on;
levqor_headers_profile strict;
location / { empty_gif; }
location /plain { levqor_headers off; empty_gif; }
location = /levqor/status { levqor_headers off; levqor_status; }
CONF
    );
}
my $ng_a = nginx_reading($flags_a);
my $ng_b = nginx_reading($flags_b);
my $url_a = 'http://127.0.0.1:' . $ng_a->port . '/';
my $url_b = 'http://127.0.0.1:' . $ng_b->port . '/';
my $status_a = 'http://127.0.0.1:' . $ng_a->port . '/levqor/status';
my $status_b = 'http://127.0.0.1:' . $ng_b->port . '/levqor/status';

my $db = "$dir/app.db";
my ($code, $out) = run_cmd('sqlite3', $db, 'CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t (v) VALUES (1);');
is($code, 0, 'the SQLite backup target is created') or diag($out);

my $cd = Test::Levqor::Controld->new(
    env => {
        LEVQOR_FLAGS_FILE        => $flags_a,
        LEVQOR_NGINX_STATUS_URLS => "a=$status_a,b=$status_b",
        %CONTROLD_FLAGS,
    },
    config => {
        schedules => { 'backup:local' => { cron => undef } },
        queue  => { retry_delays_s => { exec => [] },    # dead after one attempt
                    exec => { fail => { path => '/bin/false', timeout_ms => 1000 } } },
        backup => { targets => [{ name => 'local', kind => 'sqlite', path => $db, schedule => '0 0 * * *' }] },
    },
);
$cd->start;
$ng_a->start;
$ng_b->start;

# levqorctl verify: (exit code, stdout, stderr).
sub verify {
    my (@args) = @_;
    my $err = "$dir/stderr";
    unlink $err;
    my ($code, $out) = run_cmd('/bin/sh', '-c', 'exec "$@" 2>"$0"', $err, Test::Levqor::Controld::ctl_binary(),
                               '--url', $cd->url, '--token-file', $cd->token_file('admin'), '--timeout', 3000,
                               'verify', @args);
    return ($code, $out, slurp($err) // '');
}
my @BOTH = ('--nginx', "$url_a,status=$status_a", '--nginx', $url_b);

# The table's row for a check and target: (result, detail).
sub row {
    my ($out, $check, $target) = @_;
    for my $line (split /\n/, $out) {
        return ($1, $2) if $line =~ /^\Q$check\E\s+\Q$target\E\s+(pass|FAIL|skip)\s+(.*)$/;
    }
    return ('', '');
}

sub applied_by {
    my ($ng, $flag, $state) = @_;
    return wait_until(5, sub {
        ($ng->request('GET /levqor/status')->{body} // '')
            =~ /^levqor_flag_state\{flag="\Q$flag\E",state="\Q$state\E"\} 1$/m;
    }, 0.05);
}
ok(applied_by($ng_a, 'SECURITY_HEADERS_ENABLED', 'on') && applied_by($ng_b, 'SECURITY_HEADERS_ENABLED', 'on'),
   'both nginx apply SECURITY_HEADERS_ENABLED=on');
# controld checked the instances before they started (its readiness probe);
# its next check, at most a second later, sees them up.
ok(wait_until(10, sub { ((json_of($cd->request('GET /healthz')) // {})->{status} // '') eq 'ok' }, 0.1),
   "controld's /healthz is ok");

subtest 'usage errors exit 2' => sub {
    my ($code, $out, $err) = verify();
    is($code, 2, 'no --nginx: 2');
    like($err, qr/--nginx is required/, 'says --nginx is required');
    ($code, $out, $err) = verify('--nginx', 'ftp://x/');
    is($code, 2, 'a bad URL: 2');
    like($err, qr/--nginx "ftp:\/\/x\/": invalid URL .*scheme must be http or https/, 'names the argument');
    ($code, $out, $err) = verify('--nginx', "$url_a,status=");
    is($code, 2, 'an empty status=: 2');
    ($code, $out) = run_cmd(Test::Levqor::Controld::ctl_binary(), '--url', $cd->url, 'verify', '--nginx', $url_a);
    is($code, 2, 'no token: 2');
    like($out, qr/needs the admin token/, 'says the token is needed');
};

subtest 'a configured backup target without a verified backup fails; the rest passes' => sub {
    my ($code, $out, $err) = verify(@BOTH);
    is($code, 1, 'exit 1') or diag($out, $err);
    my ($result, $detail) = row($out, 'backup', 'backup target local');
    is($result, 'FAIL', 'the backup row fails');
    like($detail, qr/no verified backup at all/, 'no verified backup');
    like($err, qr/^levqorctl verify: backup backup target local: no verified backup/m, 'named on stderr');
    like($err, qr/^levqorctl verify: 1 of \d+ checks failed$/m, 'the only failure');
};

{
    my $res = $cd->request('POST /ops/backups', token => 'admin', body => '{"target":"local"}');
    is($res->{status}, 202, 'a backup of local is started');
    my $job_id = (json_of($res) // {})->{job_id} // '';
    ok(wait_until(30, sub {
        ((json_of($cd->request("GET /jobs/$job_id", token => 'producer')) // {})->{status} // '') eq 'succeeded'
    }, 0.1), 'and verified');
}

subtest 'everything passes: exit 0, one row per check' => sub {
    my ($code, $out, $err) = verify(@BOTH);
    is($code, 0, 'exit 0') or diag($out, $err);
    is($err, '', 'nothing on stderr');
    my %want = (
        "health controld " . $cd->url => qr/^status ok/,
        'health nginx instance a'      => qr/^up/,
        'health nginx instance b'      => qr/^up/,
        "headers $url_a"               => qr/SECURITY_HEADERS_ENABLED is on \(applied by this nginx\): HTTP 200, Content-Security-Policy, X-Frame-Options, X-Content-Type-Options/,
        "headers $url_b"               => qr/SECURITY_HEADERS_ENABLED is on/,
        "flags $url_a"                 => qr/the five flags equal controld's \(from \Q$status_a\E\)/,
        "flags $url_b"                 => qr/the five flags equal controld's \(from controld's \/metrics, instance b\)/,
        'metrics ' . $cd->url . '/metrics' => qr/promtool check metrics: no findings/,
        'queue sqlite backend'         => qr/^ok: depth 0/,
        'dlq dead-letter queue'        => qr/no job dead-lettered in the last 600 s/,
        'backup backup target local'   => qr/verified, finished 0\.0 h ago/,
    );
    for my $key (sort keys %want) {
        my ($check, $target) = split / /, $key, 2;
        my ($result, $detail) = row($out, $check, $target);
        is($result, 'pass', "$key: pass") or diag($out);
        like($detail, $want{$key}, "$key: detail");
    }

    ($code, $out, $err) = verify(@BOTH, '--json');
    is($code, 0, '--json: exit 0');
    my $doc = eval { $JSON->decode($out) } // {};
    ok($doc->{ok}, '"ok": true');
    is($doc->{failed}, 0, '"failed": 0');
    ok(scalar(@{ $doc->{checks} // [] }) >= 11, 'the rows') ;
    is_deeply([sort keys %{ $doc->{checks}[0] // {} }], [qw(check detail result target)], 'row fields');
};

subtest 'shadow: report-only headers pass' => sub {
    my ($code, $out) = $cd->ctl(qw(flags set SECURITY_HEADERS_ENABLED shadow));
    is($code, 0, 'controld: shadow') or diag($out);
    spew($flags_b, flags_text(%CONTROLD_FLAGS, SECURITY_HEADERS_ENABLED => 'shadow'));
    ok(applied_by($ng_a, 'SECURITY_HEADERS_ENABLED', 'shadow') && applied_by($ng_b, 'SECURITY_HEADERS_ENABLED', 'shadow'),
       'both nginx apply it');
    my $err;
    ($code, $out, $err) = verify(@BOTH);
    is($code, 0, 'exit 0') or diag($out, $err);
    like((row($out, 'headers', $url_b))[1],
         qr/SECURITY_HEADERS_ENABLED is shadow \(applied by this nginx\): HTTP 200, Content-Security-Policy-Report-Only, Cross-Origin-Opener-Policy-Report-Only$/,
         'only the report-only headers');
    ($code, $out) = $cd->ctl(qw(flags set SECURITY_HEADERS_ENABLED on));
    is($code, 0, 'controld: on again') or diag($out);
    spew($flags_b, flags_text(%CONTROLD_FLAGS));
    ok(applied_by($ng_a, 'SECURITY_HEADERS_ENABLED', 'on') && applied_by($ng_b, 'SECURITY_HEADERS_ENABLED', 'on'),
       'both nginx apply on again');
};

subtest 'flag drift: B applies SECURITY_HEADERS_ENABLED=off, controld says on' => sub {
    spew($flags_b, flags_text(%CONTROLD_FLAGS, SECURITY_HEADERS_ENABLED => 'off'));
    ok(applied_by($ng_b, 'SECURITY_HEADERS_ENABLED', 'off'), 'B applies off');
    my ($code, $out, $err) = verify(@BOTH);
    is($code, 1, 'exit 1') or diag($out, $err);
    my ($result, $detail) = row($out, 'flags', $url_b);
    is($result, 'FAIL', "B's flags row fails");
    like($err, qr/^levqorctl verify: flags \Q$url_b\E: SECURITY_HEADERS_ENABLED is off in this nginx, on in controld/m,
         'names the flag and the nginx');
    is((row($out, 'flags', $url_a))[0], 'pass', "A's flags still pass");
    is((row($out, 'headers', $url_b))[0], 'pass', "B's headers match what it applies (off: none)");
    like($err, qr/^levqorctl verify: 1 of \d+ checks failed$/m, 'one failure');

    # Judged by controld's flags (B's status not reachable as named), the
    # missing CSP is the failure.
    ($code, $out, $err) = verify('--nginx', "$url_b,status=http://127.0.0.1:" . free_port() . '/levqor/status');
    is($code, 1, 'with an unreachable status URL: exit 1');
    like($err, qr/^levqorctl verify: headers \Q$url_b\E: SECURITY_HEADERS_ENABLED is on \(controld's flag\): no Content-Security-Policy; no X-Content-Type-Options$/m,
         "SECURITY_HEADERS_ENABLED is on: no Content-Security-Policy");
    spew($flags_b, flags_text(%CONTROLD_FLAGS));
    ok(applied_by($ng_b, 'SECURITY_HEADERS_ENABLED', 'on'), 'B applies on again');
};

subtest 'a location without security headers fails while the flag is on' => sub {
    my $plain = "http://127.0.0.1:" . $ng_a->port . '/plain';
    my ($code, $out, $err) = verify('--nginx', "$plain,status=$status_a");
    is($code, 1, 'exit 1');
    like($err, qr/^levqorctl verify: headers \Q$plain\E: SECURITY_HEADERS_ENABLED is on \(applied by this nginx\): no Content-Security-Policy; no X-Content-Type-Options$/m,
         'no Content-Security-Policy');
};

subtest 'a job dead-lettered within the window fails the DLQ row' => sub {
    my $res = $cd->request('POST /jobs', token => 'producer', body => '{"type":"exec","payload":{"command":"fail"}}');
    my $id = (json_of($res) // {})->{id} // '';
    ok(wait_until(30, sub {
        ((json_of($cd->request("GET /jobs/$id", token => 'producer')) // {})->{status} // '') eq 'dead'
    }, 0.1), 'a failing job is dead-lettered (no retries)') or diag($res->{body});
    my ($code, $out, $err) = verify(@BOTH);
    is($code, 1, 'exit 1') or diag($out, $err);
    like($err, qr/^levqorctl verify: dlq dead-letter queue: the DLQ grew: 1 job\(s\) dead-lettered in the last 600 s \(it holds 1\); newest: exec job [0-9a-f]{32}: .*exited with status 1/m,
         'the DLQ grew, with the newest job');
    ($code, $out, $err) = verify(@BOTH, '--dlq-window', 0);
    is($code, 0, '--dlq-window 0: exit 0') or diag($out, $err);
    is((row($out, 'dlq', 'dead-letter queue'))[0], 'skip', 'the row is skipped');
};

subtest 'unreachable nginx and controld' => sub {
    my $gone = 'http://127.0.0.1:' . free_port() . '/';
    my ($code, $out, $err) = verify('--dlq-window', 0, '--nginx', $gone);
    is($code, 1, 'an unreachable nginx: exit 1');
    like($err, qr/^levqorctl verify: headers \Q$gone\E: GET \Q$gone\E: .*(refused|connect)/mi, 'GET ...: connection refused');
    like($err, qr/^levqorctl verify: flags \Q$gone\E: no nginx instance of controld \(nginx_status_urls\) is at http:\/\/127\.0\.0\.1:\d+; controld has: a .*; name this nginx's levqor_status with --nginx URL,status=STATUS_URL$/m,
         'says how to name its status URL');

    my $nowhere = 'http://127.0.0.1:' . free_port();
    my $errfile = "$dir/stderr2";
    ($code, $out) = run_cmd('/bin/sh', '-c', 'exec "$@" 2>"$0"', $errfile, Test::Levqor::Controld::ctl_binary(),
                            '--url', $nowhere, '--token-file', $cd->token_file('admin'), 'verify', '--nginx', $url_a);
    is($code, 1, 'an unreachable controld: exit 1');
    like(slurp($errfile) // '', qr/^levqorctl verify: health controld: GET \Q$nowhere\E\/healthz: connection failed/m,
         'health names the failure');
};

subtest 'a queue backend that does not answer fails the queue and redis rows' => sub {
    my $gone = Test::Levqor::Controld->new(env => { REDIS_URL => 'redis://127.0.0.1:' . free_port(),
                                                    NEW_QUEUE_ENABLED => 'on' });
    $gone->start;
    my $errfile = "$dir/stderr3";
    my ($code, $out) = run_cmd('/bin/sh', '-c', 'exec "$@" 2>"$0"', $errfile, Test::Levqor::Controld::ctl_binary(),
                               '--url', $gone->url, '--token-file', $gone->token_file('admin'), 'verify',
                               '--nginx', "$url_a,status=$status_a");
    my $err = slurp($errfile) // '';
    is($code, 1, 'exit 1') or diag($out, $err);
    like($err, qr/^levqorctl verify: health redis: down/m, 'redis is down');
    like($err, qr/^levqorctl verify: queue redis backend: down: redis 127\.0\.0\.1:\d+: connect: Connection refused$/m,
         "the queue row says the backend is down and why");
    $gone->stop;
};

subtest 'promtool: absent is a skip, findings fail' => sub {
    my ($code, $out, $err) = verify(@BOTH, '--dlq-window', 0, '--promtool', "$dir/no-such-promtool");
    is($code, 0, 'absent: exit 0') or diag($out, $err);
    like((row($out, 'metrics', $cd->url . '/metrics'))[1], qr/^skipped: promtool not found at /, 'skipped: promtool not found');

    my $fake = "$dir/promtool";
    spew($fake, "#!/bin/sh\ncat >/dev/null; echo 'levqor_x counter metrics should have \"_total\" suffix'; exit 3\n");
    chmod 0755, $fake;
    ($code, $out, $err) = verify(@BOTH, '--dlq-window', 0, '--promtool', $fake);
    is($code, 1, 'findings: exit 1');
    like($err, qr/^levqorctl verify: metrics \S+\/metrics: promtool check metrics \(exit 3\): levqor_x counter metrics should have "_total" suffix$/m,
         'the finding is named');
};

done_testing();
