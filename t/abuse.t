#!/usr/bin/perl
# SPDX-License-Identifier: Apache-2.0
# Abuse controls through a real levqor-controld (issue 15): the four routes
# (POST JSON and GET headers), 400s naming the field, the modes off / shadow /
# on (ABUSE_GUARDS_ENABLED via PUT /ops/flags), the 4th device change denied
# on the free plan, referral signups per ASN (the MaxMind test database),
# 20 parallel requests over HTTP of which exactly `limit` pass, 503 without a
# pepper, levqor_abuse_decisions_total counted, promtool clean, SIGHUP with a
# broken pepper keeping the old one.
use strict;
use warnings;

use lib 't/lib';
use Test::More;
use JSON::PP;
use Test::Levqor::Controld qw(promtool_check json_of released_together);
use Test::Levqor::Util qw(repo_root spew temp_dir wait_until);

my $JSON = JSON::PP->new->canonical;
my $mmdb = repo_root() . '/controld/tests/data/GeoLite2-ASN-Test.mmdb';
-f $mmdb or plan skip_all => "no $mmdb";

my $dir = temp_dir('abuse');
my $pepper = "$dir/pepper";
spew($pepper, ('ab' x 32) . "\n");
chmod 0600, $pepper or die "chmod: $!";

my $cd = Test::Levqor::Controld->new(
    env    => { ABUSE_GUARDS_ENABLED => 'on' },
    config => { abuse => { pepper_file => $pepper, asn_mmdb => $mmdb,
                           email_deny_patterns => ['@mailinator\.com$'] } });
$cd->start;

sub post {
    my ($path, $body, %args) = @_;
    return $cd->request("POST $path", token => $args{token} // 'producer',
                        body => ref $body ? $JSON->encode($body) : $body);
}
sub get {
    my ($path, %headers) = @_;
    return $cd->request("GET $path", token => 'producer',
                        more_headers => join('', map { "$_: $headers{$_}\n" } sort keys %headers));
}
sub device {
    my ($account, $dev, $ip) = @_;
    return post('/abuse/device', { account => $account, plan => 'free', device => $dev,
                                   ip => $ip // '198.51.100.7' });
}
sub set_mode {
    my ($mode) = @_;
    my $res = $cd->request('PUT /ops/flags', token => 'admin',
                           body => $JSON->encode({ ABUSE_GUARDS_ENABLED => $mode }));
    is($res->{status}, 200, "mode $mode") or diag $res->{body};
}
sub metric {
    my ($check, $decision) = @_;
    my $text = $cd->request('GET /metrics')->{body} // '';
    return $text =~ /^levqor_abuse_decisions_total\{check="$check",decision="$decision"\} (\S+)$/m ? $1 : undef;
}

subtest 'device: the 4th change in 24 h is denied (POST and GET)' => sub {
    is(post('/abuse/device', { account => 'a', plan => 'free', device => 'd', ip => '1.2.3.4' },
            token => 'nope-0123456789abcdef')->{status}, 401, 'a token is required');
    for my $i (0 .. 3) {
        my $res = device('acct-1', "dev-$i");
        is($res->{status}, 200, "dev-$i: 200");
        is_deeply(json_of($res), { decision => 'allow', reason => 'ok', changes_24h => $i, limit => 3 },
                  "dev-$i: allowed, $i changes");
    }
    my $res = device('acct-1', 'dev-4');
    is_deeply(json_of($res), { decision => 'deny', reason => 'device_changes_exceeded', changes_24h => 3,
                               limit => 3 }, 'the 4th change: denied');
    my %h = ('X-Levqor-Account' => 'acct-1', 'X-Levqor-Plan' => 'free', 'X-Levqor-Device' => 'dev-5',
             'X-Real-IP' => '198.51.100.7');
    $res = get('/abuse/device', %h);
    is($res->{status}, 403, 'GET: 403');
    is($res->{headers}{'x-levqor-abuse-reason'}, 'device_changes_exceeded', 'GET: the reason header');
    $res = get('/abuse/device', %h, 'X-Levqor-Device' => 'dev-1');
    is($res->{status}, 204, 'GET: a device used in the window passes (204)');
    is($res->{headers}{'x-levqor-abuse-reason'}, 'ok', 'GET: reason ok');
    $res = post('/abuse/device', { account => 'acct-2', plan => 'pro', device => 'x', ip => '198.51.100.8' });
    is_deeply(json_of($res), { decision => 'allow', reason => 'ok', changes_24h => 0, limit => undef },
              'a plan without a limit: limit null');
};

subtest 'signup: referral signups per ASN per UTC day, deny-list' => sub {
    # 1.130.0.1 and 1.150.0.1: two /24s of AS1221 in the test database: one network.
    for my $i (1 .. 5) {
        my $res = post('/abuse/signup', { email => "u$i\@example.com", ip => $i % 2 ? '1.130.0.1' : '1.150.0.1',
                                          referrer => 'friend' });
        is_deeply(json_of($res), { decision => 'allow', reason => 'ok', signups_today => $i, limit => 5 },
                  "referral $i allowed");
    }
    my $res = get('/abuse/signup', 'X-Levqor-Email' => 'u6@example.com', 'X-Real-IP' => '1.140.9.9',
                  'X-Levqor-Referrer' => 'friend');
    is($res->{status}, 403, 'the 6th from AS1221 (a third prefix): 403');
    is($res->{headers}{'x-levqor-abuse-reason'}, 'referral_signups_exceeded', 'its reason');
    $res = get('/abuse/signup', 'X-Levqor-Email' => 'u7@example.com', 'X-Real-IP' => '1.140.9.9');
    is($res->{status}, 204, 'without a referrer: never limited');
    $res = post('/abuse/signup', { email => 'Bot@Mailinator.com', ip => '192.0.2.1' });
    is_deeply(json_of($res), { decision => 'deny', reason => 'email_denied', signups_today => 0, limit => 5 },
              'a denied email (after normalization)');
};

subtest 'bad input: 400 naming the field' => sub {
    my @cases = (
        ['/abuse/signup', '["x"]', 'body', 'a JSON array'],
        ['/abuse/signup', '"x"', 'body', 'a JSON string'],
        ['/abuse/signup', 'not json', 'body', 'not JSON'],
        ['/abuse/device', { account => 'a' x 1025, plan => 'free', device => 'd', ip => '1.2.3.4' }, 'account',
         'a 1025-byte account'],
        ['/abuse/device', { account => 'a', plan => 'free', device => 'd', ip => '1.2.3' }, 'ip', 'a non-IP'],
        ['/abuse/device', { account => 'a', plan => 'free', device => 'd' }, 'ip', 'ip missing'],
        ['/abuse/signup', { email => 'a@example.com', ip => '1.2.3.4', referer => 'x' }, 'referer',
         'an unknown member'],
        ['/abuse/signup', { email => 'no-at-sign', ip => '1.2.3.4' }, 'email', 'not an email'],
    );
    for my $c (@cases) {
        my ($path, $body, $field, $what) = @$c;
        my $res = post($path, $body);
        is($res->{status}, 400, "$what: 400");
        my $j = json_of($res) || {};
        is($j->{error}, 'invalid_request', "$what: invalid_request");
        is($j->{field}, $field, "$what: names $field") or diag $res->{body};
    }
    my $res = get('/abuse/device', 'X-Levqor-Account' => 'a', 'X-Levqor-Plan' => 'free', 'X-Real-IP' => '1.2.3.4');
    is($res->{status}, 400, 'GET without X-Levqor-Device: 400');
    is((json_of($res) || {})->{field}, 'X-Levqor-Device', 'names the header');
};

subtest 'modes: off records nothing, shadow records and allows' => sub {
    set_mode('off');
    is_deeply(json_of(device('acct-3', 'd-x')), { decision => 'allow', reason => 'guards_off', changes_24h => 0,
                                                  limit => 3 }, 'off: guards_off');
    set_mode('shadow');
    device('acct-3', "d-$_") for 0 .. 3;  # d-0 is the first pair: off recorded nothing
    my $before = metric('device', 'shadow_deny');
    my $res = device('acct-3', 'd-4');
    is_deeply(json_of($res), { decision => 'allow', reason => 'device_changes_exceeded', changes_24h => 3,
                               limit => 3 }, 'shadow: allowed with the reason on would give');
    is(metric('device', 'shadow_deny'), $before + 1, 'counted shadow_deny');
    set_mode('on');
    is(json_of(device('acct-3', 'd-4'))->{decision}, 'deny', 'on: shadow recorded what on would');
};

# 20 requests released together; how many were allowed (none may fail).
sub race {
    my ($make) = @_;
    my @codes = released_together(20, sub {
        my $res = $make->($_[0]);
        return 2 unless ($res->{status} // 0) == 200;
        return ((json_of($res) || {})->{decision} // '') eq 'allow' ? 0 : 1;
    });
    is(scalar(grep { $_ > 1 } @codes), 0, 'no request failed');
    return scalar grep { $_ == 0 } @codes;
}

subtest '20 parallel requests over HTTP: exactly limit pass' => sub {
    device('race-acct', 'first');  # the first pair is not a change
    is(race(sub { device('race-acct', "race-$_[0]") }), 3, 'device: exactly 3 of 20 new devices pass');
    is(race(sub { post('/abuse/signup', { email => "r$_[0]\@example.com", ip => '203.0.113.5',
                                          referrer => 'x' }) }), 5, 'signup: exactly 5 of 20 pass');
};

subtest 'metrics and /healthz' => sub {
    my $text = $cd->request('GET /metrics')->{body} // '';
    for my $check (qw(device signup)) {
        for my $decision (qw(allow deny shadow_deny)) {
            like($text, qr/^levqor_abuse_decisions_total\{check="$check",decision="$decision"\} \d+$/m,
                 "$check/$decision present");
        }
    }
    cmp_ok(metric('signup', 'deny'), '>=', 16, 'signup denies counted (1 + 15 + the deny-list)');
    my ($ok, $out) = promtool_check($text);
    ok($ok, 'promtool: no findings') or diag $out;
    my $h = json_of($cd->request('GET /healthz', token => 'admin'));
    is($h->{checks}{abuse}{status}, 'ok', '/healthz: configured');
    like($h->{checks}{abuse}{networks}, qr/ASN/, '/healthz (admin): the ASN database');
    $h = json_of($cd->request('GET /healthz'));
    ok(!exists $h->{checks}{abuse}{networks}, '/healthz without a token: no path');
    unlike($cd->log_text, qr/acct-1|dev-4|u6\@example|198\.51\.100\.7|1\.130\.0\.1/, 'no raw input in the log');
};

subtest 'the built-in abuse-purge schedule runs the abuse_purge job' => sub {
    my $res = $cd->request('GET /ops/schedules', token => 'admin');
    my %by_name = map { $_->{name} => $_ } @{ json_of($res) || [] };
    ok($by_name{'abuse-purge'}, 'listed');
    $res = $cd->request('POST /ops/schedules/abuse-purge/run', token => 'admin', body => '');
    is($res->{status}, 202, 'run now: 202') or diag $res->{body};
    my $id = (json_of($res) || {})->{job_id} // '';
    my $job;
    wait_until(10, sub { $job = json_of($cd->request("GET /jobs/$id", token => 'producer'));
                         ($job->{status} // '') =~ /^(succeeded|dead)$/ }, 0.05);
    is($job->{status}, 'succeeded', 'succeeded') or diag explain $job;
    is_deeply($job->{result}, { deleted => 0 }, 'nothing older than 30 days');
};

subtest 'SIGHUP with a broken pepper keeps the old input side' => sub {
    $cd->set_config({ abuse => { pepper_file => "$dir/missing", asn_mmdb => $mmdb } });
    $cd->hup;
    ok($cd->wait_log(sub { ($_[0]{msg} // '') =~ /cannot reload the abuse settings/ }), 'reported');
    is(device('acct-9', 'd')->{status}, 200, 'still answering');
};

$cd->stop;

subtest 'without a pepper: 503 abuse_unconfigured' => sub {
    my $bare = Test::Levqor::Controld->new(env => { ABUSE_GUARDS_ENABLED => 'on' });
    $bare->start;
    my $res = $bare->request('POST /abuse/device', token => 'producer',
                             body => '{"account":"a","plan":"free","device":"d","ip":"1.2.3.4"}');
    is($res->{status}, 503, 'POST: 503');
    is((json_of($res) || {})->{error}, 'abuse_unconfigured', 'abuse_unconfigured');
    $res = $bare->request('GET /abuse/signup', token => 'producer',
                          more_headers => "X-Levqor-Email: a\@example.com\nX-Real-IP: 1.2.3.4\n");
    is($res->{status}, 503, 'GET: 503 (auth_request denies)');
    is(json_of($bare->request('GET /healthz'))->{checks}{abuse}{status}, 'not_configured', '/healthz says so');
    $bare->stop;
};

done_testing;
