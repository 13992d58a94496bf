#!/usr/bin/perl
# SPDX-License-Identifier: Apache-2.0
# Error tracking with SENTRY_DSN: envelopes reach a local HTTP listener (the
# stand-in for Sentry) with the right endpoint, auth header and event, no
# tokens or DSN key inside, at most max_events_per_minute of them.
use strict;
use warnings;

use lib 't/lib';
use Test::Levqor;
use Test::Levqor::Controld qw(fake_http_server json_of);
use Test::Levqor::Util qw(temp_dir slurp wait_until);
use File::Path qw(remove_tree);
use JSON::PP ();

my $json = JSON::PP->new;
my $dir = temp_dir('sentry');
my $record = "$dir/received.jsonl";
my ($sentry, $sentry_port) = fake_http_server(record => $record, body => '{"id":"x"}');
my $dsn_key = 'publickey' . join '', map { sprintf '%02x', int rand 256 } 1 .. 8;
my $dead_port = free_port();

my $cd = Test::Levqor::Controld->new(
    config => { error_tracking => { max_events_per_minute => 4, environment => 'ci' },
                nginx_status_urls => [{ name => 'dead', url => "http://127.0.0.1:$dead_port/levqor/status" }] },
    env => { SENTRY_DSN => "http://$dsn_key\@127.0.0.1:$sentry_port/42",
             LEVQOR_FLAGS_FILE => "$dir/flagsdir/flags" },
);
$cd->start;

sub received {
    return map { $json->decode($_) } grep { /\S/ } split /\n/, slurp($record) // '';
}

# The event payload of an envelope: header, item header, event.
sub event_of {
    my ($body) = @_;
    my @lines = split /\n/, $body;
    return ($json->decode($lines[0]), $json->decode($lines[1]), $json->decode($lines[2]));
}

subtest 'an nginx instance that is down becomes one event' => sub {
    is($cd->request('GET /metrics')->{status}, 200, '/metrics still answers');
    ok(wait_until(5, sub { scalar received() >= 1 }), 'the listener got a request');
    my ($req) = received();
    is($req->{method}, 'POST', 'POST');
    is($req->{path}, '/api/42/envelope/', 'to /api/<project>/envelope/');
    is($req->{headers}{'content-type'}, 'application/x-sentry-envelope', 'envelope content type');
    like($req->{headers}{'x-sentry-auth'}, qr/^Sentry sentry_version=7, sentry_client=levqor-controld\/\S+, sentry_key=\Q$dsn_key\E$/,
         'X-Sentry-Auth carries the key');
    my ($header, $item, $event) = event_of($req->{body});
    is($item->{type}, 'event', 'an event item');
    is($item->{length}, length((split /\n/, $req->{body})[2]), 'its length');
    is($header->{event_id}, $event->{event_id}, 'the envelope names the event');
    like($event->{event_id}, qr/^[0-9a-f]{32}$/, 'event_id');
    is($event->{level}, 'error', 'level');
    is($event->{environment}, 'ci', 'environment from the config');
    is($event->{tags}{component}, 'metrics', 'component tag');
    is($event->{message}{formatted}, 'nginx instance is down', 'message');
    is($event->{extra}{instance}, 'dead', 'which instance');
    $cd->request('GET /metrics');
    $cd->request('GET /healthz');
    sleep 0.5;
    is(scalar received(), 1, 'still down: no second event');
};

subtest 'a flags file that cannot be written: 500 and an event' => sub {
    remove_tree("$dir/flagsdir");
    my $res = $cd->request('PUT /ops/flags', token => 'admin', body => '{"RATELIMIT_ENABLED":"on"}');
    is($res->{status}, 500, 'answered 500: the server could not write its file');
    is(json_of($res)->{error}, 'flags_file_error', 'error code');
    ok(wait_until(5, sub { grep { (event_of($_->{body}))[2]{tags}{component} eq 'flags' } received() }), 'an event');
};

subtest 'secrets never reach Sentry' => sub {
    # A config file broken right after a token and the DSN: the JSON parser's
    # message quotes what it read last.
    $cd->set_config('{"sentry_dsn": "http://' . $dsn_key . '@127.0.0.1:1/1", "x": ' . $cd->admin_token . ' ');
    $cd->hup;
    ok(wait_until(5, sub { grep { (event_of($_->{body}))[2]{tags}{component} eq 'config' } received() }),
       'the reload failure is an event');
    my @bodies = map { $_->{body} } received();
    for my $secret ($cd->admin_token, $cd->producer_token, $dsn_key) {
        ok(!(grep { index($_, $secret) >= 0 } @bodies), "no event contains " . substr($secret, 0, 9) . '...');
    }
    ok(!(grep { /authorization/i && /Bearer [^\[]/ } @bodies), 'no Authorization value');
    unlike($cd->log_text, qr/\Q${\ $cd->admin_token }\E/, 'nor does the log');
};

subtest 'rate limited: at most max_events_per_minute, the rest dropped and counted' => sub {
    # Four more failing reloads, one at a time (pending signals coalesce).
    for my $n (2 .. 5) {
        $cd->hup;
        ok(wait_until(5, sub { (() = $cd->log_text =~ /cannot reload the configuration/g) >= $n }),
           "reload failure $n");
    }
    ok(wait_until(5, sub { $cd->request('GET /metrics')->{body} =~ /dropped_rate_limit"\} [1-9]/ }), 'drops counted');
    is(scalar received(), 4, 'the listener got exactly 4 events');
    my $metrics = $cd->request('GET /metrics')->{body};
    like($metrics, qr/^levqor_error_reports_total\{sink="sentry",result="sent"\} 4$/m, 'sent: 4');
    like($metrics, qr/^levqor_errors_total\{component="config"\} 5$/m, 'every error is still counted');
};

$cd->stop;
$sentry->stop;
done_testing();
