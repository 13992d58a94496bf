# SPDX-License-Identifier: Apache-2.0
# Rate limiting in shared memory (master + 2 workers): plans, all-or-nothing,
# dry run, cost, header modes, the 429 response, plans from a map, a zone
# with more keys than it holds, reload keeping state, and config errors.
use strict;
use warnings;
use lib 't/lib';
use Test::Levqor;
use IO::Socket::INET;
use Time::HiRes qw(time sleep);

master_on();
workers(2);

# Sends $n pipelined GETs on one connection; returns the list of statuses.
sub pipelined_statuses {
    my ($port, $n, $headers) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port", Timeout => 10) or die "connect: $!";
    my $req = "GET /t HTTP/1.1\r\nHost: localhost\r\n$headers\r\n";
    print $s ($req x ($n - 1)) . "GET /t HTTP/1.1\r\nHost: localhost\r\n${headers}Connection: close\r\n\r\n";
    local $/;
    my $all = <$s>;
    return ($all =~ m{HTTP/1\.1 (\d{3}) }g);
}

my $plans = <<'CONF';
levqor_limit_zone api:1m;
levqor_plan tiny key=2r/s ip=100r/s key_burst=2;
levqor_plan bulk key=30r/m ip=1000r/m;
CONF

# ---- pro plan: exactly 120 from one IP (pipelined, so no token refills) ---
{
    my $ng = Test::Levqor::Nginx->new(master => 1, workers => 2, http_config => $plans, config => <<'CONF');
location /t { levqor_limit zone=api key=$http_x_api_key plan=pro; empty_gif; }
CONF
    $ng->start;
    my @st = pipelined_statuses($ng->port, 125, "X-Api-Key: pro-1\r\n");
    is(scalar(grep { $_ == 200 } @st), 120, 'pro: 120 requests pass from one IP');
    is_deeply([@st[120 .. 124]], [(429) x 5], 'pro: then 429');
    $ng->stop;
}

# ---- reload keeps the zone's state ------------------------------------------
{
    my $ng = Test::Levqor::Nginx->new(master => 1, workers => 2, http_config => $plans, config => <<'CONF');
location /t { levqor_limit zone=api key=$http_x_api_key plan=tiny; empty_gif; }
CONF
    $ng->start;
    my @before = map { $ng->request("GET /t", more_headers => "X-Api-Key: r1")->{status} } 1 .. 3;
    is_deeply(\@before, [200, 200, 429], 'bucket exhausted before reload');
    ok($ng->reload, 'reload with the same zone') or diag($ng->last_error);
    is($ng->request("GET /t", more_headers => "X-Api-Key: r1")->{status}, 429, 'still exhausted after reload');
    # A different zone size is a new zone: state starts empty.
    (my $bigger = $plans) =~ s/api:1m/api:2m/;
    ok($ng->reload(http_config => $bigger), 'reload with a resized zone') or diag($ng->last_error);
    is($ng->request("GET /t", more_headers => "X-Api-Key: r1")->{status}, 200, 'resized zone starts empty');
    $ng->stop;
    unlike($ng->error_log, qr/\[(alert|crit|emerg)\]/, 'no alerts across reloads');
}

# ---- a zone with far more keys than it holds: bounded, never an error -------
{
    my $ng = Test::Levqor::Nginx->new(master => 1, workers => 2, http_config => <<'HTTP', config => <<'CONF');
levqor_limit_zone small:32k;
levqor_plan slow key=1r/h ip=1r/h key_burst=10;
HTTP
keepalive_requests 10000;
location /t { levqor_limit zone=small key=$arg_k plan=slow ip=off; empty_gif; }
location /metrics { levqor_status; }
CONF
    $ng->start;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:" . $ng->port, Timeout => 10) or die;
    print $s join('', map { "GET /t?k=key$_ HTTP/1.1\r\nHost: localhost\r\n\r\n" } 1 .. 3000)
        . "GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    local $/;
    my $all = <$s>;
    my @st = ($all =~ m{HTTP/1\.1 (\d{3}) }g);
    is(scalar(grep { $_ == 200 } @st), 3001, '3000 distinct keys in a 32k zone: all pass');
    my ($keys) = $all =~ /^levqor_ratelimit_keys\{zone="small"\} (\d+)$/m;
    my ($cap) = $all =~ /^levqor_ratelimit_capacity\{zone="small"\} (\d+)$/m;
    my %evicted = $all =~ /^levqor_ratelimit_evictions_total\{zone="small",reason="(\w+)"\} (\d+)$/mg;
    ok($cap > 100 && $cap < 3000, "capacity is bounded by the zone size ($cap)");
    is($keys, $cap, 'the zone is full, not larger');
    is_deeply([sort keys %evicted], [qw(full indebted throttled)], 'evictions by reason: full, indebted, throttled');
    ok($evicted{indebted} >= 3000 - $cap, "the least indebted buckets were evicted ($evicted{indebted})");
    is($evicted{throttled}, 0, 'no throttled bucket was (each key has 9 of 10 tokens left)');
    $ng->stop;
    unlike($ng->error_log, qr/\[(warn|error|alert|crit|emerg)\]/, 'nothing logged');
}

# ---- refill after a wait ------------------------------------------------------
{
    my $ng = Test::Levqor::Nginx->new(master => 1, workers => 2, http_config => $plans, config => <<'CONF');
location /t { levqor_limit zone=api key=$http_x_api_key plan=tiny; empty_gif; }
CONF
    $ng->start;
    my @st = map { $ng->request("GET /t", more_headers => "X-Api-Key: w1")->{status} } 1 .. 3;
    is_deeply(\@st, [200, 200, 429], 'tiny: burst of 2');
    sleep 0.6;  # 2r/s: one token back after 0.5 s
    is($ng->request("GET /t", more_headers => "X-Api-Key: w1")->{status}, 200, 'one token refilled');
    is($ng->request("GET /t", more_headers => "X-Api-Key: w1")->{status}, 429, 'and only one');
    $ng->stop;
}

run_tests();

__DATA__

=== TEST 1: free plan, one key from one IP: 30 pass (the IP limit), then 429
--- http_config
levqor_limit_zone api:1m;
--- config
location /t { levqor_limit zone=api key=$http_x_api_key plan=free; empty_gif; }
--- more_headers
X-Api-Key: k1
--- request eval
[("GET /t") x 32]
--- error_code eval
[(200) x 30, 429, 429]
--- error_log
levqor_limit: ip limit of plan "free" exceeded in zone "api", retry after 2s
--- no_error_log
[warn]

=== TEST 2: free key limit with varied client IPs (realip): 60 pass, then 429
--- http_config
levqor_limit_zone api:1m;
--- config
set_real_ip_from 127.0.0.1;
real_ip_header X-Real-IP;
location /t { levqor_limit zone=api key=$http_x_api_key plan=free; empty_gif; }
--- more_headers eval
[map { "X-Api-Key: shared\nX-Real-IP: 10.0.0.$_" } 1 .. 62]
--- request eval
[("GET /t") x 62]
--- error_code eval
[(200) x 60, 429, 429]
--- error_log
levqor_limit: key limit of plan "free" exceeded in zone "api"

=== TEST 3: no key: the IP limit alone applies
--- http_config
levqor_limit_zone api:1m;
--- config
location /t { levqor_limit zone=api key=$http_x_api_key plan=free; empty_gif; }
--- request eval
[("GET /t") x 31]
--- error_code eval
[(200) x 30, 429]
--- response_headers eval
[("RateLimit-Policy: \"free-ip\";q=30;w=60") x 31]
--- error_log
levqor_limit: ip limit of plan "free" exceeded in zone "api"
--- no_error_log
key limit
anonymous limit
[warn]

=== TEST 4: 429 body, Retry-After and RateLimit fields are exact
--- http_config
levqor_limit_zone api:1m;
levqor_plan p key=10r/m ip=1r/m;
--- config
location /t { levqor_limit zone=api key=$http_x_api_key plan=p; empty_gif; }
--- more_headers
X-Api-Key: k1
--- request eval
["GET /t", "GET /t"]
--- error_code eval
[200, 429]
--- response_headers eval
["RateLimit-Policy: \"p-key\";q=10;w=60, \"p-ip\";q=1;w=60\nRateLimit: \"p-key\";r=9;t=6, \"p-ip\";r=0;t=60",
 "Content-Type: application/json\nRetry-After: 60\nRateLimit: \"p-key\";r=9;t=6, \"p-ip\";r=0;t=60"]
--- response_body_like eval
["^GIF89a", '^\{"error":"rate_limited","retry_after":60\}$']
--- error_log
levqor_limit: ip limit of plan "p" exceeded in zone "api", retry after 60s
--- no_error_log
key limit
anonymous limit
[warn]

=== TEST 5: all-or-nothing: a request the IP limit rejects does not charge its key
--- http_config
levqor_limit_zone api:1m;
levqor_plan p key=3r/m ip=2r/m;
--- config
location /t { levqor_limit zone=api key=$http_x_api_key plan=p; empty_gif; }
--- more_headers eval
["X-Api-Key: other1", "X-Api-Key: other2", "X-Api-Key: mine", "X-Api-Key: mine"]
--- request eval
[("GET /t") x 4]
--- error_code eval
[200, 200, 429, 429]
--- response_headers eval
["", "", "RateLimit: \"p-key\";r=3;t=0, \"p-ip\";r=0;t=60", "RateLimit: \"p-key\";r=3;t=0, \"p-ip\";r=0;t=60"]
--- error_log
levqor_limit: ip limit of plan "p" exceeded in zone "api"
--- no_error_log
key limit
anonymous limit
[warn]

=== TEST 6: dry_run counts and logs but never rejects
--- http_config
levqor_limit_zone api:1m;
levqor_plan p key=2r/m ip=100r/m;
--- config
location /t {
    levqor_limit zone=api key=$http_x_api_key plan=p dry_run;
    add_header X-Limit $levqor_limit_status always;
    add_header X-Remaining $levqor_limit_remaining always;
    empty_gif;
}
location /metrics { levqor_status; }
--- more_headers
X-Api-Key: d1
--- request eval
["GET /t", "GET /t", "GET /t", "GET /metrics"]
--- error_code eval
[200, 200, 200, 200]
--- response_headers eval
["X-Limit: PASSED\nX-Remaining: 1", "X-Limit: PASSED\nX-Remaining: 0", "X-Limit: DRY_RUN_REJECTED\nX-Remaining: 0", ""]
--- response_body_like eval
["", "", "", "levqor_ratelimit_decisions_total\\{zone=\"api\",plan=\"p\",result=\"dry_run_rejected\"\\} 1\\n"]
--- error_log
levqor_limit: dry run, key limit of plan "p" exceeded in zone "api"

=== TEST 7: cost charges several tokens
--- http_config
levqor_limit_zone api:1m;
levqor_plan p key=25r/m ip=100r/m;
--- config
location /t { levqor_limit zone=api key=$http_x_api_key plan=p cost=10; empty_gif; }
--- more_headers
X-Api-Key: c1
--- request eval
[("GET /t") x 3]
--- error_code eval
[200, 200, 429]
--- response_headers eval
["RateLimit: \"p-key\";r=15;t=24, \"p-ip\";r=90;t=6", "RateLimit: \"p-key\";r=5;t=48, \"p-ip\";r=80;t=12", "Retry-After: 12"]
--- error_log
levqor_limit: key limit of plan "p" exceeded in zone "api", retry after 12s
--- no_error_log
ip limit
[warn]

=== TEST 8: levqor_limit_headers legacy
--- http_config
levqor_limit_zone api:1m;
--- config
levqor_limit_headers legacy;
location /t { levqor_limit zone=api key=$http_x_api_key plan=free; empty_gif; }
--- more_headers
X-Api-Key: l1
--- request
GET /t
--- response_headers
X-RateLimit-Limit: 30
X-RateLimit-Remaining: 29
X-RateLimit-Reset: 2
! RateLimit
! RateLimit-Policy
--- no_error_log
[error]

=== TEST 9: levqor_limit_headers both
--- http_config
levqor_limit_zone api:1m;
--- config
location /t { levqor_limit_headers both; levqor_limit zone=api key=$http_x_api_key plan=pro; empty_gif; }
--- more_headers
X-Api-Key: b1
--- request
GET /t
--- response_headers
RateLimit-Policy: "pro-key";q=600;w=60, "pro-ip";q=120;w=60
RateLimit: "pro-key";r=599;t=1, "pro-ip";r=119;t=1
X-RateLimit-Limit: 120
X-RateLimit-Remaining: 119
--- no_error_log
[error]

=== TEST 10: levqor_limit_headers off: limits apply, no fields
--- http_config
levqor_limit_zone api:1m;
levqor_plan p key=1r/m ip=100r/m;
--- config
levqor_limit_headers off;
location /t { levqor_limit zone=api key=$http_x_api_key plan=p; empty_gif; }
--- more_headers
X-Api-Key: o1
--- request eval
["GET /t", "GET /t"]
--- error_code eval
[200, 429]
--- response_headers eval
["! RateLimit\n! RateLimit-Policy\n! X-RateLimit-Limit", "! RateLimit\nRetry-After: 60"]
--- error_log
levqor_limit: key limit of plan "p" exceeded in zone "api", retry after 60s
--- no_error_log
ip limit
[warn]

=== TEST 11: levqor_limit_status changes the rejection status
--- http_config
levqor_limit_zone api:1m;
levqor_plan p key=1r/m ip=100r/m;
--- config
levqor_limit_status 503;
location /t { levqor_limit zone=api key=$http_x_api_key plan=p; empty_gif; }
--- more_headers
X-Api-Key: s1
--- request eval
["GET /t", "GET /t"]
--- error_code eval
[200, 503]
--- response_body_like eval
["^GIF89a", '^\{"error":"rate_limited","retry_after":60\}$']
--- error_log
levqor_limit: key limit of plan "p" exceeded in zone "api", retry after 60s
--- no_error_log
ip limit
[warn]

=== TEST 12: plan from a map over the API key; unknown names fall back to free, logged once
--- http_config
levqor_limit_zone api:1m;
map $http_x_api_key $plan { default free; m1 pro; m3 gold; m4 gold; }
--- config
location /t { levqor_limit zone=api key=$http_x_api_key plan=$plan; empty_gif; }
--- more_headers eval
["X-Api-Key: m1", "X-Api-Key: m2\nX-Plan: pro", "X-Api-Key: m3", "X-Api-Key: m4"]
--- request eval
[("GET /t") x 4]
--- response_headers eval
["RateLimit-Policy: \"pro-key\";q=600;w=60, \"pro-ip\";q=120;w=60",
 "RateLimit-Policy: \"free-key\";q=60;w=60, \"free-ip\";q=30;w=60",
 "RateLimit-Policy: \"free-key\";q=60;w=60, \"free-ip\";q=30;w=60",
 "RateLimit-Policy: \"free-key\";q=60;w=60, \"free-ip\";q=30;w=60"]
--- error_log
levqor_limit: unknown plan "gold" in zone "api", using "free" (logged once per name)

=== TEST 13: the plan map can be redefined: free with custom rates
--- http_config
levqor_limit_zone api:1m;
levqor_plan free key=5r/m ip=3r/m;
--- config
location /t { levqor_limit zone=api key=$http_x_api_key plan=free; empty_gif; }
--- request eval
[("GET /t") x 4]
--- error_code eval
[200, 200, 200, 429]
--- error_log
levqor_limit: ip limit of plan "free" exceeded in zone "api"
--- no_error_log
key limit
anonymous limit
[warn]

=== TEST 14: ip= overrides the client address; ip=off limits by key alone
--- http_config
levqor_limit_zone api:1m;
levqor_plan p key=100r/m ip=2r/m;
--- config
location /t { levqor_limit zone=api key=$http_x_api_key plan=p ip=$http_x_client; empty_gif; }
location /k { levqor_limit zone=api key=$http_x_api_key plan=p ip=off; empty_gif; }
--- more_headers eval
["X-Client: a", "X-Client: a", "X-Client: a", "X-Client: b", "X-Api-Key: z", "X-Api-Key: z", "X-Api-Key: z"]
--- request eval
["GET /t", "GET /t", "GET /t", "GET /t", "GET /k", "GET /k", "GET /k"]
--- error_code eval
[200, 200, 429, 200, 200, 200, 200]
--- error_log
levqor_limit: ip limit of plan "p" exceeded in zone "api"
--- no_error_log
key limit
anonymous limit
[warn]

=== TEST 16: the decision is made once per request across internal redirects
--- http_config
levqor_limit_zone api:1m;
levqor_plan p key=2r/m ip=100r/m;
--- config
location /t {
    levqor_limit zone=api key=$http_x_api_key plan=p;
    error_page 404 = /fallback;
    return 404;
}
location /fallback { levqor_limit zone=api key=$http_x_api_key plan=p; empty_gif; }
--- more_headers
X-Api-Key: i1
--- request eval
["GET /t", "GET /t", "GET /t"]
--- error_code eval
[200, 200, 429]
--- error_log
levqor_limit: key limit of plan "p" exceeded in zone "api"
--- no_error_log
ip limit
[warn]

=== TEST 17: a location's levqor_limit list replaces the inherited one
--- http_config
levqor_limit_zone api:1m;
levqor_plan strict key=1r/m ip=100r/m;
--- config
levqor_limit zone=api key=$http_x_api_key plan=strict;
location /inherits { empty_gif; }
location /own { levqor_limit zone=api key=$http_x_api_key plan=pro; empty_gif; }
--- more_headers
X-Api-Key: h1
--- request eval
["GET /inherits", "GET /inherits", "GET /own", "GET /own"]
--- error_code eval
[200, 429, 200, 200]
--- error_log
levqor_limit: key limit of plan "strict" exceeded in zone "api"
--- no_error_log
ip limit
limit of plan "pro"
[warn]

=== TEST 18: security headers decorate the 429 too
--- http_config
levqor_limit_zone api:1m;
levqor_plan p key=1r/m ip=100r/m;
--- config
levqor_headers on;
levqor_headers_profile api;
location /t { levqor_limit zone=api key=$http_x_api_key plan=p; empty_gif; }
--- more_headers
X-Api-Key: sh1
--- request eval
["GET /t", "GET /t"]
--- error_code eval
[200, 429]
--- response_headers eval
["X-Frame-Options: DENY", "X-Frame-Options: DENY\nContent-Type: application/json"]
--- error_log
levqor_limit: key limit of plan "p" exceeded in zone "api"
--- no_error_log
ip limit
[warn]

=== TEST 19: very long keys are hashed, never an error
--- http_config
levqor_limit_zone api:1m;
--- config
large_client_header_buffers 4 64k;
location /t { levqor_limit zone=api key=$http_x_api_key plan=free; empty_gif; }
--- more_headers eval
"X-Api-Key: " . ("x" x 40000)
--- request
GET /t
--- error_code: 200
--- no_error_log
[error]

=== TEST 20: decisions by result in levqor_status, and promtool-clean names
--- http_config
levqor_limit_zone api:1m;
levqor_plan p key=1r/m ip=100r/m;
--- config
location /t { levqor_limit zone=api key=$http_x_api_key plan=p; empty_gif; }
location /metrics { levqor_status; }
--- more_headers
X-Api-Key: q1
--- request eval
["GET /t", "GET /t", "GET /metrics"]
--- response_body_like eval
["", "", qr/levqor_ratelimit_decisions_total\{zone="api",plan="p",result="passed"\} 1\n.*result="rejected"\} 1\n.*levqor_rate_limit_hits_total\{zone="api",plan="p",limit="key"\} 1\n/s]
--- error_log
levqor_limit: key limit of plan "p" exceeded in zone "api"
--- no_error_log
ip limit
[warn]

=== TEST 37: IPv6 clients are limited per /64 (ip_prefix6 default 64); IPv4 per address
--- http_config
levqor_limit_zone api:1m;
levqor_plan p key=1000r/m ip=2r/m;
--- config
set_real_ip_from 127.0.0.1;
real_ip_header X-Real-IP;
location /t { levqor_limit zone=api key=$http_x_api_key plan=p; empty_gif; }
--- more_headers eval
["X-Real-IP: 2001:db8:1:2::1", "X-Real-IP: 2001:db8:1:2::2", "X-Real-IP: 2001:db8:1:2:ffff:ffff:ffff:ffff",
 "X-Real-IP: 2001:db8:1:3::1", "X-Real-IP: 2001:db8:1:3::9", "X-Real-IP: 2001:db8:1:3::7",
 "X-Real-IP: 192.0.2.1", "X-Real-IP: ::ffff:192.0.2.1", "X-Real-IP: 192.0.2.1", "X-Real-IP: 192.0.2.2"]
--- request eval
[("GET /t") x 10]
--- error_code eval
[200, 200, 429, 200, 200, 429, 200, 200, 429, 200]
--- no_error_log
[warn]

=== TEST 38: ip_prefix6 sets the IPv6 prefix (48, 128)
--- http_config
levqor_limit_zone api:1m;
levqor_plan p key=1000r/m ip=1r/m;
--- config
set_real_ip_from 127.0.0.1;
real_ip_header X-Real-IP;
location /wide { levqor_limit zone=api key=$http_x_api_key plan=p ip_prefix6=48; empty_gif; }
location /whole { levqor_limit zone=api key=$http_x_api_key plan=p ip_prefix6=128; empty_gif; }
--- more_headers eval
["X-Real-IP: 2001:db8:1:2::1", "X-Real-IP: 2001:db8:1:ffff::1", "X-Real-IP: 2001:db8:2::1",
 "X-Real-IP: 2001:db8:5::1", "X-Real-IP: 2001:db8:5::2", "X-Real-IP: 2001:db8:5::2"]
--- request eval
["GET /wide", "GET /wide", "GET /wide", "GET /whole", "GET /whole", "GET /whole"]
--- error_code eval
[200, 429, 200, 200, 200, 429]
--- error_log
levqor_limit: ip limit of plan "p" exceeded in zone "api"
--- no_error_log
key limit
anonymous limit
[warn]

=== TEST 39: a textual address from ip= is cut to the prefix too; other text is used as is
--- http_config
levqor_limit_zone api:1m;
levqor_plan p key=1000r/m ip=1r/m;
--- config
location /t { levqor_limit zone=api key=$http_x_api_key plan=p ip=$http_x_client; empty_gif; }
--- more_headers eval
["X-Client: 2001:db8:7:7::1", "X-Client: 2001:db8:7:7::2", "X-Client: 2001:db8:7:8::1",
 "X-Client: 198.51.100.1", "X-Client: ::ffff:198.51.100.1", "X-Client: tenant-a", "X-Client: tenant-b"]
--- request eval
[("GET /t") x 7]
--- error_code eval
[200, 429, 200, 200, 429, 200, 200]
--- error_log
levqor_limit: ip limit of plan "p" exceeded in zone "api"
--- no_error_log
key limit
anonymous limit
[warn]

=== TEST 40: an empty ip= value falls back to the connection's address, never to no limit
--- http_config
levqor_limit_zone api:1m;
levqor_plan p key=1000r/m ip=2r/m;
--- config
location /t { levqor_limit zone=api key=$http_x_api_key plan=p ip=$http_x_forwarded_for; empty_gif; }
--- more_headers eval
["", "", "", "X-Forwarded-For: 203.0.113.9"]
--- request eval
[("GET /t") x 4]
--- error_code eval
[200, 200, 429, 200]
--- response_headers eval
[("RateLimit-Policy: \"p-ip\";q=2;w=60") x 4]
--- error_log
levqor_limit: ip limit of plan "p" exceeded in zone "api"
--- no_error_log
key limit
anonymous limit
[warn]

=== TEST 41: ip=off: requests without a key share the plan's anonymous bucket at the key rate
--- http_config
levqor_limit_zone api:1m;
levqor_plan p key=2r/m ip=100r/m;
--- config
location /k {
    levqor_limit zone=api key=$http_x_api_key plan=p ip=off;
    add_header X-Limit $levqor_limit_status always;
    empty_gif;
}
location /metrics { levqor_status; }
--- more_headers eval
["", "", "", "X-Api-Key: a1", "", ""]
--- request eval
["GET /k", "GET /k", "GET /k", "GET /k", "GET /k", "GET /metrics"]
--- error_code eval
[200, 200, 429, 200, 429, 200]
--- response_headers eval
["RateLimit-Policy: \"p-anonymous\";q=2;w=60\nRateLimit: \"p-anonymous\";r=1;t=30",
 "RateLimit-Policy: \"p-anonymous\";q=2;w=60",
 "Retry-After: 30\nX-Limit: REJECTED",
 "RateLimit-Policy: \"p-key\";q=2;w=60",
 "X-Limit: REJECTED",
 ""]
--- response_body_like eval
["", "", "", "", "", qr/levqor_rate_limit_hits_total\{zone="api",plan="p",limit="key"\} 2\n/]
--- error_log
levqor_limit: anonymous limit of plan "p" exceeded in zone "api", retry after 30s

=== TEST 45: plan from an authentication subrequest, limit after the access phase (docs/directives.md recipe)
--- http_config
levqor_limit_zone api:1m;
levqor_plan gold key=600r/m ip=600r/m;
--- config
location /api/ {
    auth_request /_auth;
    auth_request_set $plan $upstream_http_x_plan;
    try_files /.levqor-after-auth @api;
}
location @api { levqor_limit zone=api key=$http_x_api_key plan=$plan; empty_gif; }
location = /_auth {
    internal;
    proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/auth-service;
    proxy_pass_request_body off;
    proxy_set_header Content-Length "";
}
location = /auth-service {
    if ($http_x_api_key = "") { return 401; }
    add_header X-Plan gold;
    return 204;
}
--- more_headers eval
["X-Api-Key: a1\nX-Plan: pro", ""]
--- request eval
["GET /api/x", "GET /api/x"]
--- error_code eval
[200, 401]
--- response_headers eval
["RateLimit-Policy: \"gold-key\";q=600;w=60, \"gold-ip\";q=600;w=60", "! RateLimit-Policy"]
--- no_error_log
unknown plan

=== TEST 21: unknown zone
--- config
location /t { levqor_limit zone=nope key=$http_x_api_key plan=free; empty_gif; }
--- must_die
levqor_limit: zone "nope" is used but not defined by levqor_limit_zone

=== TEST 22: unknown literal plan
--- http_config
levqor_limit_zone api:1m;
--- config
location /t { levqor_limit zone=api key=$http_x_api_key plan=gold; empty_gif; }
--- must_die
levqor_limit: unknown plan "gold" (define it with levqor_plan)

=== TEST 23: bad rate in a plan
--- http_config
levqor_plan gold key=fast ip=1r/s;
--- must_die
"levqor_plan" directive invalid rate "fast", expected <n>r/s, <n>r/m or <n>r/h

=== TEST 24: plan without ip=
--- http_config
levqor_plan gold key=10r/s;
--- must_die
"levqor_plan" directive plan "gold" needs both key=<rate> and ip=<rate>

=== TEST 25: plan defined twice
--- http_config
levqor_plan gold key=10r/s ip=1r/s;
levqor_plan gold key=20r/s ip=1r/s;
--- must_die
"levqor_plan" directive plan "gold" is already defined

=== TEST 26: zone size
--- http_config
levqor_limit_zone api:1k;
--- must_die
"levqor_limit_zone" directive zone "api:1k" is too small, use at least 32k

=== TEST 27: zone syntax
--- http_config
levqor_limit_zone api;
--- must_die
"levqor_limit_zone" directive invalid zone "api", expected <name>:<size>

=== TEST 28: zone defined twice
--- http_config
levqor_limit_zone api:1m;
levqor_limit_zone api:2m;
--- must_die
"levqor_limit_zone" directive zone "api" is already defined

=== TEST 29: levqor_limit needs zone, key and plan
--- http_config
levqor_limit_zone api:1m;
--- config
location /t { levqor_limit zone=api plan=free; }
--- must_die
"levqor_limit" directive needs zone=<name> key=<value> plan=<value>

=== TEST 30: bad cost
--- http_config
levqor_limit_zone api:1m;
--- config
location /t { levqor_limit zone=api key=$http_x_api_key plan=free cost=0; }
--- must_die
"levqor_limit" directive invalid cost "cost=0", expected 1 to 1000000

=== TEST 31: unknown levqor_limit parameter
--- http_config
levqor_limit_zone api:1m;
--- config
location /t { levqor_limit zone=api key=$http_x_api_key plan=free burst=5; }
--- must_die
"levqor_limit" directive invalid parameter "burst=5"

=== TEST 32: status out of range
--- config
levqor_limit_status 200;
--- must_die
"levqor_limit_status" directive invalid status "200", expected 400 to 599

=== TEST 33: header mode
--- config
levqor_limit_headers ietf;
--- must_die
"levqor_limit_headers" directive invalid value "ietf", expected draft, legacy, both or off

=== TEST 34: log level
--- config
levqor_limit_log_level debug;
--- must_die
"levqor_limit_log_level" directive invalid value "debug", expected info, notice, warn or error

=== TEST 35: levqor_plan only at http level
--- config
levqor_plan gold key=10r/s ip=1r/s;
--- must_die
"levqor_plan" directive is not allowed here

=== TEST 36: unknown variable in a key
--- http_config
levqor_limit_zone api:1m;
--- config
location /t { levqor_limit zone=api key=$no_such_variable plan=free; }
--- must_die
unknown "no_such_variable" variable

=== TEST 42: ip_prefix6 range
--- http_config
levqor_limit_zone api:1m;
--- config
location /t { levqor_limit zone=api key=$http_x_api_key plan=free ip_prefix6=16; }
--- must_die
"levqor_limit" directive invalid "ip_prefix6=16", expected 32 to 128 (bits of an IPv6 address)

=== TEST 43: ip_prefix6 with ip=off
--- http_config
levqor_limit_zone api:1m;
--- config
location /t { levqor_limit zone=api key=$http_x_api_key plan=free ip=off ip_prefix6=56; }
--- must_die
"levqor_limit" directive has ip_prefix6= with ip=off (no address is limited)

=== TEST 44: an empty ip= is not ip=off
--- http_config
levqor_limit_zone api:1m;
--- config
location /t { levqor_limit zone=api key=$http_x_api_key plan=free ip=; }
--- must_die
"levqor_limit" directive invalid parameter "ip=", expected ip=<value> or ip=off

=== TEST 45: fields where one location turns them back on under a server that turned them off (inherited levqor_limit)
--- http_config
levqor_limit_zone api:1m;
levqor_plan p key=10r/m ip=100r/m;
--- config
levqor_limit_headers off;
levqor_limit zone=api key=$http_x_api_key plan=p;
location /off { empty_gif; }
location /on { levqor_limit_headers draft; empty_gif; }
--- more_headers
X-Api-Key: h45
--- request eval
["GET /off", "GET /on"]
--- error_code eval
[200, 200]
--- response_headers eval
["! RateLimit\n! RateLimit-Policy", "RateLimit-Policy: \"p-key\";q=10;w=60, \"p-ip\";q=100;w=60"]
--- no_error_log
[error]
