# SPDX-License-Identifier: Apache-2.0
# levqor_limit_zone redis=redis-sentinel://...: the master found through
# real Sentinels (a master, a replica and three Sentinels on loopback,
# Test::Levqor::Redis->sentinel_group): decisions on the master, exact
# limits across two nginx through the Sentinel URL, an unreachable first
# Sentinel skipped, a kill -9 of the master followed (no 5xx, the fallback
# during the gap, decisions on Redis again after the failover), nginx -t
# errors for bad Sentinel URLs.
use strict;
use warnings;
use lib 't/lib';
use Test::Levqor;
use Test::Levqor::Redis;
use Test::Levqor::Util qw(wait_until free_port);
use Time::HiRes qw(time);
use File::Temp ();

# The URL's password is the data nodes'; the Sentinels have their own
# (sentinel_auth_file=).
my $g = Test::Levqor::Redis->sentinel_group(replicas => 1, sentinels => 3, master_name => 'levqor',
                                            password => 'data-secret', sentinel_password => 'sentinel-secret');
my $url = $g->url;
my $keydir = File::Temp::tempdir('levqor-skey-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $key = "$keydir/redis.key";
open my $fh, '>', $key or die "$key: $!";
print $fh "0123456789abcdef0123456789abcdef\n";
close $fh;
$ENV{TEST_NGINX_REDIS_KEY} = $key;
my $sentinel_auth = "$keydir/sentinel.auth";
open $fh, '>', $sentinel_auth or die "$sentinel_auth: $!";
print $fh "sentinel-secret\n";
close $fh;

sub limited_nginx {
    my (%o) = @_;
    my $zone = 'levqor_limit_zone api:1m redis=' . ($o{url} // $url) . " redis_timeout=100 key_secret_file=$key"
        . ($o{sentinel_auth} // 1 ? " sentinel_auth_file=$sentinel_auth;" : ';');
    my $ng = Test::Levqor::Nginx->new(master => 1, workers => 2,
        http_config => "$zone\nlevqor_plan p key=5r/m ip=1000r/m;\nlevqor_plan big key=100000r/m ip=100000r/m;\n"
            . 'map $uri $plan_of_uri { /t p; default big; }',
        # /t: 5 a minute per key; anything else: plan big (never limits here).
        config => 'location / { levqor_limit zone=api key=$http_x_api_key plan=$plan_of_uri; '
            . 'add_header X-Limit $levqor_limit_status always; empty_gif; }');
    $ng->start;
    return $ng if defined $o{wait} && !$o{wait};
    # Each worker asks a Sentinel, connects to the master, checks ROLE and
    # loads the script right after start: wait until both decide on Redis.
    my $n = 0;
    wait_until(10, sub {
        $n = limit_of($ng, '/big', 'warmup') eq 'PASSED' ? $n + 1 : 0;
        return $n >= 6;
    }, 0.05);
    return $ng;
}

sub get {
    my ($ng, $path, $k) = @_;
    return $ng->request("GET $path", more_headers => "X-Api-Key: $k");
}

# A stand-in Sentinel: answers every get-master-addr-by-name with $reply (RESP, \r\n written as such).
my $fake = <<'PERL';
use strict; use IO::Socket::INET; $| = 1;
my ($port, $reply) = @ARGV;
$reply =~ s/\\r\\n/\r\n/g;
my $l = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $port, Listen => 16, ReuseAddr => 1) or die "listen: $!";
print "listening\n";
while (my $c = $l->accept) {
    my $buf = '';
    while (sysread($c, my $chunk, 4096)) { $buf .= $chunk; last if $buf =~ /get-master-addr-by-name/i && $buf =~ /\r\n\z/ }
    syswrite($c, ($buf =~ /AUTH/i ? "+OK\r\n" : '') . $reply);
    1 while sysread($c, my $rest, 4096);
    close $c;
}
PERL
sub fake_sentinel {
    my ($reply) = @_;
    my $p = free_port();
    my $proc = Test::Levqor::Process::spawn_server(name => "fake-sentinel-$p", cmd => [$^X, '-e', $fake, $p, $reply],
        ready => sub { $_[0]->log_text =~ /listening/ });
    return [$p, $proc];
}
sub naming { my ($port) = @_; return '*2\r\n$9\r\n127.0.0.1\r\n$' . length($port) . '\r\n' . $port . '\r\n' }

sub limit_of { return get(@_)->{headers}{'x-limit'} // '' }

# ---- decisions on the master, exact across two nginx ----------------------------
{
    $g->master->cli('FLUSHALL');
    my ($a, $b) = (limited_nginx(), limited_nginx());
    is(limit_of($a, '/big', 'on-redis'), 'PASSED', 'a Sentinel zone decides on Redis (PASSED, not FALLBACK_*)');
    like($g->master->cli('KEYS', 'levqor:{api}:k:big:*'), qr/^levqor:\{api\}:k:big:[0-9a-f]{32}$/m,
         'the bucket keys are on the master the Sentinels name');
    my @st = map { get($_ % 2 ? $a : $b, '/t', 'shared')->{status} } 1 .. 8;
    is(scalar(grep { $_ == 200 } @st), 5, 'two nodes through the Sentinel URL, one key: 5 pass in total');
    is_deeply([@st[5 .. 7]], [429, 429, 429], 'then both nodes reject');
    like($a->error_log, qr/sentinel 127\.0\.0\.1:\d+ names 127\.0\.0\.1:${\ $g->master->port} as master "levqor"/,
         'the worker logs the master a Sentinel named');
    unlike($a->error_log . $b->error_log, qr/data-secret|sentinel-secret/, 'the passwords are never logged');
    $_->stop for $a, $b;
}

# ---- Sentinels with a password ------------------------------------------------------
{
    my $ng = limited_nginx(sentinel_auth => 0, wait => 0);
    my $l = '';
    wait_until(5, sub { $l = limit_of($ng, '/big', 'no-auth'); $ng->error_log =~ /NOAUTH/ }, 0.05);
    is($l, 'FALLBACK_PASSED', 'without sentinel_auth_file= Sentinels with requirepass name no master: the fallback decides');
    like($ng->error_log, qr/sentinel 127\.0\.0\.1:\d+: no valid address for master "levqor": NOAUTH/,
         'the Sentinel\'s refusal is logged');
    unlike($ng->error_log, qr/sentinel-secret|data-secret/, 'no password in the log');
    $ng->stop;
}

# ---- an unreachable first Sentinel -----------------------------------------------
{
    my $dead = free_port();
    (my $with_dead = $url) =~ s{@}{\@127.0.0.1:$dead,};
    like($with_dead, qr{^redis-sentinel://:data-secret\@127\.0\.0\.1:$dead,127\.0\.0\.1:\d+,}, 'URL with a dead first Sentinel');
    my $ng = limited_nginx(url => $with_dead);
    is(limit_of($ng, '/big', 'dead-first'), 'PASSED', 'an unreachable first Sentinel: the next one names the master');
    like($ng->error_log, qr/sentinel 127\.0\.0\.1:$dead did not name master "levqor"/, 'the dead Sentinel is logged');
    $ng->stop;
}

# ---- Sentinels that name no usable master ---------------------------------------
# Two stand-in Sentinels ahead of the real ones: one names the replica (a
# real node whose ROLE is "slave"), one a host name. The worker refuses
# both and decides on the master the real Sentinels name.
{
    my $replica = ($g->replicas)[0];
    my @fakes = map { fake_sentinel($_) } naming($replica->port), '*2\r\n$9\r\nlocalhost\r\n$4\r\n6379\r\n';
    (my $with_fakes = $url) =~ s{@}{'@' . join('', map { "127.0.0.1:$_->[0]," } @fakes)}e;
    $g->master->cli('FLUSHALL');
    my $ng = limited_nginx(url => $with_fakes);
    is(limit_of($ng, '/big', 'fakes'), 'PASSED', 'Sentinels naming a replica or a host name are passed over');
    like($ng->error_log, qr/redis 127\.0\.0\.1:${\ $replica->port} is not the master \(ROLE slave\)/,
         'a named node whose ROLE is not master is refused');
    like($ng->error_log, qr/sentinel 127\.0\.0\.1:$fakes[1][0]: no valid address for master "levqor"/,
         'a host name instead of an address is refused');
    $_->[1]->stop for @fakes;
    $ng->stop;
}

# ---- a graceful failover: the old master turns read-only --------------------------
{
    my $ng = limited_nginx();
    my ($i, %status) = (0);
    my $one = sub {
        my $res = get($ng, '/big', 'graceful-' . ($i++ % 50));
        $status{$res->{status}}++;
        return $res->{headers}{'x-limit'} // '';
    };
    my $old = $g->master;
    ($g->sentinels)[0]->cli('SENTINEL', 'FAILOVER', 'levqor');
    my $new = $g->wait_failover(30, during => sub { $one->() for 1 .. 3 });
    ok($new, 'SENTINEL FAILOVER: the replica is promoted') or BAIL_OUT('no failover');
    # Sentinel demotes the old master (REPLICAOF, then CLIENT KILL TYPE
    # normal): each worker loses its connection and asks again.
    my $newport = $new->port;
    my $followed = sub {
        my %workers = map { ($_ => 1) } $ng->error_log =~ /(\d+)#\d+: levqor_limit_zone "api": sentinel \S+ names 127\.0\.0\.1:$newport /g;
        return keys(%workers) >= 2;
    };
    ok(wait_until(15, sub { $one->() for 1 .. 3; $followed->() }, 0.02), 'both workers follow the new master')
        or diag($ng->error_log);
    my $run = 0;
    ok(wait_until(10, sub { $run = $one->() eq 'PASSED' ? $run + 1 : 0; $run >= 10 }, 0.02),
       'decisions on Redis again within 10 s, on the new master');
    is(scalar(grep { $_ >= 500 } keys %status), 0, 'no 5xx') or diag(join ' ', map { "$_=$status{$_}" } sort keys %status);
    $ng->stop;
}

# ---- kill -9 of the master under steady requests ---------------------------------
{
    my $ng = limited_nginx();
    my (%status, %limit, @log);
    my $i = 0;
    my $one = sub {
        my $res = get($ng, '/big', 'steady-' . ($i++ % 50));
        my $l = $res->{headers}{'x-limit'} // '';
        $status{$res->{status}}++;
        $limit{$l}++;
        push @log, [time, $l];
        return $l;
    };
    $one->() for 1 .. 20;
    is_deeply([keys %limit], ['PASSED'], 'before the kill: every decision on Redis');
    my $old = $g->kill_master(9);
    my $t_kill = time;
    my $new = $g->wait_failover(30, during => sub { $one->() for 1 .. 3 });
    ok($new, 'the Sentinels fail over to the replica') or BAIL_OUT('no failover');
    my $t_failover = time;
    # Back on Redis: 10 PASSED in a row (both workers), polled.
    my $run = 0;
    my $back = wait_until(10, sub {
        $run = $one->() eq 'PASSED' ? $run + 1 : 0;
        return $run >= 10;
    }, 0.02);
    my $t_back = time;
    ok($back, sprintf('decisions on Redis again within 10 s of the failover (%.1f s after it, %.1f s after the kill)',
                      $t_back - $t_failover, $t_back - $t_kill));
    is(scalar(grep { $_ >= 500 } keys %status), 0, 'no 5xx during the failover')
        or diag(join ' ', map { "$_=$status{$_}" } sort keys %status);
    ok(($limit{FALLBACK_PASSED} // 0) > 0, "FALLBACK_PASSED during the gap ($limit{FALLBACK_PASSED} of $i requests)");
    is(scalar(grep { !/^(PASSED|FALLBACK_PASSED)$/ } keys %limit), 0, 'nothing but PASSED and FALLBACK_PASSED')
        or diag(join ' ', map { "$_=$limit{$_}" } sort keys %limit);
    like($g->master->cli('KEYS', 'levqor:{api}:k:big:*'), qr/^levqor:\{api\}:k:big:[0-9a-f]{32}$/m,
         'the buckets are written on the new master');
    like($ng->error_log, qr/names 127\.0\.0\.1:${\ $new->port} as master "levqor"/, 'the worker followed the new master');
    $ng->stop;
}

# ---- a master demoted under the worker: -READONLY ----------------------------------
# A server the (stand-in) Sentinel keeps naming is turned into a replica
# without closing its clients (an operator's REPLICAOF): the next batch is
# refused with -READONLY; the worker drops the connection, asks again,
# refuses the node by its ROLE and decides locally (no 5xx) until a master is named.
{
    my $r = Test::Levqor::Redis->new(password => 'data-secret');
    my $f = fake_sentinel(naming($r->port));
    my $ng = limited_nginx(url => "redis-sentinel://:data-secret\@127.0.0.1:$f->[0]/levqor");
    is(limit_of($ng, '/big', 'ro'), 'PASSED', 'the server the Sentinel names decides');
    $r->cli('REPLICAOF', '127.0.0.1', $g->master->port);
    my %limit;
    ok(wait_until(10, sub {
        my $res = get($ng, '/big', 'ro-' . int(rand(50)));
        $limit{$res->{headers}{'x-limit'} // ''}++;
        $limit{http5xx}++ if $res->{status} >= 500;
        return $ng->error_log =~ /redis 127\.0\.0\.1:${\ $r->port} is not the master \(ROLE slave\)/;
    }, 0.02), 'after REPLICAOF the worker refuses the node by its ROLE') or diag($ng->error_log);
    like($ng->error_log, qr/redis 127\.0\.0\.1:${\ $r->port} is read-only \(no longer the master\); asking the sentinels/,
         'the -READONLY reply to a batch made the worker ask the Sentinels again');
    ok(!$limit{http5xx}, 'no 5xx');
    ok(($limit{FALLBACK_PASSED} // 0) > 0, 'the fallback decides meanwhile');
    $ng->stop;
    $f->[1]->stop;
    $r->stop;
}

# ---- nginx -t never shows the password ------------------------------------------
{
    my $ng = Test::Levqor::Nginx->new(
        http_config => "levqor_limit_zone api:1m redis=redis-sentinel://:topsecret\@127.0.0.1:26379/bad*name "
            . "key_secret_file=$key;");
    my ($ok, $out) = $ng->test_config;
    ok(!$ok, 'nginx -t refuses a bad Sentinel URL');
    like($out, qr/levqor_limit_zone.*redis-sentinel:\/\/\*\*\*\@127\.0\.0\.1:26379\/bad\*name/, 'naming the directive and the URL');
    unlike($out, qr/topsecret/, 'with the password masked');
}

run_tests();

__DATA__

=== TEST 1: a Sentinel URL without a master name
--- http_config
levqor_limit_zone api:1m redis=redis-sentinel://:topsecret@127.0.0.1:26379 key_secret_file=$TEST_NGINX_REDIS_KEY;
--- must_die
"levqor_limit_zone" directive no master name in redis url "redis-sentinel://***@127.0.0.1:26379"

=== TEST 2: an invalid master name
--- http_config
levqor_limit_zone api:1m redis=redis-sentinel://:topsecret@127.0.0.1:26379/bad*name key_secret_file=$TEST_NGINX_REDIS_KEY;
--- must_die
"levqor_limit_zone" directive redis url "redis-sentinel://***@127.0.0.1:26379/bad*name": invalid master name, expected 1 to 64 bytes of A-Z a-z 0-9 . _ -

=== TEST 3: more than 16 Sentinels
--- http_config
levqor_limit_zone api:1m redis=redis-sentinel://:topsecret@127.0.0.1:1,127.0.0.1:2,127.0.0.1:3,127.0.0.1:4,127.0.0.1:5,127.0.0.1:6,127.0.0.1:7,127.0.0.1:8,127.0.0.1:9,127.0.0.1:10,127.0.0.1:11,127.0.0.1:12,127.0.0.1:13,127.0.0.1:14,127.0.0.1:15,127.0.0.1:16,127.0.0.1:17/m key_secret_file=$TEST_NGINX_REDIS_KEY;
--- must_die
17 sentinels, expected at most 16

=== TEST 4: a Sentinel that does not resolve
--- http_config
levqor_limit_zone api:1m redis=redis-sentinel://:topsecret@127.0.0.1:26379,no-such-host.invalid/m key_secret_file=$TEST_NGINX_REDIS_KEY;
--- must_die
"levqor_limit_zone" directive redis url "redis-sentinel://***@127.0.0.1:26379,no-such-host.invalid/m": sentinel cannot resolve "no-such-host.invalid"

=== TEST 5: a bad Sentinel port
--- http_config
levqor_limit_zone api:1m redis=redis-sentinel://:topsecret@127.0.0.1:0/m key_secret_file=$TEST_NGINX_REDIS_KEY;
--- must_die
"levqor_limit_zone" directive invalid port in redis url "redis-sentinel://***@127.0.0.1:0/m", expected 1 to 65535

=== TEST 6: Redis Cluster is still refused
--- http_config
levqor_limit_zone api:1m redis=redis-cluster://:topsecret@127.0.0.1:7000 key_secret_file=$TEST_NGINX_REDIS_KEY;
--- must_die
redis url "redis-cluster://***@127.0.0.1:7000": redis-cluster:// is not supported by levqor_limit_zone yet
