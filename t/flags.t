# SPDX-License-Identifier: Apache-2.0
# Runtime flags (levqor_flags_file): off/shadow/on semantics for headers and
# rate limits, changes applied by every worker within a second without a
# reload; failing closed: missing and invalid files at start (every flag on),
# workers that start after the master read the file (they keep its flags),
# nginx -t for a file the worker user cannot read.
use strict;
use warnings;
use lib 't/lib';
use Test::Levqor;
use Time::HiRes qw(time sleep);
use File::Temp qw(tempdir);

master_on();
workers(2);

my $dir = tempdir(CLEANUP => 1);
$ENV{TEST_NGINX_FLAGS_DIR} = $dir;

sub write_flags {
    my ($file, %set) = @_;
    my %f = (SECURITY_HEADERS_ENABLED => 'on', RATELIMIT_ENABLED => 'on', WEBHOOK_VERIFY_ALL => 'on',
             ABUSE_GUARDS_ENABLED => 'off', NEW_QUEUE_ENABLED => 'off', %set);
    open(my $fh, '>', "$file.tmp") or die "$file.tmp: $!";
    print $fh "# test\n", map { "$_=$f{$_}\n" } sort keys %f;
    close($fh);
    rename("$file.tmp", $file) or die "rename: $!";
}

# Polls until every one of 20 requests (spread over both workers) satisfies $ok.
sub eventually {
    my ($ng, $req, $ok, $what) = @_;
    my $deadline = time + 2.0;
    while (1) {
        my $all = 1;
        for (1 .. 20) { $all &&= $ok->($ng->request($req, more_headers => "X-Api-Key: k")) }
        return pass("$what (applied within 2 s)") if $all;
        return fail("$what (not applied within 2 s)") if time > $deadline;
        sleep 0.05;
    }
}

# ---- a flag flip changes behaviour in every worker, without a reload ------
{
    my $flags = "$dir/live";
    write_flags($flags);
    my $ng = Test::Levqor::Nginx->new(master => 1, workers => 2,
        http_config => "levqor_flags_file $flags;\nlevqor_limit_zone api:1m;\nlevqor_plan p key=1r/m ip=1000r/m;",
        config => <<'CONF');
levqor_headers on;
levqor_headers_profile api;
location /t { empty_gif; }
location /l { levqor_limit zone=api key=$http_x_api_key plan=p; add_header X-Limit $levqor_limit_status always; empty_gif; }
CONF
    $ng->start;
    is($ng->request('GET /t')->{headers}{'x-frame-options'}, 'DENY', 'flags on: headers sent');
    my @pids = $ng->worker_pids;
    is(scalar(@pids), 2, 'two workers');
    is($ng->request('GET /l', more_headers => 'X-Api-Key: k')->{status}, 200, 'flags on: first request passes');
    is($ng->request('GET /l', more_headers => 'X-Api-Key: k')->{status}, 429, 'flags on: limit enforced');

    write_flags($flags, SECURITY_HEADERS_ENABLED => 'off');
    eventually($ng, 'GET /t', sub { !exists $_[0]{headers}{'x-frame-options'} }, 'SECURITY_HEADERS_ENABLED=off: no headers');

    write_flags($flags, SECURITY_HEADERS_ENABLED => 'shadow');
    eventually($ng, 'GET /t', sub {
        my $h = $_[0]{headers};
        exists $h->{'content-security-policy-report-only'} && !exists $h->{'content-security-policy'}
            && !exists $h->{'x-frame-options'};
    }, 'SECURITY_HEADERS_ENABLED=shadow: CSP report-only, nothing enforcing');

    write_flags($flags, RATELIMIT_ENABLED => 'shadow');
    eventually($ng, 'GET /l', sub { $_[0]{status} == 200 && $_[0]{headers}{'x-limit'} eq 'DRY_RUN_REJECTED' },
        'RATELIMIT_ENABLED=shadow: over-limit requests pass as a dry run');

    write_flags($flags, RATELIMIT_ENABLED => 'off');
    eventually($ng, 'GET /l', sub { $_[0]{status} == 200 && !exists $_[0]{headers}{'ratelimit'} },
        'RATELIMIT_ENABLED=off: no limiting, no RateLimit fields');

    write_flags($flags);
    eventually($ng, 'GET /l', sub { $_[0]{status} == 429 }, 'back on: enforced again, state kept');

    # An invalid file keeps the last flags.
    open(my $fh, '>', "$flags.tmp") or die; print $fh "RATELIMIT_ENABLED=sometimes\n"; close $fh;
    rename("$flags.tmp", $flags) or die;
    sleep 1.5;
    is($ng->request('GET /l', more_headers => 'X-Api-Key: k')->{status}, 429, 'invalid file: last flags kept');

    # The status page reports the flags and request durations.
    my $m = $ng->request('GET /metrics')->{body};
    is_deeply([$ng->worker_pids], \@pids, 'no worker was restarted');
    $ng->stop;
    like($ng->error_log, qr/levqor_flags_file: SECURITY_HEADERS_ENABLED=off, RATELIMIT_ENABLED=on/,
         'changes are logged');
    like($ng->error_log, qr/levqor_flags_file "[^"]+": invalid: line 1: RATELIMIT_ENABLED="sometimes": expected off, shadow or on; keeping the last flags read/,
         'the invalid file is logged');
    unlike($ng->error_log, qr/\[(alert|crit|emerg)\]/, 'no alerts');
}

# ---- WEBHOOK_VERIFY_ALL: off skips the check, shadow only logs -------------
{
    my $flags = "$dir/hooks";
    write_flags($flags);
    open(my $fh, '>', "$dir/gh.secret") or die; print $fh "s3cret\n"; close $fh;
    my $ng = Test::Levqor::Nginx->new(master => 1, workers => 2,
        http_config => "levqor_flags_file $flags;", config => <<"CONF");
location /hook {
    levqor_webhook github secret_file=$dir/gh.secret;
    add_header X-Webhook \$levqor_webhook_status always;
    proxy_pass http://127.0.0.1:\$server_port/ok;
}
location /ok { return 200 "ok"; }
CONF
    $ng->start;
    my $unsigned = "POST /hook\n{}";
    is($ng->request($unsigned)->{status}, 401, 'flag on: an unsigned delivery is refused');
    write_flags($flags, WEBHOOK_VERIFY_ALL => 'shadow');
    eventually($ng, $unsigned, sub { $_[0]{status} == 200 && $_[0]{headers}{'x-webhook'} eq 'LOG_ONLY_INVALID' },
        'WEBHOOK_VERIFY_ALL=shadow: verified and logged, not refused');
    write_flags($flags, WEBHOOK_VERIFY_ALL => 'off');
    eventually($ng, $unsigned, sub { $_[0]{status} == 200 && !exists $_[0]{headers}{'x-webhook'} },
        'WEBHOOK_VERIFY_ALL=off: not verified');
    $ng->stop;
}

# ---- fail closed: a missing or invalid file at start means every flag on (review H2)
{
    my $flags = "$dir/later";
    open(my $fh, '>', "$dir/gh.secret") or die; print $fh "s3cret\n"; close $fh;
    my $ng = Test::Levqor::Nginx->new(master => 1, workers => 2,
        http_config => "levqor_flags_file $flags;", config => <<"CONF");
levqor_headers on;
location /t { empty_gif; }
location /hook {
    levqor_webhook github secret_file=$dir/gh.secret;
    proxy_pass http://127.0.0.1:\$server_port/ok;
}
location /ok { return 200 "ok"; }
CONF
    $ng->start;
    is($ng->request('GET /t')->{headers}{'x-frame-options'}, 'DENY', 'missing file at start: headers as nginx.conf says');
    is($ng->request("POST /hook\n{}")->{status}, 401, 'missing file at start: unsigned deliveries refused');
    write_flags($flags, SECURITY_HEADERS_ENABLED => 'off');
    eventually($ng, 'GET /t', sub { !exists $_[0]{headers}{'x-frame-options'} }, 'file appears: applied');
    $ng->stop;
    my @master = ($ng->error_log =~ /\[warn\].*levqor_flags_file "[^"]*later": missing; until it can be read every feature runs as nginx.conf configures it \(every flag on\)/g);
    is(scalar(@master), 1, 'the master says so once, at warn');
    my @complaints = ($ng->error_log =~ /cannot stat/g);
    ok(@complaints >= 1 && @complaints <= 2, 'missing file logged once per worker, not every second');

    open($fh, '>', "$dir/invalid") or die; print $fh "WEBHOOK_VERIFY_ALL=off\n"; close $fh;
    $ng = Test::Levqor::Nginx->new(master => 1, workers => 2,
        http_config => "levqor_flags_file $dir/invalid;", config => "levqor_headers on;\nlocation /t { empty_gif; }");
    $ng->start;
    is($ng->request('GET /t')->{headers}{'x-frame-options'}, 'DENY', 'invalid file at start: every flag on');
    $ng->stop;
    like($ng->error_log, qr/levqor_flags_file "[^"]*invalid": invalid: SECURITY_HEADERS_ENABLED is missing; until it can be read every feature runs/,
         'and why is logged');
}

# ---- workers keep the flags the master read (review H2) ----------------------
# The master reads the file at configuration time; a worker that starts later
# (respawned after a crash, or after a reload) and cannot read the file runs
# with the master's flags, not with everything off.
{
    my $flags = "$dir/master";
    write_flags($flags, SECURITY_HEADERS_ENABLED => 'shadow');
    my $ng = Test::Levqor::Nginx->new(master => 1, workers => 2,
        http_config => "levqor_flags_file $flags;", config => "levqor_headers on;\nlocation /t { empty_gif; }");
    my $shadow = sub {
        my $h = $_[0]{headers};
        exists $h->{'content-security-policy-report-only'} && !exists $h->{'x-frame-options'};
    };
    my $all_shadow = sub { !grep { !$shadow->($ng->request('GET /t')) } 1 .. 20 };
    $ng->start;
    ok($all_shadow->(), 'started with the file: SECURITY_HEADERS_ENABLED=shadow');
    unlink $flags or die;
    my @old = $ng->worker_pids;
    kill 'KILL', @old;
    my $deadline = time + 5;
    sleep 0.05 until (grep { my $p = $_; !grep { $_ == $p } @old } $ng->worker_pids) == 2 || time > $deadline;
    ok($all_shadow->(), 'workers respawned without the file keep the master\'s flags');
    ok($ng->reload, 'reload with the file missing') or diag($ng->last_error);
    ok($all_shadow->(), 'the new workers keep the flags the master read before');
    $ng->stop;
    like($ng->error_log, qr/levqor_flags_file "[^"]*master": missing; keeping the flags read before \(SECURITY_HEADERS_ENABLED=shadow, /,
         'the reload says so');
}

# ---- the worker user must be able to read the file: nginx -t says so (review H2)
SKIP: {
    skip 'needs root (workers as nobody)', 7 unless $> == 0;
    chmod 0755, $dir or die;
    mkdir "$dir/closed", 0700 or die;    # like a checkout in /root
    write_flags("$dir/closed/flags");
    mkdir "$dir/open", 0755 or die;
    write_flags("$dir/open/flags");
    my $ng = Test::Levqor::Nginx->new(master => 1, workers => 1, main_config => 'user nobody nogroup;',
        http_config => "levqor_flags_file $dir/closed/flags;", config => "levqor_headers on;\nlocation /t { empty_gif; }");
    my ($ok, $out) = $ng->test_config;
    ok(!$ok, 'nginx -t fails for a file in a 0700 directory when workers run as nobody');
    like($out . $ng->error_log, qr/levqor_flags_file "\Q$dir\E\/closed\/flags" exists but the worker user "nobody" cannot read it: the directory "\Q$dir\E\/closed" \(mode 0700, owner 0:0\) is not searchable by it \(a checkout in root's home directory\?\); move the file where that user can read it, or chmod its directories and the file/,
         'naming the file, the user, the directory and what to do');

    chmod 0600, "$dir/open/flags" or die;
    $ng->configure(http_config => "levqor_flags_file $dir/open/flags;");
    ($ok, $out) = $ng->test_config;
    ok(!$ok, 'nginx -t fails for a 0600 file');
    like($out . $ng->error_log, qr/exists but the worker user "nobody" cannot read it: the file \(mode 0600, owner 0:0\) is not readable by it; move/,
         'the file itself is named');

    chmod 0644, "$dir/open/flags" or die;
    write_flags("$dir/open/flags", SECURITY_HEADERS_ENABLED => 'shadow');
    ($ok, $out) = $ng->test_config;
    ok($ok, 'nginx -t accepts a file the workers can read') or diag($out);
    $ng->start;
    ok(!exists $ng->request('GET /t')->{headers}{'x-frame-options'}, 'and workers running as nobody apply it');
    ok(!$ng->reload(http_config => "levqor_flags_file $dir/closed/flags;"),
       'a reload to an unreadable file is refused, the running configuration stays');
    $ng->stop;
}

run_tests();

__DATA__

=== TEST 1: no flags file: nginx.conf alone decides, no flag metrics
--- config
levqor_headers on;
location /t { empty_gif; }
location /metrics { levqor_status; }
--- request eval
["GET /t", "GET /metrics"]
--- response_headers eval
["X-Frame-Options: DENY", ""]
--- response_body_like eval
["", qr/\A(?!.*levqor_flag_state)/s]
--- no_error_log
[error]
levqor_flags_file

=== TEST 2: levqor_flags_file only at http level
--- config
levqor_flags_file /tmp/x;
--- must_die
"levqor_flags_file" directive is not allowed here

=== TEST 3: levqor_flags_file once
--- http_config
levqor_flags_file /tmp/x;
levqor_flags_file /tmp/y;
--- must_die
"levqor_flags_file" directive is duplicate
