# SPDX-License-Identifier: Apache-2.0
# levqor_status, the module's Prometheus page, and the metrics that belong to
# no feature: request durations by status class and upstream 5xx, summed over
# both workers, and levqor_request_metrics that turns them off (inherited
# http -> server -> location); the page answers GET only, passes promtool,
# and is a server/location directive. Each feature's own metrics are tested in its
# suite (headers.t, ratelimit.t, webhooks.t, flags.t).
use strict;
use warnings;
use lib 't/lib';
use Test::Levqor;

master_on();
workers(2);

# ---- levqor_status output passes promtool ---------------------------------
SKIP: {
    skip 'promtool not installed', 2 unless -x '/usr/bin/promtool';
    my $ng = Test::Levqor::Nginx->new(config => <<'CONF');
levqor_headers on;
location /t { empty_gif; }
location /metrics { levqor_status; }
CONF
    $ng->start;
    $ng->request('GET /t') for 1 .. 3;
    my $res = $ng->request('GET /metrics');
    open(my $p, '|-', '/usr/bin/promtool check metrics >/dev/null 2>&1') or die "promtool: $!";
    print $p $res->{body};
    close($p);
    is($?, 0, 'promtool check metrics accepts levqor_status');
    # The status response is decorated too, but after its body was rendered.
    like($res->{body}, qr/^levqor_headers_responses_total\{profile="strict"\} 3$/m,
         'the three pages were counted');
    $ng->stop;
}

# ---- the build: levqor_build_info and the NOTICE at start ---------------------
{
    my $ng = Test::Levqor::Nginx->new(config => "location /metrics { levqor_status; }");
    $ng->start;
    my $body = $ng->request('GET /metrics')->{body} // '';
    my ($nginx) = `$ng->{binary} -v 2>&1` =~ m{nginx/(\S+)};
    like($body, qr/^# TYPE levqor_build_info gauge\nlevqor_build_info\{version="\d+\.\d+\.\d+",nginx="\Q$nginx\E",git="[^"]+"\} 1$/m,
         "levqor_build_info{version,nginx=\"$nginx\" (the nginx it runs in, built against),git} 1");
    my ($version, $git) = $body =~ /^levqor_build_info\{version="([^"]+)",nginx="[^"]+",git="([^"]+)"\}/m;
    like($ng->error_log, qr/\[notice\] .*levqor \Q$version\E \(git \Q$git\E, nginx \Q$nginx\E\) loaded/,
         'the module logs its build at NOTICE when it is loaded');
    $ng->stop;
}

run_tests();

__DATA__

=== TEST 1: request durations and connector 5xx in levqor_status
--- config
location /ok { empty_gif; }
location /bad { proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend; }
location /backend { return 503; }
location /metrics { levqor_status; }
--- request eval
["GET /ok", "GET /ok", "GET /bad", "GET /missing", "GET /metrics"]
--- error_code eval
[200, 200, 503, 404, 200]
--- response_body_like eval
["", "", "", "", qr/levqor_request_duration_seconds_count\{status_class="2xx"\} 2\n.*levqor_request_duration_seconds_bucket\{status_class="4xx",le="\+Inf"\} 1\n.*levqor_request_duration_seconds_count\{status_class="5xx"\} 2\n.*levqor_connector_5xx_total 1\n/s]
--- error_log
qr/open\(\) "[^"]*\/html\/missing" failed \(2: No such file or directory\)/
--- no_error_log
[warn]

=== TEST 2: levqor_status answers GET only
--- config
location /metrics { levqor_status; }
--- request
POST /metrics
x
--- error_code: 405
--- no_error_log
[error]

=== TEST 3: levqor_status takes no arguments and only in server/location
--- http_config
levqor_status;
--- must_die
"levqor_status" directive is not allowed here

=== TEST 4: levqor_request_metrics off in a server, on in one location: only that location is counted
--- config
levqor_request_metrics off;
location /off { empty_gif; }
location /on { levqor_request_metrics on; empty_gif; }
location /metrics { levqor_status; }
--- request eval
["GET /off", "GET /off", "GET /on", "GET /missing", "GET /metrics"]
--- error_code eval
[200, 200, 200, 404, 200]
--- response_body_like eval
["", "", "", "", qr/levqor_request_duration_seconds_count\{status_class="2xx"\} 1\n.*levqor_request_duration_seconds_count\{status_class="4xx"\} 0\n/s]
--- no_error_log
[warn]

=== TEST 5: levqor_request_metrics off at http{} level: no location counts (no log handler), the series stay
--- http_config
levqor_request_metrics off;
--- config
location /t { empty_gif; }
location /bad { proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend; }
location /backend { return 503; }
location /metrics { levqor_status; }
--- request eval
["GET /t", "GET /bad", "GET /metrics", "GET /metrics"]
--- error_code eval
[200, 503, 200, 200]
--- response_body_like eval
["", "", qr/levqor_request_duration_seconds_count\{status_class="2xx"\} 0\n.*levqor_request_duration_seconds_count\{status_class="5xx"\} 0\n.*levqor_connector_5xx_total 0\n/s, qr/levqor_request_duration_seconds_count\{status_class="2xx"\} 0\n/]
--- no_error_log
[warn]

=== TEST 6: levqor_request_metrics on (the default) in a location under an http{} off
--- http_config
levqor_request_metrics off;
--- config
location /t { levqor_request_metrics on; empty_gif; }
location /metrics { levqor_status; }
--- request eval
["GET /t", "GET /t", "GET /metrics"]
--- error_code eval
[200, 200, 200]
--- response_body_like eval
["", "", qr/levqor_request_duration_seconds_count\{status_class="2xx"\} 2\n/]
--- no_error_log
[warn]

=== TEST 7: levqor_request_metrics takes on or off, naming the value
--- config
location /t { levqor_request_metrics yes; empty_gif; }
--- must_die
"levqor_request_metrics" directive invalid value "yes", expected on or off

=== TEST 8: levqor_request_metrics twice at one level is refused
--- config
levqor_request_metrics on;
levqor_request_metrics off;
--- must_die
"levqor_request_metrics" directive is duplicate
