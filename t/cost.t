# SPDX-License-Identifier: Apache-2.0
# levqor_cost: AI spend per connector from an upstream's X-AI-Cost-USD header
# (a real upstream: a location of the same nginx behind proxy_pass), counted
# exactly in nano-dollars over master + 2 workers; invalid amounts counted and
# the request untouched; the 65th connector goes to "other"; counters kept
# across nginx -s reload; promtool accepts the families; nginx -t errors.
use strict;
use warnings;
use lib 't/lib';
use Test::Levqor;
use IO::Socket::INET;

master_on();
workers(2);

# Sends the paths as pipelined GETs on one keepalive connection, then GET
# /metrics; returns (list of statuses, the metrics body).
sub pipelined {
    my ($port, @paths) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port", Timeout => 30) or die "connect: $!";
    print $s join('', map { "GET $_ HTTP/1.1\r\nHost: localhost\r\n\r\n" } @paths)
        . "GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    local $/;
    my $all = <$s>;
    my @statuses = ($all =~ m{HTTP/1\.1 (\d{3}) }g);
    my $last = pop @statuses;
    die "metrics: $last" unless $last == 200;
    my ($metrics) = $all =~ /.*\r\n\r\n(.*)\z/s;
    return (\@statuses, $metrics);
}

sub cost_of {
    my ($metrics, $connector) = @_;
    my ($v) = $metrics =~ /^levqor_ai_cost_usd_total\{connector="\Q$connector\E"\} (\S+)$/m;
    return $v;
}

sub invalid_of {
    my ($metrics) = @_;
    my ($v) = $metrics =~ /^levqor_cost_invalid_total (\d+)$/m;
    return $v;
}

# The upstream answers with X-AI-Cost-USD: <usd argument> (no header when the
# argument is absent); /ai adds it under the connector given as ?c=.
my $config = <<'CONF';
keepalive_requests 100000;
location /ai {
    levqor_cost $upstream_http_x_ai_cost_usd connector=$arg_c;
    proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/upstream;
}
location /fixed {
    levqor_cost $upstream_http_x_ai_cost_usd connector=openai;
    proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/upstream;
}
location /upstream {
    add_header X-AI-Cost-USD $arg_usd;
    return 200 "ok\n";
}
location /metrics { levqor_status; }
CONF

my $ng = Test::Levqor::Nginx->new(master => 1, workers => 2, config => $config);
$ng->start;
my $port = $ng->port;

# ---- exact sums: 100 x 0.1 is 10 (a double sum would not be), 1000 x 1e-9 ----
{
    my ($st, $m) = pipelined($port, ('/fixed?usd=0.1') x 100, ('/ai?c=tiny&usd=0.000000001') x 1000);
    is(scalar(grep { $_ == 200 } @$st), 1100, '1100 requests answered 200');
    is(cost_of($m, 'openai'), '10', '100 x 0.1 USD is exactly 10');
    is(cost_of($m, 'tiny'), '0.000001', '1000 x 0.000000001 USD is exactly 0.000001');
    is(cost_of($m, 'other'), '0', 'nothing in other');
    is(invalid_of($m), 0, 'no invalid amounts');
}

# ---- invalid amounts: counted, ignored, the status unchanged; no header: nothing
{
    my @bad = ('-1', 'abc', '1e', '2000000', '1e7', 'inf', '0.5%20USD');
    my ($st, $m) = pipelined($port, (map { "/fixed?usd=$_" } @bad), '/fixed', '/fixed?usd=');
    is_deeply($st, [(200) x (@bad + 2)], 'every request with a bad or missing amount still answers 200');
    is(invalid_of($m), scalar @bad, 'each bad amount counted once in levqor_cost_invalid_total');
    is(cost_of($m, 'openai'), '10', 'bad and missing amounts add nothing');
    like($ng->error_log, qr/\[info\] .*levqor_cost: invalid amount "abc" ignored/, 'a bad amount is logged at info');
}

# ---- the grammar POST /usage shares: an exponent; a name outside [A-Za-z0-9_.:-] is "other"
{
    my ($st, $m) = pipelined($port, '/ai?c=tiny&usd=1e-6', '/ai?c=a%2Fb&usd=0.5');
    is_deeply($st, [200, 200], 'both answered 200');
    is(cost_of($m, 'tiny'), '0.000002', 'an amount with an exponent (1e-6) counts');
    is(cost_of($m, 'other'), '0.5', 'the connector "a%2Fb" (not a valid name) counts as other');
    ok($m !~ /connector="a%2Fb"/, 'and has no series of its own');
}

# ---- a reload that adds a literal connector: its series appears, the rest kept
{
    (my $more = $config) =~ s{location /metrics}{location /flat { levqor_cost 0.5 connector=flat; empty_gif; }\nlocation /metrics};
    ok($ng->reload(config => $more), 'reload adding a literal connector') or diag($ng->last_error);
    my ($st, $m) = pipelined($port);
    is(cost_of($m, 'flat'), '0', 'the new literal connector is exported from the start');
    is(cost_of($m, 'openai'), '10', 'the other counters are kept');
    ($st, $m) = pipelined($port, '/flat', '/flat');
    is(cost_of($m, 'flat'), '1', 'and it counts');
}

# ---- 64 named connectors, then "other" ---------------------------------------
{
    # 'openai', 'tiny' and 'flat' hold three slots already: 61 more fit.
    my @paths = map { "/ai?c=c$_&usd=0.25" } 1 .. 70;
    my ($st, $m) = pipelined($port, @paths, '/ai?c=late&usd=1', '/ai?c=other&usd=1', '/ai?usd=1');
    is(scalar(grep { $_ == 200 } @$st), 73, 'all answered 200');
    my @named = ($m =~ /^levqor_ai_cost_usd_total\{connector="(?!other")[^"]*"\} /mg);
    is(scalar @named, 64, 'exactly 64 named connectors');
    is(cost_of($m, 'c61'), '0.25', 'the 64th connector has its own series');
    ok(!defined cost_of($m, 'c62'), 'the 65th connector has none');
    is(cost_of($m, 'other'), '5.75', 'c62..c70 (9 x 0.25), a later name, "other" itself and an empty name went to other (with 0.5 before)');
}

# ---- reload keeps every counter ----------------------------------------------
{
    ok($ng->reload(config => $config), 'reload (back to the first configuration)') or diag($ng->last_error);
    my ($st, $m) = pipelined($port, '/fixed?usd=0.5');
    is(cost_of($m, 'openai'), '10.5', 'counters survived the reload and keep counting');
    is(invalid_of($m), 7, 'the invalid counter survived the reload');
    is(cost_of($m, 'c1'), '0.25', 'dynamic connectors keep their slots');
    is(cost_of($m, 'flat'), '1', 'a connector no longer configured keeps its series');


    SKIP: {
        skip 'promtool not installed', 1 unless -x '/usr/bin/promtool';
        open(my $p, '|-', '/usr/bin/promtool check metrics >/dev/null 2>&1') or die "promtool: $!";
        print $p $m;
        close($p);
        is($?, 0, 'promtool check metrics accepts levqor_status with the cost families');
    }
}
ok($ng->stop, 'nginx stops cleanly') or diag($ng->last_error);
unlike($ng->error_log, qr/\[(alert|crit|emerg)\]/, 'no alerts');

run_tests();

__DATA__

=== TEST 1: a literal amount and connector, counted once per main request
--- config
location /t { levqor_cost 0.002 connector=flat; empty_gif; }
location /metrics { levqor_status; }
--- request eval
["GET /t", "GET /t", "GET /t", "GET /metrics"]
--- error_code eval
[200, 200, 200, 200]
--- response_body_like eval
["", "", "", qr/^levqor_ai_cost_usd_total\{connector="flat"\} 0\.006\nlevqor_ai_cost_usd_total\{connector="other"\} 0\n.*^levqor_cost_invalid_total 0$/ms]
--- no_error_log
[error]

=== TEST 2: inherited from server level without connector= (default), off in a location
--- config
levqor_cost 1.5;
location /t { empty_gif; }
location /free { levqor_cost off; empty_gif; }
location /metrics { levqor_cost off; levqor_status; }
--- request eval
["GET /t", "GET /free", "GET /t", "GET /metrics"]
--- response_body_like eval
["", "", "", qr/^levqor_ai_cost_usd_total\{connector="default"\} 3$/m]
--- no_error_log
[error]

=== TEST 3: without levqor_cost, no cost families
--- config
location /metrics { levqor_status; }
--- request
GET /metrics
--- response_body_like eval
qr/\A(?!.*levqor_ai_cost_usd_total)(?!.*levqor_cost_invalid_total).*levqor_request_duration_seconds/s
--- no_error_log
[error]

=== TEST 4: a bad literal amount fails nginx -t
--- config
location /t { levqor_cost -0.5 connector=a; empty_gif; }
--- must_die
"levqor_cost" directive invalid amount "-0.5", expected a decimal USD amount from 0 to 1000000 (e.g. 0.0123), a variable or off

=== TEST 5: a bad literal connector fails nginx -t
--- config
location /t { levqor_cost $upstream_http_x_ai_cost_usd "connector=open ai"; empty_gif; }
--- must_die
"levqor_cost" directive invalid connector name "open ai", expected 1 to 64 characters of A-Z, a-z, 0-9, '_', '.', ':' or '-' or a variable

=== TEST 6: an unknown parameter fails nginx -t
--- config
location /t { levqor_cost $upstream_http_x_ai_cost_usd conector=a; empty_gif; }
--- must_die
"levqor_cost" directive invalid parameter "conector=a"

=== TEST 7: levqor_cost twice at one level
--- config
location /t { levqor_cost 1; levqor_cost 2; empty_gif; }
--- must_die
"levqor_cost" directive is duplicate

=== TEST 8: the documented setup: the upstream's header, the connector from a map
--- http_config
map $uri $levqor_connector {
    ~^/ai/openai/  openai;
    default        unknown;
}
--- config
location /ai/ {
    levqor_cost $upstream_http_x_ai_cost_usd connector=$levqor_connector;
    proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/upstream;
}
location /upstream {
    add_header X-AI-Cost-USD 0.0123;
    return 200 "ok\n";
}
location /metrics { levqor_status; }
--- request eval
["GET /ai/openai/chat", "GET /ai/openai/chat", "GET /ai/other/x", "GET /metrics"]
--- error_code eval
[200, 200, 200, 200]
--- response_body_like eval
["ok\n", "ok\n", "ok\n", qr/^levqor_ai_cost_usd_total\{connector="openai"\} 0\.0246\nlevqor_ai_cost_usd_total\{connector="unknown"\} 0\.0123\nlevqor_ai_cost_usd_total\{connector="other"\} 0\n/m]
--- no_error_log
[error]
