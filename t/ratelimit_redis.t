# SPDX-License-Identifier: Apache-2.0
# Cluster-wide rate limits on a real redis-server started by this suite:
# limits shared by two nginx instances, one script call per event-loop
# iteration (batches from many connections at once, exact limits, a hung
# batch falling back once per request), keyed key names, NOSCRIPT,
# password/db/unix socket, Redis killed / hung / restarted (answers within
# the deadline, FALLBACK statuses, no 5xx), allow/deny modes, config errors.
use strict;
use warnings;
use lib 't/lib';
use Test::Levqor;
use Test::Levqor::Redis;
use Time::HiRes qw(time sleep);
use File::Temp ();
use POSIX ();

my $redis = Test::Levqor::Redis->new;
my $port = $redis->port;
$ENV{TEST_NGINX_REDIS_PORT} = $port;
$ENV{TEST_NGINX_REDIS_SOCKET} = $redis->socket;
# The zones' key_secret_file= (one file: every nginx of the suite names the
# same buckets, as the nodes of a cluster do).
my $keydir = File::Temp::tempdir('levqor-rkey-XXXXXX', TMPDIR => 1, CLEANUP => 1);
sub key_file {
    my ($name, $text) = @_;
    my $path = "$keydir/$name";
    open my $fh, '>', $path or die "$path: $!";
    print $fh $text;
    close $fh;
    return $path;
}
my $key = key_file('redis.key', "0123456789abcdef0123456789abcdef\n");
$ENV{TEST_NGINX_REDIS_KEY} = $key;
$ENV{TEST_NGINX_REDIS_SHORT_KEY} = key_file('short.key', "short\n");

sub limited_nginx {
    my (%o) = @_;
    my $zone = $o{zone} // "levqor_limit_zone api:1m redis=redis://127.0.0.1:$port redis_timeout=50 key_secret_file=$key;";
    my $ng = Test::Levqor::Nginx->new(master => 1, workers => $o{workers} // 2,
        http_config => "$zone\nlevqor_plan p key=5r/m ip=1000r/m;\nlevqor_plan big key=100000r/m ip=100000r/m;",
        config => <<'CONF');
location /t {
    levqor_limit zone=api key=$http_x_api_key plan=p;
    add_header X-Limit $levqor_limit_status always;
    empty_gif;
}
location /big {
    levqor_limit zone=api key=$http_x_api_key plan=big;
    add_header X-Limit $levqor_limit_status always;
    empty_gif;
}
location /anon {
    levqor_limit zone=api key=$http_x_api_key plan=p ip=off;
    add_header X-Limit $levqor_limit_status always;
    empty_gif;
}
location /gone {
    levqor_limit zone=api key=$http_x_api_key plan=big;
    access_log logs/gone.log;
    empty_gif;
}
location /metrics { levqor_status; }
CONF
    $ng->start;
    return $ng if defined $o{wait} && !$o{wait};
    # Workers connect and load the script right after start.
    my $deadline = time + 5;
    sleep 0.05 until ($ng->request('GET /big', more_headers => 'X-Api-Key: warmup')->{headers}{'x-limit'} // '') eq 'PASSED'
        || time > $deadline;
    return $ng;
}

sub get {
    my ($ng, $path, $key) = @_;
    my $t0 = time;
    my $res = $ng->request("GET $path", more_headers => "X-Api-Key: $key");
    $res->{elapsed} = time - $t0;
    return $res;
}

# ---- two nginx instances share one key's limit -------------------------------
{
    $redis->cli('FLUSHALL');
    my ($a, $b) = (limited_nginx(), limited_nginx());
    my @st = map { get($_ % 2 ? $a : $b, '/t', 'shared')->{status} } 1 .. 8;
    is(scalar(grep { $_ == 200 } @st), 5, 'two nodes, one key: 5 pass in total (one node\'s limit)');
    is_deeply([@st[5 .. 7]], [429, 429, 429], 'then both nodes reject');
    like($redis->cli('KEYS', 'levqor:{api}:k:p:*'), qr/^levqor:\{api\}:k:p:[0-9a-f]{32}$/m, 'hash-tagged key, hashed API key');
    chomp(my $ttl = $redis->cli('PTTL', (split /\n/, $redis->cli('KEYS', 'levqor:{api}:k:p:*'))[0]));
    # 5r/m, 5 charged: the bucket is full again in <= 60 s; the key lives one
    # to five seconds longer (see the script).
    ok($ttl > 0 && $ttl <= 65000, "bucket key expires when the bucket is full again ($ttl ms)");
    is($redis->cli('STRLEN', (split /\n/, $redis->cli('KEYS', 'levqor:{api}:k:p:*'))[0]), "16\n",
       'the bucket\'s state: two 8-byte doubles (TAT, expiry)');

    # Exactly one command per decision: INFO commandstats counts the EVALSHAs,
    # MONITOR shows nothing else came from nginx.
    $redis->cli('CONFIG', 'RESETSTAT');
    get($a, '/big', "stat-$_") for 1 .. 10;
    is($redis->calls('evalsha'), 10, 'INFO commandstats: 10 decisions, 10 EVALSHA calls');
    is($redis->calls('evalsha') + $redis->calls('eval'), 10, 'and no EVAL');
    my $monitor = Test::Levqor::Process->spawn(name => 'monitor', cmd => ['/usr/bin/redis-cli', '-p', $port, 'MONITOR']);
    sleep 0.3;
    get($a, '/big', "one-$_") for 1 .. 10;
    sleep 0.3;
    $monitor->stop(timeout => 2);
    my @top = grep { /"EVALSHA"/i && !/\[\d+ lua\]/ } split /\n/, $monitor->log_text;
    my @others = grep { /^\d+\.\d+ \[\d+ [\d.:]+\]/ && !/"EVALSHA"/i } split /\n/, $monitor->log_text;
    is(scalar(@top), 10, 'Redis saw one EVALSHA per decision');
    is(scalar(@others), 0, 'and no other command from nginx') or diag(join "\n", @others);

    # SCRIPT FLUSH mid-run: transparent.
    $redis->cli('SCRIPT', 'FLUSH');
    my $res = get($a, '/big', 'after-flush');
    is($res->{headers}{'x-limit'}, 'PASSED', 'after SCRIPT FLUSH the decision still comes from Redis');
    is(get($a, '/big', 'after-flush-2')->{headers}{'x-limit'}, 'PASSED', 'and the script is cached again');

    # Redis killed, hung, restarted.
    $redis->kill('KILL');
    sleep 0.1;
    my @down = map { get($a, '/t', "down-$_") } 1 .. 6;
    is_deeply([map { $_->{status} } @down], [(200) x 6], 'Redis killed: requests still answered, no 5xx');
    ok(!(grep { $_->{headers}{'x-limit'} ne 'FALLBACK_PASSED' } @down), 'with FALLBACK_PASSED');
    ok(!(grep { $_->{elapsed} > 1 } @down), 'promptly');
    $redis->start;
    sleep 2.5;  # reconnect backoff
    is(get($a, '/big', 'back')->{headers}{'x-limit'}, 'PASSED', 'Redis restarted: decisions come from Redis again');
    my @again = map { get($_ % 2 ? $a : $b, '/t', 'shared-again')->{status} } 1 .. 6;
    is(scalar(grep { $_ == 200 } @again), 5, 'limits are shared again after Redis returns');

    $redis->kill('STOP');
    my @hung = map { get($a, "/t", "hung") } 1 .. 8;
    $redis->kill('CONT');
    is_deeply([map { $_->{status} } @hung], [(200) x 5, (429) x 3], 'Redis hung: the local fallback decides (5 per key)');
    ok(!(grep { $_->{elapsed} > 1 } @hung), 'every request answered within the deadline plus a margin')
        or diag(join ' ', map { sprintf '%.3f', $_->{elapsed} } @hung);
    is($hung[-1]{headers}{'x-limit'}, 'FALLBACK_REJECTED', 'FALLBACK_REJECTED over the fallback limit');
    my $m = $a->request('GET /metrics')->{body};
    like($m, qr/levqor_ratelimit_backend_errors_total\{backend="redis",zone="api",reason="timeout"\} [1-9]/, 'timeouts counted');
    like($m, qr/levqor_ratelimit_decisions_total\{zone="api",plan="p",result="fallback_passed"\} [1-9]/, 'fallbacks counted');
    $_->stop for $a, $b;
    unlike($a->error_log . $b->error_log, qr/\[(alert|crit|emerg)\]/, 'no alerts');
    like($a->error_log, qr/redis 127\.0\.0\.1:\d+ unavailable .*deciding locally/, 'the outage is logged');
}

# ---- a request finished while resuming after the Redis reply (review M2) ----
# With Connection: close the 429 (or the 200) is sent and the request freed
# inside the resumed phases; nothing may read the request afterwards. glibc's
# MALLOC_PERTURB_ poisons freed memory in master and workers, so a use after
# free crashes a worker instead of passing by luck.
{
    $redis->cli('FLUSHALL');
    my $ng = do { local $ENV{MALLOC_PERTURB_} = 165; limited_nginx() };
    my @st = map {
        $ng->request('GET /t', more_headers => "X-Api-Key: closing\nConnection: close")->{status} // 0
    } 1 .. 300;
    is_deeply([@st[0 .. 4]], [(200) x 5], 'Connection: close, decided by Redis: the plan\'s 5 pass');
    is(scalar(grep { $_ == 429 } @st[5 .. $#st]), 295, 'and the next 295 are rejected, none lost');
    $ng->stop;
    my $crashes = () = $ng->error_log =~ /exited on signal/g;
    is($crashes, 0, 'no worker crashed (freed memory poisoned)');
}

# ---- ip=off: keyless requests share the anonymous bucket in Redis too (L5) ----
{
    $redis->cli('FLUSHALL');
    my ($a, $b) = (limited_nginx(), limited_nginx());
    my @st = map { ($_ % 2 ? $a : $b)->request('GET /anon')->{status} } 1 .. 7;
    is_deeply(\@st, [(200) x 5, 429, 429], 'two nodes, no key, ip=off: one anonymous bucket at the key rate');
    like($redis->cli('KEYS', 'levqor:{api}:a:p:*'), qr/^levqor:\{api\}:a:p:[0-9a-f]{32}$/m, 'kept in Redis as an "a" bucket');
    $_->stop for $a, $b;
}

# ---- batches: the decisions of one event-loop iteration, one script call ----------
# burst(): n connections opened first, then every request written at once
# (raw sockets), then every response read: the workers see many requests
# in one epoll batch.
sub burst {
    my ($ports, $n, $path, $key) = @_;
    my @socks = map {
        IO::Socket::INET->new(PeerAddr => '127.0.0.1:' . $ports->[$_ % @$ports], Timeout => 5) or die "connect: $!"
    } 0 .. $n - 1;
    sleep 0.2;  # accepted, idle: the requests below arrive together
    my $req = "GET $path HTTP/1.1\r\nHost: t\r\nX-Api-Key: $key\r\nConnection: close\r\n\r\n";
    syswrite($_, $req) for @socks;
    my @res;
    for my $s (@socks) {
        local $/;
        my $text = <$s> // '';
        my ($status) = $text =~ m{^HTTP/1\.1 (\d+)};
        my ($limit) = $text =~ m{^X-Limit: (\S+)}mi;
        push @res, { status => $status // 0, limit => $limit // '' };
    }
    return @res;
}
{
    require IO::Socket::INET;
    $redis->cli('FLUSHALL');
    # A deadline no loaded machine reaches (make test runs suites side by
    # side): a batch that times out falls back to the local zone, and the
    # exactness below is Redis's, not the fallback's. The hung batch waits it.
    my $zone = "levqor_limit_zone api:1m redis=redis://127.0.0.1:$port redis_timeout=2000 key_secret_file=$key;";
    my ($a, $b) = (limited_nginx(zone => $zone), limited_nginx(zone => $zone));
    $redis->cli('CONFIG', 'RESETSTAT');
    my @res = burst([$a->port, $b->port], 50, '/big', 'batch');
    is(scalar(grep { $_->{status} == 200 && $_->{limit} eq 'PASSED' } @res), 50, '50 requests at once: all decided by Redis');
    my $calls = $redis->calls('evalsha') + $redis->calls('eval');
    ok($calls > 0 && $calls < 50, "in batches: $calls script calls for 50 decisions (INFO commandstats)");

    # Exactness within and across batches and nodes: one key, plan 5r/m.
    @res = burst([$a->port, $b->port], 50, '/t', 'exact');
    is(scalar(grep { $_->{status} == 200 && $_->{limit} eq 'PASSED' } @res), 5, '50 at once, one key, two nodes: exactly the plan\'s 5 pass');
    is(scalar(grep { $_->{status} == 429 } @res), 45, 'and 45 are rejected');

    # A batch that Redis never answers: every request in it falls back once.
    $redis->kill('STOP');
    @res = burst([$a->port], 30, '/big', 'hung-batch');
    $redis->kill('CONT');
    is(scalar(grep { $_->{status} == 200 && $_->{limit} eq 'FALLBACK_PASSED' } @res), 30,
        'Redis hung: each of the 30 requests of the batch falls back (FALLBACK_PASSED), one response each');
    # The burst may span more than one batch (how many requests one event-loop
    # iteration gathers depends on the machine's load): the first batch's
    # requests time out, a later batch may find the circuit breaker already
    # open (reason unavailable). Either way each request is counted once.
    my $metrics = $a->request('GET /metrics')->{body};
    my %errors = $metrics =~ /^levqor_ratelimit_backend_errors_total\{backend="redis",zone="api",reason="(\w+)"\} (\d+)$/mg;
    my $counted = 0;
    $counted += $_ for values %errors;
    is($counted, 30, 'each request counted once as a backend error')
        or diag join ', ', map { "$_=$errors{$_}" } sort keys %errors;
    cmp_ok($errors{timeout} // 0, '>=', 1, 'the first batch counted as timeouts');
    $_->stop for $a, $b;
    unlike($a->error_log . $b->error_log, qr/\[(alert|crit|emerg)\]/, 'no alerts');
}

# ---- a Redis that keeps the connection but never answers --------------------------
# (stopped process, paused VM, partition without a reset): its batches pass
# their deadline unanswered; the breaker's probes keep adding such batches.
# After 8 of them the worker drops the connection and makes it again, so
# they never hold every batch slot (which left even the probes unsendable).
{
    $redis->cli('FLUSHALL');
    my $ng = limited_nginx();  # redis_timeout=50
    $redis->kill('STOP');
    my ($dropped, $deadline, @st) = (0, time + 20);
    while (!$dropped && time < $deadline) {
        push @st, get($ng, '/big', 'stuck-' . scalar(@st))->{headers}{'x-limit'} // '';
        $dropped = $ng->error_log =~ /batches unanswered past their deadline/;
        sleep 0.05;
    }
    $redis->kill('CONT');
    ok($dropped, 'batches unanswered past their deadline: the connection is dropped and made again (' . scalar(@st) . ' requests)');
    is(scalar(grep { $_ ne 'FALLBACK_PASSED' } @st), 0, 'every request meanwhile decided by the fallback');
    my $st = '';
    $deadline = time + 10;
    while (time < $deadline) {
        $st = get($ng, '/big', 'back-' . int(rand(1e9)))->{headers}{'x-limit'} // '';
        last if $st eq 'PASSED';
        sleep 0.1;
    }
    is($st, 'PASSED', 'Redis answering again: decided by Redis');
    $ng->stop;
}

# A client that goes away while its decision waits is noticed at once (499
# in the access log, as limit_req's delay does), not answered after the
# deadline. One worker, connected (its first decision was Redis's).
{
    require IO::Socket::INET;
    my $ng = limited_nginx(workers => 1, zone => "levqor_limit_zone api:1m redis=redis://127.0.0.1:$port redis_timeout=10000 key_secret_file=$key;");
    $redis->kill('STOP');
    my $gone = IO::Socket::INET->new(PeerAddr => '127.0.0.1:' . $ng->port, Timeout => 5) or die "connect: $!";
    syswrite($gone, "GET /gone HTTP/1.1\r\nHost: t\r\nX-Api-Key: gone\r\n\r\n");
    close $gone;
    my $access = $ng->{prefix} . '/logs/gone.log';
    my $deadline = time + 8;  # (before the 10-s Redis deadline would answer it)
    sleep 0.05 until -s $access || time > $deadline;
    my $log = Test::Levqor::Util::slurp($access) // '';
    $redis->kill('CONT');
    like($log, qr/"GET \/gone HTTP\/1\.1" 499 /, 'a client gone while its decision waits: 499 at once');
    $ng->stop;
}

# ---- a server whose reply never ends ----------------------------------------------
# hiredis keeps a reply's bytes until it is whole: a "Redis" that announces a
# 2 MB reply and sends 1.5 MB of it is dropped once 1 MiB is unread, not
# buffered without bound (nor waited for until the setup deadline).
{
    require IO::Socket::INET;
    my $listen = IO::Socket::INET->new(Listen => 5, LocalAddr => '127.0.0.1:0', ReuseAddr => 1) or die "listen: $!";
    my $fake_port = $listen->sockport;
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        while (my $c = $listen->accept) {
            sysread($c, my $buf, 65536);
            syswrite($c, "\$2000000\r\n" . ('x' x 1_500_000));
            sleep 30;
        }
        POSIX::_exit(0);
    }
    close $listen;
    my $ng = limited_nginx(wait => 0, workers => 1,
        zone => "levqor_limit_zone api:1m redis=redis://127.0.0.1:$fake_port key_secret_file=$key;");
    my $deadline = time + 10;
    sleep 0.05 until $ng->error_log =~ /reply larger than any of ours/ || time > $deadline;
    like($ng->error_log, qr/redis 127\.0\.0\.1:\d+ unavailable \(reply larger than any of ours\)/,
         'a reply that grows past 1 MiB unread: the connection is dropped, and said why');
    is(get($ng, '/t', 'huge')->{headers}{'x-limit'}, 'FALLBACK_PASSED', 'meanwhile decided by the fallback');
    $ng->stop;
    kill 'KILL', $pid;
    waitpid($pid, 0);
}

# ---- the script's numbers: the same fields as the local limiter ---------------------
# t/ratelimit.t TESTs 4-7 again, side by side: one nginx decides in shared
# memory, one on Redis. Remaining, reset and Retry-After from the script (its
# argument encoding, its per-batch writes, all-or-nothing, dry_run, cost)
# must equal the local limiter's, field for field.
{
    $redis->cli('FLUSHALL');
    my $start = sub {
        my ($zone) = @_;
        my $ng = Test::Levqor::Nginx->new(master => 1, workers => 1,
            http_config => "$zone\nlevqor_plan p4 key=10r/m ip=1r/m;\nlevqor_plan p5 key=3r/m ip=2r/m;\n"
                . "levqor_plan p6 key=2r/m ip=100r/m;\nlevqor_plan p7 key=25r/m ip=100r/m;\nlevqor_plan p8 key=2r/m ip=100r/m;",
            config => <<'CONF');
location /t4 { levqor_limit zone=rapi key=$http_x_api_key plan=p4; add_header X-Limit $levqor_limit_status always; empty_gif; }
location /t5 { levqor_limit zone=rapi key=$http_x_api_key plan=p5 ip=$http_x_ip; add_header X-Limit $levqor_limit_status always; empty_gif; }
location /t6 {
    levqor_limit zone=rapi key=$http_x_api_key plan=p6 dry_run;
    add_header X-Limit $levqor_limit_status always;
    add_header X-Remaining $levqor_limit_remaining always;
    empty_gif;
}
location /t7 { levqor_limit zone=rapi key=$http_x_api_key plan=p7 cost=10; add_header X-Limit $levqor_limit_status always; empty_gif; }
location /t8 {
    levqor_limit zone=rapi key=$http_x_api_key plan=p8 dry_run;
    levqor_limit zone=rapi key=$http_x_api_key plan=p8 ip=off;
    add_header X-Limit $levqor_limit_status always;
    empty_gif;
}
CONF
        $ng->start;
        return $ng;
    };
    my $local = $start->('levqor_limit_zone rapi:1m;');
    my $remote = $start->("levqor_limit_zone rapi:1m redis=redis://127.0.0.1:$port redis_timeout=2000 key_secret_file=$key;");
    my $req = sub {
        my ($ng, $path, $k, $ip) = @_;
        my $r = $ng->request("GET $path", more_headers => "X-Api-Key: $k" . (defined $ip ? "\nX-Ip: $ip" : ''));
        my $h = $r->{headers};
        return join ' | ', $r->{status}, map { $h->{$_} // '-' } qw(x-limit ratelimit retry-after x-remaining);
    };
    # Wait until the worker has its connection (the first decisions may fall
    # back), with buckets nothing below uses (another key and address).
    my $deadline = time + 5;
    sleep 0.05 until $req->($remote, '/t5', 'warmup', '10.9.9.9') =~ /\| PASSED \|/ || time > $deadline;
    my @steps = ((['/t4', 'k1']) x 2,
                 ['/t5', 'other1', '10.0.0.5'], ['/t5', 'other2', '10.0.0.5'], (['/t5', 'mine', '10.0.0.5']) x 2,
                 (['/t6', 'd1']) x 3, (['/t7', 'c1']) x 3, (['/t8', 'dup']) x 3);
    my (@want, @got);
    for my $s (@steps) {
        push @want, $req->($local, @$s);
        push @got, $req->($remote, @$s);
    }
    is($want[1], '429 | REJECTED | "p4-key";r=9;t=6, "p4-ip";r=0;t=60 | 60 | -', 'local: t/ratelimit.t TEST 4\'s fields');
    is_deeply(\@got, \@want, 'Redis answers 15 decisions (IP rejects, all-or-nothing, dry_run, cost=10, one bucket named twice) field for field as the local limiter')
        or diag explain { redis => \@got, local => \@want };
    $_->stop for $local, $remote;
}

# ---- key names are keyed by the zone's secret ------------------------------------
# Nodes with another key_secret_file name other buckets (so every node of a
# cluster must read the same file); the name shows no key and no address.
{
    $redis->cli('FLUSHALL');
    my $a = limited_nginx();
    my $b = limited_nginx(zone => "levqor_limit_zone api:1m redis=redis://127.0.0.1:$port redis_timeout=50 key_secret_file="
        . key_file('other.key', "another secret of 32 bytes, okay") . ";");
    get($_, '/t', 'same-key') for $a, $b;
    my @keys = grep { /:k:p:/ } split /\n/, $redis->cli('KEYS', 'levqor:*');
    is(scalar(@keys), 2, 'two secrets, one API key: two buckets in Redis') or diag(join ' ', @keys);
    ok(!(grep { /same-key|127\.0\.0\.1|7f000001/i } split /\n/, $redis->cli('KEYS', 'levqor:*')), 'no key, no address in key names');
    $_->stop for $a, $b;
}

# ---- fallback shares: nodes=2 gives each node half a plan --------------------
{
    my $ng = limited_nginx(zone => "levqor_limit_zone api:1m redis=redis://127.0.0.1:1 nodes=2 key_secret_file=$key;");
    my @st = map { get($ng, '/t', 'half')->{status} } 1 .. 4;
    is_deeply(\@st, [200, 200, 429, 429], 'unreachable at startup: nginx serves, fallback with plan/nodes (5/2 = 2)');
    $ng->stop;
}

# ---- on_backend_error=allow and deny -------------------------------------------
{
    my $ng = limited_nginx(zone => "levqor_limit_zone api:1m redis=redis://127.0.0.1:1 on_backend_error=allow key_secret_file=$key;");
    my @res = map { get($ng, '/t', 'allow') } 1 .. 7;
    ok(!(grep { $_->{status} != 200 || $_->{headers}{'x-limit'} ne 'FALLBACK_ALLOWED' } @res), 'allow: every request passes, FALLBACK_ALLOWED');
    $ng->stop;
    $ng = limited_nginx(zone => "levqor_limit_zone api:1m redis=redis://127.0.0.1:1 on_backend_error=deny key_secret_file=$key;");
    my $r = get($ng, '/t', 'deny');
    is($r->{status}, 503, 'deny: 503');
    is($r->{body}, '{"error":"rate_limiter_unavailable","retry_after":1}', 'with a JSON body');
    is($r->{headers}{'x-limit'}, 'FALLBACK_DENIED', 'FALLBACK_DENIED');
    $ng->stop;
}

# ---- password, database index, unix socket ---------------------------------------
{
    my $secured = Test::Levqor::Redis->new(password => 's3cret pass');
    my $sport = $secured->port;
    my $ng = limited_nginx(zone => "levqor_limit_zone api:1m \"redis=redis://:s3cret pass\@127.0.0.1:$sport/3\" key_secret_file=$key;");
    is(get($ng, '/t', 'pw')->{headers}{'x-limit'}, 'PASSED', 'password and db index from the URL');
    like($secured->cli('-n', '3', 'KEYS', '*'), qr/levqor:\{api\}/, 'buckets are in database 3');
    $ng->stop;
    unlike($ng->error_log, qr/s3cret/, 'the password is never logged');

    my $bad = limited_nginx(zone => "levqor_limit_zone api:1m redis=redis://:wrong\@127.0.0.1:$sport key_secret_file=$key;");
    is(get($bad, '/t', 'wrongpw')->{headers}{'x-limit'}, 'FALLBACK_PASSED', 'wrong password: fallback');
    $bad->stop;
    like($bad->error_log, qr/redis AUTH: WRONGPASS|redis AUTH: ERR/, 'and the refusal is logged');
    unlike($bad->error_log, qr/wrong\@/, 'without the password');

    # An ACL user: AUTH <user> <password>, as controld's queue and health check send it.
    $secured->cli('ACL', 'SETUSER', 'limiter', 'on', '>limiter pw', '~levqor:*', '+@all');
    my $acl = limited_nginx(zone => "levqor_limit_zone api:1m \"redis=redis://limiter:limiter pw\@127.0.0.1:$sport\" key_secret_file=$key;");
    is(get($acl, '/t', 'acl')->{headers}{'x-limit'}, 'PASSED', 'an ACL user from user:password@');
    $acl->stop;

    # SCRIPT LOAD refused (here: no permission; after a restart: -LOADING):
    # the worker drops that connection and connects again later, instead of
    # keeping one that can never decide, and decides on Redis once the
    # script is accepted.
    $secured->cli('ACL', 'SETUSER', 'noscript', 'on', '>noscript pw', '~levqor:*', '+@all', '-script');
    my $ns = limited_nginx(wait => 0,
        zone => "levqor_limit_zone api:1m \"redis=redis://noscript:noscript pw\@127.0.0.1:$sport\" key_secret_file=$key;");
    my $wait_for = sub {
        my ($want) = @_;
        my ($st, $deadline) = ('', time + 10);
        while (time < $deadline) {
            $st = get($ns, '/t', 'ns-' . int(rand(1e9)))->{headers}{'x-limit'} // '';
            last if $st eq $want;
            sleep 0.2;
        }
        return $st;
    };
    is($wait_for->('FALLBACK_PASSED'), 'FALLBACK_PASSED', 'SCRIPT LOAD refused: decided by the fallback');
    $secured->cli('ACL', 'SETUSER', 'noscript', '+script');
    is($wait_for->('PASSED'), 'PASSED', 'once Redis takes the script: decided by Redis again (connected again)');
    $ns->stop;
    like($ns->error_log, qr/SCRIPT LOAD failed: NOPERM/, 'the refusal is logged');
    unlike($acl->error_log, qr/limiter pw/, 'its password is never logged');

    my $sock = $redis->socket;
    my $u = limited_nginx(zone => "levqor_limit_zone api:1m redis=unix:$sock?db=2 key_secret_file=$key;");
    is(get($u, '/t', 'unix')->{headers}{'x-limit'}, 'PASSED', 'unix socket');
    like($redis->cli('-n', '2', 'KEYS', '*'), qr/levqor:\{api\}/, 'with ?db=2');
    $u->stop;
    $secured->stop;
}

run_tests();

__DATA__

=== TEST 1: bad redis url
--- http_config
levqor_limit_zone api:1m redis=http://127.0.0.1:6379;
--- must_die
"levqor_limit_zone" directive invalid redis url "http://127.0.0.1:6379", expected redis://[[user]:password@]host[:port][/db], unix:/path[?db=N], redis-sentinel://

=== TEST 2: the password never appears in an error
--- http_config
levqor_limit_zone api:1m redis=redis://:topsecret@127.0.0.1:99999;
--- must_die
"levqor_limit_zone" directive invalid port in redis url "redis://***@127.0.0.1:99999"

=== TEST 3: redis_timeout range
--- http_config
levqor_limit_zone api:1m redis=redis://127.0.0.1:6379 redis_timeout=0;
--- must_die
"levqor_limit_zone" directive invalid redis_timeout=0, expected 1 to 60000 (ms)

=== TEST 4: on_backend_error values
--- http_config
levqor_limit_zone api:1m redis=redis://127.0.0.1:6379 on_backend_error=maybe;
--- must_die
"levqor_limit_zone" directive invalid on_backend_error=maybe, expected local, allow or deny

=== TEST 5: backend parameters need redis=
--- http_config
levqor_limit_zone api:1m nodes=3;
--- must_die
"levqor_limit_zone" directive redis_timeout=, on_backend_error=, nodes=, key_secret_file= and sentinel_auth_file= need redis=<url>

=== TEST 6: one location, one backend
--- http_config
levqor_limit_zone local:1m;
levqor_limit_zone shared:1m redis=redis://127.0.0.1:$TEST_NGINX_REDIS_PORT key_secret_file=$TEST_NGINX_REDIS_KEY;
--- config
location /t {
    levqor_limit zone=local key=$http_x_api_key plan=free;
    levqor_limit zone=shared key=$http_x_api_key plan=free;
    empty_gif;
}
--- must_die
levqor_limit: the limits of one location must all use local zones or all the same redis zone ("local" and "shared")

=== TEST 7: unresolvable host
--- http_config
levqor_limit_zone api:1m redis=redis://no-such-host.invalid:6379;
--- must_die
cannot resolve "no-such-host.invalid"

=== TEST 8: cost x interval x nodes must not overflow the fallback's arithmetic (review L7)
--- http_config
levqor_limit_zone rz:1m redis=redis://127.0.0.1:$TEST_NGINX_REDIS_PORT key_secret_file=$TEST_NGINX_REDIS_KEY nodes=100;
levqor_plan slow key=1r/h ip=1000r/s;
--- config
location /t { levqor_limit zone=rz key=$http_x_api_key plan=slow cost=100000; empty_gif; }
--- must_die
levqor_limit zone=rz cost=100000: cost x interval x nodes = 100000 x 3600000000000 ns (plan "slow" key=1r/h) x 100 (nodes= of levqor_limit_zone "rz") is not below 2^62 ns; lower cost= or nodes=

=== TEST 9: with a plan from a variable, every plan is checked
--- http_config
levqor_limit_zone rz:1m redis=redis://127.0.0.1:$TEST_NGINX_REDIS_PORT key_secret_file=$TEST_NGINX_REDIS_KEY nodes=2;
levqor_plan hourly key=1000r/s ip=1r/h;
--- config
location /t { levqor_limit zone=rz key=$http_x_api_key plan=$arg_plan cost=1000000; empty_gif; }
--- must_die
(plan "hourly" ip=1r/h) x 2 (nodes= of levqor_limit_zone "rz") is not below 2^62 ns

=== TEST 10: a name without a colon is neither a user nor a password
--- http_config
levqor_limit_zone api:1m redis=redis://app@127.0.0.1:6379;
--- must_die
"levqor_limit_zone" directive credentials without ':' in redis url "redis://***@127.0.0.1:6379", expected redis://:password@host for a password, or redis://user:password@host for an ACL user

=== TEST 11: Cluster URLs parse but are not supported yet
--- http_config
levqor_limit_zone api:1m redis=redis-cluster://:topsecret@127.0.0.1:7000;
--- must_die
redis url "redis-cluster://***@127.0.0.1:7000": redis-cluster:// is not supported by levqor_limit_zone yet

=== TEST 12: a redis zone without key_secret_file= (fail closed)
--- http_config
levqor_limit_zone api:1m redis=redis://127.0.0.1:$TEST_NGINX_REDIS_PORT;
--- must_die
"levqor_limit_zone" directive redis= needs key_secret_file=<path>: a secret (at least 16 bytes) that names the zone's buckets in Redis, the same file on every nginx node sharing the zone

=== TEST 13: a key secret file that cannot be read
--- http_config
levqor_limit_zone api:1m redis=redis://127.0.0.1:$TEST_NGINX_REDIS_PORT key_secret_file=/nonexistent/levqor.key;
--- must_die
"levqor_limit_zone" directive key_secret_file "/nonexistent/levqor.key" cannot be read: No such file or directory

=== TEST 14: a key secret shorter than 16 bytes
--- http_config
levqor_limit_zone api:1m redis=redis://127.0.0.1:$TEST_NGINX_REDIS_PORT key_secret_file=$TEST_NGINX_REDIS_SHORT_KEY;
--- must_die
holds 5 bytes, expected at least 16
