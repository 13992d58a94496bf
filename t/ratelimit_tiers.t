#!/usr/bin/perl
# SPDX-License-Identifier: Apache-2.0
# Two (and three) nginx tiers that both run levqor_limit, in ONE nginx: the
# edge server (locations below) proxies to an inner server on port2 (and, for
# three tiers, a middle one on port3), each with its own zone and plan.
# levqor_limit_headers_upstream merge | replace | pass: the exact rate-limit
# field lines the client receives (how many, which items, names, r and t), a
# 429 from the inner tier through the edge (its Retry-After), malformed
# upstream fields, legacy mode, the metric, and nginx -t naming a bad value.
use strict;
use warnings;

use lib 't/lib';
use Test::More;
use Test::Levqor::Nginx;

# Plans: the edge's "e" (10 a minute) and the inner tier's "i" (2 a minute),
# by key only (ip=off), so each tier adds one item. A fresh key per request
# series makes r and t exact: the first request leaves q-1 and t = 60/q.
my $http = <<'HTTP';
levqor_limit_zone edge:1m;
levqor_limit_zone inner:1m;
levqor_limit_zone mid:1m;
levqor_plan e key=10r/m ip=1000r/m;
levqor_plan i key=2r/m ip=1000r/m;
levqor_plan wide key=100r/m ip=1000r/m;

server {  # the inner tier
    listen 127.0.0.1:$TEST_NGINX_PORT2;
    location / { levqor_limit zone=inner key=$http_x_api_key plan=i ip=off; empty_gif; }
    location /same/ { levqor_limit zone=inner key=$http_x_api_key plan=e ip=off; empty_gif; }
    location /wide/ {
        levqor_limit_headers legacy;
        levqor_limit zone=inner key=$http_x_api_key plan=wide ip=off;
        empty_gif;
    }
    location /legacy/ {
        levqor_limit_headers legacy;
        levqor_limit zone=inner key=$http_x_api_key plan=i ip=off;
        empty_gif;
    }
    location /bad/ {  # an application with a broken RateLimit-Policy and a valid RateLimit
        add_header RateLimit-Policy '"x";q=1, ,';
        add_header RateLimit '"x";r=0;t=1, "e-key";r=5;t=3';
        return 200 "ok\n";
    }
    location /garbage/ {
        add_header RateLimit-Policy '(((("';
        add_header RateLimit '"x";r=0;t=1';
        add_header RateLimit '"y";r=1;t=1';
        add_header RateLimit '"z";r=2;t=1';
        add_header RateLimit '"x";r=3;t=1';
        add_header RateLimit '"x";r=4;t=1';
        add_header RateLimit '"x";r=5;t=1';
        add_header RateLimit '"x";r=6;t=1';
        add_header RateLimit '"x";r=7;t=1';
        add_header RateLimit '"x";r=8;t=1';
        add_header X-RateLimit-Limit 'lots';
        return 200 "ok\n";
    }
}

server {  # the middle tier of three: merges the inner tier's fields
    listen 127.0.0.1:$TEST_NGINX_PORT3;
    location / {
        levqor_limit zone=mid key=$http_x_api_key plan=e ip=off;
        proxy_pass http://127.0.0.1:$TEST_NGINX_PORT2/same/;
    }
}
HTTP

my $config = <<'CONF';
levqor_limit zone=edge key=$http_x_api_key plan=e ip=off;   # every location below
location /merge/ { proxy_pass http://127.0.0.1:$TEST_NGINX_PORT2/; }
location /replace/ {
    levqor_limit_headers_upstream replace;
    proxy_pass http://127.0.0.1:$TEST_NGINX_PORT2/;
}
location /outer/ {  # inherited by the nested location
    levqor_limit_headers_upstream replace;
    location /outer/in/ { proxy_pass http://127.0.0.1:$TEST_NGINX_PORT2/; }
}
location /pass/ {
    levqor_limit_headers_upstream pass;
    proxy_pass http://127.0.0.1:$TEST_NGINX_PORT2/;
}
location /legacy-merge/ {
    levqor_limit_headers legacy;
    proxy_pass http://127.0.0.1:$TEST_NGINX_PORT2/;
}
location /legacy-replace/ {
    levqor_limit_headers legacy;
    levqor_limit_headers_upstream replace;
    proxy_pass http://127.0.0.1:$TEST_NGINX_PORT2/;
}
location /three/ { proxy_pass http://127.0.0.1:$TEST_NGINX_PORT3/; }
location /metrics { levqor_status; }
CONF

my $ng = Test::Levqor::Nginx->new(http_config => $http, config => $config);
$ng->start;

# The rate-limit field lines of a response, in order: ["Name: value", ...].
sub fields {
    my ($res) = @_;
    return [map { "$_->[0]: $_->[1]" } grep { $_->[0] =~ /^(X-)?RateLimit|^Retry-After$/i } @{ $res->{header_list} }];
}

sub get {
    my ($path, $key) = @_;
    return $ng->request("GET $path", more_headers => "X-Api-Key: $key");
}

# ---- merge (the default): one line each, this tier's items first -----------
{
    my $res = get('/merge/x', 'm1');
    is($res->{status}, 200, 'merge: 200');
    is_deeply(fields($res), [
        'RateLimit-Policy: "e-key";q=10;w=60, "i-key";q=2;w=60',
        'RateLimit: "e-key";r=9;t=6, "i-key";r=1;t=30',
    ], 'merge: one RateLimit-Policy and one RateLimit with both tiers\' items');
}

# ---- a 429 from the inner tier through the edge -----------------------------
{
    my @res = map { get('/merge/x', 'm429') } 1 .. 3;
    is_deeply([map { $_->{status} } @res], [200, 200, 429], 'the inner tier rejects the third request');
    is_deeply(fields($res[2]), [
        'Retry-After: 30',
        'RateLimit-Policy: "e-key";q=10;w=60, "i-key";q=2;w=60',
        'RateLimit: "e-key";r=7;t=18, "i-key";r=0;t=60',
    ], 'the 429 keeps the inner tier\'s Retry-After (once) and both tiers\' state in one line each');
    like($res[2]{body}, qr/^\{"error":"rate_limited","retry_after":30\}$/, 'the inner tier\'s JSON body');
}

# ---- the same plan on both tiers: the upstream's name gets a suffix ---------
{
    my $res = get('/merge/same/x', 'same1');
    is_deeply(fields($res), [
        'RateLimit-Policy: "e-key";q=10;w=60, "e-key-upstream";q=10;w=60',
        'RateLimit: "e-key";r=9;t=6, "e-key-upstream";r=9;t=6',
    ], 'merge: a colliding upstream policy is renamed "<name>-upstream" in both fields');
}

# ---- three tiers: the suffix counts the hops ---------------------------------
{
    my $res = get('/three/x', 'three1');
    is_deeply(fields($res), [
        'RateLimit-Policy: "e-key";q=10;w=60, "e-key-upstream";q=10;w=60, "e-key-upstream-upstream";q=10;w=60',
        'RateLimit: "e-key";r=9;t=6, "e-key-upstream";r=9;t=6, "e-key-upstream-upstream";r=9;t=6',
    ], 'three tiers: edge, middle (-upstream), inner (-upstream-upstream)');
}

# ---- replace: only this tier's fields ----------------------------------------
{
    my $res = get('/replace/x', 'r1');
    is_deeply(fields($res), [
        'RateLimit-Policy: "e-key";q=10;w=60',
        'RateLimit: "e-key";r=9;t=6',
    ], 'replace: the upstream\'s fields are dropped, ours are sent');
    my @res = map { get('/replace/x', 'r429') } 1 .. 3;
    is($res[2]{status}, 429, 'replace: the inner tier\'s 429 passes');
    is_deeply(fields($res[2]), ['Retry-After: 30', 'RateLimit-Policy: "e-key";q=10;w=60', 'RateLimit: "e-key";r=7;t=18'],
              'replace: the 429 keeps its Retry-After, carries only our state');
}

# ---- inherited from an outer level --------------------------------------------
{
    my $res = get('/outer/in/x', 'o1');
    is_deeply(fields($res), ['RateLimit-Policy: "e-key";q=10;w=60', 'RateLimit: "e-key";r=9;t=6'],
              'a nested location inherits replace from its outer location');
}

# ---- pass: ours and theirs unchanged (two lines each) ------------------------
{
    my $res = get('/pass/same/x', 'p1');
    is_deeply(fields($res), [
        'RateLimit-Policy: "e-key";q=10;w=60',
        'RateLimit: "e-key";r=9;t=6',
        'RateLimit-Policy: "e-key";q=10;w=60',
        'RateLimit: "e-key";r=9;t=6',
    ], 'pass: the upstream\'s lines stay as they came, ours are added');
}

# ---- malformed upstream fields -----------------------------------------------
{
    my $res = get('/merge/bad/x', 'bad1');
    is($res->{status}, 200, 'malformed: the response goes out');
    is_deeply(fields($res), [
        'RateLimit-Policy: "e-key";q=10;w=60',
        'RateLimit: "e-key";r=9;t=6, "x";r=0;t=1, "e-key-upstream";r=5;t=3',
    ], 'malformed: the RateLimit-Policy that does not parse is dropped, the valid RateLimit merged');
    $res = get('/merge/garbage/x', 'bad2');
    is_deeply(fields($res), ['X-RateLimit-Limit: lots', 'RateLimit-Policy: "e-key";q=10;w=60', 'RateLimit: "e-key";r=9;t=6'],
              'garbage and more than 8 lines: both fields dropped whole; X-RateLimit-* (not sent here) untouched');
    $res = get('/replace/bad/x', 'bad3');
    is_deeply(fields($res), ['RateLimit-Policy: "e-key";q=10;w=60', 'RateLimit: "e-key";r=9;t=6'],
              'replace drops malformed fields like any other');
}

# ---- legacy mode -------------------------------------------------------------
{
    # The inner tier has fewer left (1 of 2): its trio speaks for the request.
    my $res = get('/legacy-merge/legacy/x', 'l1');
    is_deeply(fields($res), ['X-RateLimit-Limit: 2', 'X-RateLimit-Remaining: 1', 'X-RateLimit-Reset: 30'],
              'legacy merge: the upstream\'s trio when it has fewer left');
    # The inner tier has more left (99 of 100): ours.
    $res = get('/legacy-merge/wide/x', 'l2');
    is_deeply(fields($res), ['X-RateLimit-Limit: 10', 'X-RateLimit-Remaining: 9', 'X-RateLimit-Reset: 6'],
              'legacy merge: ours when we have fewer left');
    $res = get('/legacy-replace/legacy/x', 'l3');
    is_deeply(fields($res), ['X-RateLimit-Limit: 10', 'X-RateLimit-Remaining: 9', 'X-RateLimit-Reset: 6'],
              'legacy replace: ours only');
    # Legacy here, draft fields from the upstream: not ours to touch.
    $res = get('/legacy-merge/x', 'l4');
    is_deeply(fields($res), [
        'RateLimit-Policy: "i-key";q=2;w=60', 'RateLimit: "i-key";r=1;t=30',
        'X-RateLimit-Limit: 10', 'X-RateLimit-Remaining: 9', 'X-RateLimit-Reset: 6',
    ], 'legacy merge: the upstream\'s draft fields pass unchanged');
    # A malformed upstream trio is dropped.
    $res = get('/legacy-merge/garbage/x', 'l5');
    is_deeply([grep { /^X-/ } @{ fields($res) }], ['X-RateLimit-Limit: 10', 'X-RateLimit-Remaining: 9', 'X-RateLimit-Reset: 6'],
              'legacy merge: an incomplete upstream trio is dropped');
}

# ---- the metric --------------------------------------------------------------
{
    my $body = $ng->request('GET /metrics')->{body};
    my %n = $body =~ /^levqor_ratelimit_upstream_fields_total\{action="(\w+)"\} (\d+)$/mg;
    # merged: draft lines (2 per merged request: merge x1, 429 series x3,
    # same, three (edge and middle), bad's RateLimit) + legacy trios (l1, l2);
    # replaced: replace x1 + 429 series x3 + the nested location (2 each) + bad (2) + legacy (3);
    # malformed: bad's policy (1), garbage (1 + 9), legacy garbage (its one X-RateLimit-Limit).
    is_deeply(\%n, { merged => 2 * 7 + 1 + 6, replaced => 2 * 5 + 2 + 3, malformed => 1 + 10 + 1 },
              'levqor_ratelimit_upstream_fields_total by action');
}

$ng->stop;
# Only the inner tier's two rejections (m429, r429) are logged above warn.
my @loud = grep { /\[(error|alert|crit|emerg)\]/ } split /\n/, $ng->error_log;
is(scalar(grep { /levqor_limit: key limit of plan "i" exceeded in zone "inner"/ } @loud), 2, 'the two inner rejections logged');
is(scalar(@loud), 2, 'nothing else logged above warn') or diag(join "\n", @loud);

# ---- nginx -t names the directive and the value ------------------------------
{
    my $bad = Test::Levqor::Nginx->new(config => 'levqor_limit_headers_upstream keep;');
    my ($ok, $out) = $bad->test_config;
    ok(!$ok, 'nginx -t fails on a bad value');
    like($out, qr/"levqor_limit_headers_upstream" directive invalid value "keep", expected merge, replace or pass/,
         'the error names the directive, the value and the choices');
}

done_testing();
