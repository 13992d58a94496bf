#!/usr/bin/perl
# SPDX-License-Identifier: Apache-2.0
# Abuse controls end to end through nginx (issue 15): conf/nginx/abuse.conf
# itself, with only its addresses and the token file's path replaced, in
# front of a real levqor-controld: auth_request to GET /abuse/device and GET
# /abuse/signup, the producer token from the included file, the 4th device
# change of a free account answered 403 as JSON with the reason, the 6th
# referral signup from one network denied, a missing header failing closed
# (auth_request turns controld's 400 into a 500), and ABUSE_GUARDS_ENABLED=off
# letting everything through.
use strict;
use warnings;

use lib 't/lib';
use Test::More;
use JSON::PP;
use Test::Levqor::Controld qw(json_of);
use Test::Levqor::HTTP qw(http_request);
use Test::Levqor::Nginx;
use Test::Levqor::Util qw(free_port repo_root slurp spew temp_dir);

my $dir    = temp_dir('abuse-nginx');
my $pepper = "$dir/pepper";
spew($pepper, ('cd' x 32) . "\n");
chmod 0600, $pepper or die "chmod: $!";

my $cd = Test::Levqor::Controld->new(env => { ABUSE_GUARDS_ENABLED => 'on' },
                                     config => { abuse => { pepper_file => $pepper } });
$cd->start;

# The producer token as the example includes it.
spew("$dir/producer-auth.conf", 'proxy_set_header Authorization "Bearer ' . $cd->producer_token . "\";\n");

my $app_port  = free_port();
my $edge_port = free_port();
my $example   = slurp(repo_root() . '/conf/nginx/abuse.conf');
my $conf      = $example;
my $n = 0;
$n += $conf =~ s/server 127\.0\.0\.1:8089;/'server 127.0.0.1:' . $cd->port . ';'/e;
$n += $conf =~ s/server 127\.0\.0\.1:8000;/server 127.0.0.1:$app_port;/;
$n += $conf =~ s/listen 443 ssl;/listen 127.0.0.1:$edge_port;/;
$n += $conf =~ s{/etc/levqor/producer-auth\.conf}{$dir/producer-auth.conf}g;
is($n, 6, 'the example has the addresses and the token file (twice, and in a comment) this test replaces') or diag $conf;

my $ng = Test::Levqor::Nginx->new(
    http_config => $conf . "\nserver { listen 127.0.0.1:$app_port; location / { return 200 'app\\n'; } }\n",
    config      => 'location / { return 204; }');
$ng->start;

sub edge {
    my ($path, %headers) = @_;
    my $h = join '', map { "$_: $headers{$_}\r\n" } sort keys %headers;
    return http_request(port => $edge_port,
                        raw_request => "GET $path HTTP/1.1\r\nHost: app.example.com\r\n${h}Connection: close\r\n\r\n");
}

subtest 'device changes: the 4th change of a free account is a 403 with the reason' => sub {
    my %who = ('X-Account-Id' => 'acct-42');
    # The first pair is not a change; then three changes pass (free: 3).
    for my $i (1 .. 4) {
        my $res = edge('/api/items', %who, 'X-Device-Fingerprint' => "device-$i");
        is($res->{status}, 200, "device $i: the application answers") or diag explain $res;
        is($res->{body}, "app\n", "device $i: its body");
    }
    my $res = edge('/api/items', %who, 'X-Device-Fingerprint' => 'device-5');
    is($res->{status}, 403, 'the 4th change: 403');
    is($res->{headers}{'x-levqor-abuse-reason'}, 'device_changes_exceeded', 'the reason header');
    my $body = eval { decode_json($res->{body}) } || {};
    is($body->{error}, 'abuse_denied', 'a JSON error');
    is($body->{reason}, 'device_changes_exceeded', 'with the reason');
    is(edge('/api/items', %who, 'X-Device-Fingerprint' => 'device-4')->{status}, 200,
       'the device in use keeps working');
    is(edge('/api/items', 'X-Account-Id' => 'acct-43', 'X-Device-Fingerprint' => 'device-5')->{status}, 200,
       'another account is not affected');
};

subtest 'a missing header fails closed: 500, the application is not reached' => sub {
    my $res = edge('/api/items', 'X-Account-Id' => 'acct-44');
    is($res->{status}, 500, 'no device fingerprint: 500 (controld answered 400)');
    unlike($res->{body} // '', qr/^app$/m, 'the application did not answer');
};

subtest 'referral signups: the 6th from one network in a day is denied' => sub {
    for my $i (1 .. 5) {
        is(edge('/signup', 'X-Signup-Email' => "user$i\@example.com", 'X-Referral-Code' => 'ref-1')->{status}, 200,
           "referral signup $i");
    }
    my $res = edge('/signup', 'X-Signup-Email' => 'user6@example.com', 'X-Referral-Code' => 'ref-1');
    is($res->{status}, 403, 'the 6th: 403');
    is($res->{headers}{'x-levqor-abuse-reason'}, 'referral_signups_exceeded', 'the reason');
    is(edge('/signup', 'X-Signup-Email' => 'user7@example.com', 'X-Referral-Code' => '')->{status}, 200,
       'a signup without a referrer is not limited');
};

subtest 'ABUSE_GUARDS_ENABLED=off lets everything through' => sub {
    my $res = $cd->request('PUT /ops/flags', token => 'admin', body => '{"ABUSE_GUARDS_ENABLED":"off"}');
    is($res->{status}, 200, 'flag set') or diag $res->{body};
    is(edge('/api/items', 'X-Account-Id' => 'acct-42', 'X-Device-Fingerprint' => 'device-9')->{status}, 200,
       'a denied account passes');
    is(edge('/signup', 'X-Signup-Email' => 'user8@example.com', 'X-Referral-Code' => 'ref-1')->{status}, 200,
       'a denied network passes');
};

unlike($ng->error_log, qr/\[(alert|crit|emerg)\]/, 'no alerts in nginx\'s error log');
$ng->stop;
ok($cd->stop, 'controld stops on SIGTERM');
done_testing();
