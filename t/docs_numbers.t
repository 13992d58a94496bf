# SPDX-License-Identifier: Apache-2.0
# The numbers the docs state about the module, read FROM THE DOCS and
# compared with what the running module reports: zone capacities
# (levqor_ratelimit_capacity, levqor_webhook_replay_capacity) and the
# smallest zone size; the default plans, levqor_limit_status,
# levqor_limit_headers and levqor_limit_log_level; the most connectors
# levqor_cost counts and the longest connector name; the argument ranges
# stated for levqor_limit_status, ip_prefix6= and cost=. A doc sentence these
# tests read that is reworded fails here (it names the sentence it looks
# for): change the pattern with the sentence, never the number alone.
use strict;
use warnings;
use lib 't/lib';
use Test::Levqor;
use IO::Socket::INET;
use utf8;

master_on();
workers(1);
binmode(Test::More->builder->$_, ':encoding(UTF-8)') for qw(output failure_output todo_output);

sub doc {
    my ($file) = @_;
    open(my $fh, '<:encoding(UTF-8)', $file) or die "$file: $!";
    local $/;
    return scalar <$fh>;
}
my $directives = doc('docs/directives.md');
my $metrics_md = doc('docs/metrics.md');

# The text of the section under "### <name>" (up to the next heading).
sub section {
    my ($name) = @_;
    $directives =~ /^###\s+\Q$name\E\s*\n(.*?)(?=^#{1,3}\s)/ms or die "docs/directives.md: no section ### $name\n";
    return $1;
}

# The first match of $re in $text (its white space as single spaces), or a failure naming what was looked for.
sub from_doc {
    my ($text, $re, $what) = @_;
    $text =~ s/\s+/ /g;    # sentences wrap anywhere
    my @m = $text =~ $re;
    BAIL_OUT("the docs no longer say $what (pattern $re): update t/docs_numbers.t with the sentence") unless @m;
    return wantarray ? @m : $m[0];
}

sub number { my ($text) = @_; $text =~ tr/,//d; return $text + 0 }

# Sends the requests pipelined on one connection, then GET /metrics; returns
# (statuses, the raw responses, the metrics body).
sub pipelined {
    my ($port, @requests) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port", Timeout => 30) or die "connect: $!";
    print $s join('', map { "GET $_->[0] HTTP/1.1\r\nHost: localhost\r\n" . ($_->[1] // '') . "\r\n" } @requests)
        . "GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    local $/;
    my $all = <$s>;
    my @statuses = ($all =~ m{HTTP/1\.1 (\d{3}) }g);
    pop @statuses;
    my ($metrics) = $all =~ /.*\r\n\r\n(.*)\z/s;
    return (\@statuses, $all, $metrics);
}

# ---- what the docs say --------------------------------------------------------

my $limit_zone = section('levqor_limit_zone');
my $min_limit = from_doc($limit_zone, qr/size is at least (\d+k)/, 'the smallest levqor_limit_zone');
# "1m holds N buckets, 10m M": exact, or within 2 % when the doc says "about".
my %limit_cap = from_doc($limit_zone, qr/(1m) holds ((?:about )?[\d,]+) buckets, (10m) ((?:about )?[\d,]+)\b/,
    "levqor_limit_zone's \"1m holds N buckets, 10m M\"");
my $limit_per_mb = number(from_doc($directives, qr/A zone holds about ([\d,]+) buckets\s+per\s+megabyte/,
    '"A zone holds about N buckets per megabyte"'));

my $replay_zone = section('levqor_webhook_replay_zone');
my $min_replay = from_doc($replay_zone, qr/at least (\d+k)/, 'the smallest levqor_webhook_replay_zone');
my %replay_cap;
$replay_cap{'1m'} = from_doc($replay_zone, qr/`1m` holds ([\d,]+)\s+entries/, 'how many entries 1m holds');
{
    my ($in1m, $per_mb, $in10m, $small, $in_small) = from_doc($directives,
        qr/([\d,]+) entries in `1m` \(([\d,]+) per MB in larger zones:\s+`10m` holds ([\d,]+); the smallest zone,\s+`(\d+k)`, ([\d,]+)\)/,
        'Replay protection\'s capacities ("N entries in `1m` (M per MB ...")');
    is(number($in1m), number($replay_cap{'1m'}), 'the two replay-zone sections state the same 1m capacity');
    @replay_cap{'10m', $small} = ($in10m, $in_small);
    $replay_cap{per_mb} = $per_mb;
    is($small, $min_replay, "Replay protection's smallest zone is the directive's minimum ($min_replay)");
}
is(number(from_doc($metrics_md, qr/levqor_webhook_replay_capacity`.*?\(`1m`: ([\d,]+)\)/, 'metrics.md\'s 1m replay capacity')),
   number($replay_cap{'1m'}), 'metrics.md states the same 1m replay capacity');

my %plans = from_doc(section('levqor_plan'),
    qr/Default:\s+levqor_plan (\w+) (key=\d+r\/m ip=\d+r\/m);\s+levqor_plan (\w+) (key=\d+r\/m ip=\d+r\/m);/,
    'the default plans');
my $limit_status = from_doc(section('levqor_limit_status'), qr/Default:\s+levqor_limit_status (\d+);/,
    'the default levqor_limit_status');
my $limit_headers = from_doc(section('levqor_limit_headers'), qr/Default:\s+levqor_limit_headers (\w+);/,
    'the default levqor_limit_headers');
my $log_level = from_doc(section('levqor_limit_log_level'), qr/Default:\s+levqor_limit_log_level (\w+);/,
    'the default levqor_limit_log_level');

my $cost = section('levqor_cost');
my $max_connectors = from_doc($cost, qr/counts at most (\d+) connectors/, 'how many connectors levqor_cost counts');
my $name_max = from_doc($cost, qr/\*\*The connector\*\*: 1 to (\d+) characters/, 'the longest connector name');
is(from_doc($metrics_md, qr/`levqor_ai_cost_usd_total` \| counter \| `connector` \(at most (\d+) names/,
            'metrics.md\'s connector bound'), $max_connectors, 'metrics.md states the same connector bound');

# Ranges the docs state for arguments: "<lo-hi>" in a syntax line, "(1 to 10⁶)".
sub power { my ($text) = @_; $text =~ s/10([⁰¹²³⁴⁵⁶⁷⁸⁹]+)/'1' . ('0' x (tr_sup($1)))/e; return number($text) }
sub tr_sup { my ($sup) = @_; (my $d = $sup) =~ tr/⁰¹²³⁴⁵⁶⁷⁸⁹/0123456789/; return $d }
my @ranges = (
    ['levqor_limit_status', 'levqor_limit_status %d;',
     from_doc(section('levqor_limit_status'), qr/Syntax: levqor_limit_status <(\d+)-(\d+)>;/, 'levqor_limit_status <lo-hi>')],
    ['levqor_limit ip_prefix6=', 'levqor_limit zone=z key=k plan=free ip_prefix6=%d;',
     from_doc(section('levqor_limit'), qr/\[ip_prefix6=<(\d+)-(\d+)>\]/, 'ip_prefix6=<lo-hi>')],
    ['levqor_limit cost=', 'levqor_limit zone=z key=k plan=free cost=%d;',
     map { power($_) } from_doc(section('levqor_limit'), qr/`cost=` charges several tokens \((\d+) to (10[⁰¹²³⁴⁵⁶⁷⁸⁹]+)\)/,
                                '"cost= charges several tokens (1 to 10ⁿ)"')],
);

# ---- the running module --------------------------------------------------------

# Each stated range: both ends pass nginx -t, one past either end is refused.
for my $range (@ranges) {
    my ($what, $line, $lo, $hi) = @$range;
    for my $case ([$lo, 1], [$hi, 1], [$lo - 1, 0], [$hi + 1, 0]) {
        my ($value, $valid) = @$case;
        my $ng = Test::Levqor::Nginx->new(http_config => 'levqor_limit_zone z:32k;',
                                          config => 'location / { ' . sprintf($line, $value) . ' empty_gif; }');
        my ($ok, $out) = $ng->test_config;
        ok($valid ? $ok : !$ok, "$what $value " . ($valid ? 'is accepted' : 'is refused') . " (docs: $lo to $hi)")
            or diag($out);
    }
}

# Zone capacities, exactly as stated; the per-MB figure within 2 %.
{
    my ($small_l, $small_r) = map { s/k$//r - 1 . 'k' } $min_limit, $min_replay;
    my $http = join '', map({ "levqor_limit_zone l$_:$_;\n" } '1m', '10m', $min_limit),
        map({ "levqor_webhook_replay_zone r$_:$_;\n" } '1m', '10m', $min_replay);
    my $locations = join '', map { "location /l$_ { levqor_limit zone=l$_ key=k plan=free; empty_gif; }\n" }
        '1m', '10m', $min_limit;
    my $dir = Test::Levqor::Util::temp_dir('secret');
    chmod 0644, Test::Levqor::Util::spew("$dir/s", "a-webhook-secret-for-docs-numbers\n");
    $locations .= join '', map { "location /r$_ { levqor_webhook github secret_file=$dir/s replay=r$_; empty_gif; }\n" }
        '1m', '10m', $min_replay;
    my $ng = Test::Levqor::Nginx->new(http_config => $http, config => "$locations\nlocation /metrics { levqor_status; }\n");
    $ng->start;
    my $m = $ng->request('GET /metrics')->{body};
    for my $size ('1m', '10m') {
        my ($cap) = $m =~ /^levqor_ratelimit_capacity\{zone="l\Q$size\E"\} (\d+)$/m;
        if ($limit_cap{$size} =~ /^about (.*)/) {
            my $about = number($1);
            ok(abs($cap - $about) <= 0.02 * $about, "a $size limit zone holds about $1 buckets, as directives.md says")
                or diag("levqor_ratelimit_capacity{zone=\"l$size\"} is $cap");
        } else {
            is($cap, number($limit_cap{$size}), "a $size limit zone holds $limit_cap{$size} buckets, as directives.md says");
        }
        my ($rcap) = $m =~ /^levqor_webhook_replay_capacity\{zone="r\Q$size\E"\} (\d+)$/m;
        is($rcap, number($replay_cap{$size}), "a $size replay zone holds $replay_cap{$size} entries, as directives.md says");
    }
    my ($rsmall) = $m =~ /^levqor_webhook_replay_capacity\{zone="r\Q$min_replay\E"\} (\d+)$/m;
    is($rsmall, number($replay_cap{$min_replay}), "a $min_replay replay zone holds $replay_cap{$min_replay} entries");
    my ($l10) = $m =~ /^levqor_ratelimit_capacity\{zone="l10m"\} (\d+)$/m;
    my ($r10) = $m =~ /^levqor_webhook_replay_capacity\{zone="r10m"\} (\d+)$/m;
    ok(abs($l10 / 10 - $limit_per_mb) <= 0.02 * $limit_per_mb,
       "about $limit_per_mb buckets per MB (10m: $l10)");
    ok(abs($r10 / 10 - number($replay_cap{per_mb})) <= 0.02 * number($replay_cap{per_mb}),
       "about $replay_cap{per_mb} replay entries per MB (10m: $r10)");
    $ng->stop;

    # One kilobyte under the stated minimum is refused, naming the minimum.
    for my $case (["levqor_limit_zone tiny:$small_l;", $min_limit],
                  ["levqor_webhook_replay_zone tiny:$small_r;", $min_replay]) {
        my $bad = Test::Levqor::Nginx->new(http_config => $case->[0], config => 'location / { empty_gif; }');
        my ($ok, $out) = $bad->test_config;
        ok(!$ok && $out =~ /too small, use at least \Q$case->[1]\E/, "$case->[0] is refused: at least $case->[1]")
            or diag($out);
    }
}

# The default plans, status, fields and log level: no levqor_plan,
# levqor_limit_status, levqor_limit_headers or levqor_limit_log_level set.
{
    my $ng = Test::Levqor::Nginx->new(http_config => "levqor_limit_zone api:1m;", config => <<'CONF');
keepalive_requests 100000;
location /t { levqor_limit zone=api key=$http_x_api_key plan=$http_x_test_plan; empty_gif; }
location /metrics { levqor_status; }
CONF
    $ng->start;
    for my $plan (sort keys %plans) {
        my ($key, $ip) = $plans{$plan} =~ /key=(\d+)r\/m ip=(\d+)r\/m/;
        my ($st, $raw) = pipelined($ng->port, map { ['/t', "X-Api-Key: $plan-key\r\nX-Test-Plan: $plan\r\n"] } 1 .. $ip + 1);
        like($raw, qr/^RateLimit-Policy: "\Q$plan\E-key";q=$key;w=60, "\Q$plan\E-ip";q=$ip;w=60\r$/m,
             "plan $plan: $plans{$plan} (RateLimit-Policy, the $limit_headers fields)");
        is(scalar(grep { $_ == 200 } @$st), $ip, "plan $plan: $ip requests from one address pass");
        is($st->[-1], $limit_status, "plan $plan: the next is answered $limit_status");
        like($ng->error_log, qr/\[\Q$log_level\E\].*limit of plan "\Q$plan\E" exceeded/,
             "plan $plan: the rejection is logged at [$log_level]");
        $ng->stop;    # a fresh zone for the next plan's address bucket
        $ng->start;
    }
    $ng->stop;
}

# levqor_cost: the stated number of connectors, then "other"; names up to the
# stated length.
{
    my $ng = Test::Levqor::Nginx->new(config => <<'CONF');
keepalive_requests 100000;
location /ai { levqor_cost 1 connector=$arg_c; empty_gif; }
location /metrics { levqor_status; }
CONF
    $ng->start;
    my $long = 'n' x $name_max;
    my ($st, undef, $m) = pipelined($ng->port, ["/ai?c=$long"], ["/ai?c=${long}x"],
                                    map { ["/ai?c=c$_"] } 1 .. $max_connectors);
    is(scalar(grep { $_ == 200 } @$st), $max_connectors + 2, 'every request answered');
    my @named = grep { $_ ne 'other' } $m =~ /^levqor_ai_cost_usd_total\{connector="([^"]+)"\}/mg;
    is(scalar(@named), $max_connectors, "$max_connectors connectors counted by name");
    ok((grep { $_ eq $long } @named), "a $name_max-character name is a connector");
    like($m, qr/^levqor_ai_cost_usd_total\{connector="other"\} 2$/m,
         'a longer name and the connector past the bound count as other');
    $ng->stop;
}

done_testing();
