#!/usr/bin/perl
# SPDX-License-Identifier: Apache-2.0
# make soak: SOAK_SECONDS (default 600) of mixed traffic against one nginx
# (the built module, master + 2 workers), levqor-controld (Redis queue) and
# redis-server, all on 127.0.0.1, while every SOAK_PERIOD seconds (default 60)
# Redis is restarted, controld is killed with SIGKILL and started again, and
# nginx is reloaded. docs/testing.md ("Soak") describes it.
#
# Traffic: wrk (scripts/soak/traffic.lua) over security headers, local and
# Redis-backed limits (some keys over their limit), GitHub webhooks (valid,
# replayed, badly signed), levqor_status; scripts/soak/producer.pl POSTs jobs
# (http jobs to a local target, noop, batches) and reads /healthz and /metrics.
#
# Goals (exit 1 if one is missed):
#   - no 5xx outside the documented fail-closed answers (nginx: 503
#     FALLBACK_DENIED, 500 for a webhook check that failed internally;
#     controld: 503 queue_unavailable);
#   - no nginx worker crashed ("exited on signal");
#   - flat resources: RSS and open descriptors of the nginx master, of the
#     workers (largest) and of controld, sampled at the same age (just before
#     the first restarts, and at the end), grow by at most 20 % + 4 MiB
#     (controld: 50 % + 8 MiB: its thread pool and job batches vary) and
#     by at most 4 descriptors, plus the client connections that may be open;
#   - no job lost: every job controld accepted ends succeeded or dead within
#     SOAK_DRAIN_SECONDS (default 120) after the traffic stops.
#
# Other knobs: SOAK_CONNECTIONS (8), SOAK_DELAY_MS (20: each connection sends
# a request every 20 ms), SOAK_JOB_REQUESTS_PER_SECOND (4), LEVQOR_BUILD.
# LEVQOR_TEST_KEEP=1 keeps the work directories (their paths are printed).
# make soak-asan runs it on the sanitized tree (LEVQOR_NGINX_PRELOAD, as in
# make t-asan): then any ASan/UBSan report is a missed goal too.
use strict;
use warnings;
use FindBin ();
use lib "$FindBin::Bin/../../t/lib";

use Digest::SHA qw(hmac_sha256_hex);
use HTTP::Tiny;
use IO::Socket::INET;
use JSON::PP ();
use Time::HiRes qw(time sleep);

use Test::Levqor::Controld;
use Test::Levqor::Nginx;
use Test::Levqor::Process qw(spawn_server);
use Test::Levqor::Redis;
use Test::Levqor::Sanitizer ();
use Test::Levqor::Util qw(build_dir free_port repo_root slurp spew temp_dir);

$| = 1;
my %opt = (
    seconds     => $ENV{SOAK_SECONDS} // 600,
    period      => $ENV{SOAK_PERIOD} // 60,
    connections => $ENV{SOAK_CONNECTIONS} // 8,
    delay_ms    => $ENV{SOAK_DELAY_MS} // 20,
    job_rate    => $ENV{SOAK_JOB_REQUESTS_PER_SECOND} // 4,
    drain       => $ENV{SOAK_DRAIN_SECONDS} // 120,
);
die "soak: SOAK_PERIOD ($opt{period}) must be shorter than SOAK_SECONDS ($opt{seconds})\n"
    unless $opt{period} > 0 && $opt{period} < $opt{seconds};
my $JSON = JSON::PP->new->canonical;
my $work = temp_dir('soak');
if (Test::Levqor::Sanitizer::active()) {
    # nginx gets its options from Test::Levqor::Sanitizer; these reach controld
    # (which a SIGKILL ends before any leak check).
    my $dir = Test::Levqor::Sanitizer::log_dir() // die "soak: LEVQOR_NGINX_PRELOAD needs LEVQOR_SANITIZER_LOG_DIR\n";
    $ENV{LEVQOR_SANITIZER_TAG} = 'soak';
    $ENV{ASAN_OPTIONS} = "detect_leaks=0:abort_on_error=1:halt_on_error=1:log_path=$dir/soak.asan";
    $ENV{UBSAN_OPTIONS} = "halt_on_error=1:print_stacktrace=1:log_path=$dir/soak.ubsan";
}
my $secret = 'soak-github-secret';
spew("$work/github.secret", "$secret\n");

# ---- the servers -------------------------------------------------------------------

sub start_target {
    my $port = free_port();
    my $proc = spawn_server(
        name  => 'job-target',
        cmd   => [$^X, repo_root() . '/t/lib/Test/Levqor/job_target.pl', $port, "$work/deliveries", 8],
        ready => sub { IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port", Timeout => 1) },
    );
    return ($proc, $port);
}

sub configure_nginx {
    my ($ng, $redis_port, $flags_file) = @_;
    my ($prefix, $app_port) = ($ng->prefix, $ng->port2);
    # key_secret_file= of the redis zone (required with redis=).
    open my $kf, '>', "$prefix/redis.key" or die "$prefix/redis.key: $!";
    print $kf "soak-only secret, 32+ bytes long\n";
    close $kf;
    $ng->configure(http_config => <<HTTP, config => <<CONF);
levqor_limit_zone soak_local:1m;
levqor_limit_zone soak_redis:1m redis=redis://127.0.0.1:$redis_port redis_timeout=100 key_secret_file=$prefix/redis.key;
levqor_plan soak key=20r/s ip=100000r/s;
levqor_webhook_replay_zone soak_replay:1m;
levqor_flags_file $flags_file;
log_format soak '\$status \$request_method \$uri \$levqor_limit_status \$levqor_webhook_status';
access_log $prefix/logs/access.log soak buffer=64k flush=1s;
server {
    listen 127.0.0.1:$app_port;
    access_log off;
    location / { return 200 "ok\\n"; }
}
HTTP
location = /h { levqor_headers on; empty_gif; }
location = /local { levqor_limit zone=soak_local key=\$http_x_api_key plan=soak; empty_gif; }
location = /redis { levqor_limit zone=soak_redis key=\$http_x_api_key plan=soak; empty_gif; }
location = /hooks/github {
    levqor_webhook github secret_file=$work/github.secret replay=soak_replay;
    proxy_pass http://127.0.0.1:$app_port;
}
location = /hooks/github-open {
    levqor_webhook github secret_file=$work/github.secret;
    proxy_pass http://127.0.0.1:$app_port;
}
location = /levqor/status { levqor_status; }
CONF
}

sub make_controld {
    my ($redis_port, $nginx_port, $target_port) = @_;
    return Test::Levqor::Controld->new(config => {
        nginx_status_urls => ["http://127.0.0.1:$nginx_port/levqor/status"],
        http_job_allow    => ["http://127.0.0.1:$target_port/"],
        redis_url         => "redis://127.0.0.1:$redis_port",
        flags => { SECURITY_HEADERS_ENABLED => 'on', RATELIMIT_ENABLED => 'on', WEBHOOK_VERIFY_ALL => 'on',
                   ABUSE_GUARDS_ENABLED => 'off', NEW_QUEUE_ENABLED => 'on' },
        # Short enough that jobs held by a killed controld come back within the drain.
        queue => { workers => 4, visibility_timeout_s => 10, http_timeout_ms => 3000,
                   retry_delays_s => { default => [1, 2] } },
    });
}

# ---- resources -----------------------------------------------------------------------

sub proc_usage {
    my ($pid) = @_;
    return undef unless $pid;
    my ($rss) = (slurp("/proc/$pid/status") // '') =~ /^VmRSS:\s+(\d+)/m or return undef;
    opendir(my $dh, "/proc/$pid/fd") or return undef;
    my $fds = grep { !/^\./ } readdir $dh;
    return { rss_kb => $rss, fds => $fds };
}

sub sample {
    my ($label, $ng, $cd, $redis) = @_;
    my @workers = grep { defined } map { proc_usage($_) } $ng->worker_pids;
    my $largest = sub { my $k = shift; (sort { $b <=> $a } map { $_->{$k} } @workers)[0] };
    return {
        label    => $label,
        master   => proc_usage($ng->pid),
        workers  => @workers ? { rss_kb => $largest->('rss_kb'), fds => $largest->('fds') } : undef,
        controld => proc_usage($cd->proc && $cd->proc->alive ? $cd->proc->pid : undef),
        redis    => proc_usage($redis->pid),
    };
}

sub usage_text {
    my ($u) = @_;
    return sprintf('%-19s', '-') unless $u;
    return sprintf('%7.1f MiB %4d fds', $u->{rss_kb} / 1024, $u->{fds});
}

sub print_sample {
    my ($s) = @_;
    printf "  %-6s %s  %s  %s  %s\n", $s->{label}, map { usage_text($s->{$_}) } qw(master workers controld redis);
}

# ---- the disruptions -----------------------------------------------------------------

sub disrupt {
    my ($ng, $cd, $redis, $round) = @_;
    my @problems;
    $redis->restart;
    $cd->proc->kill('KILL');
    $cd->proc->wait_exit(5);
    rename $cd->log_file, $cd->log_file . ".$round";
    eval { $cd->start; 1 } or push @problems, "controld did not start again: $@";
    $ng->reload or push @problems, 'nginx reload: ' . $ng->last_error;
    return @problems;
}

# ---- traffic -------------------------------------------------------------------------

# Signed GitHub deliveries with distinct bodies, more than wrk can send to
# the replay-protected location in the whole run (one request in 12 is one).
sub write_deliveries {
    my $count = int($opt{seconds} * $opt{connections} * 1000 / $opt{delay_ms} / 12) + 100;
    my $file = "$work/deliveries.tsv";
    open my $fh, '>', $file or die "$file: $!";
    for my $n (1 .. $count) {
        my $body = qq({"ref":"refs/heads/main","soak":$n});
        print {$fh} "$body\tsha256=", hmac_sha256_hex($body, $secret), "\n";
    }
    close $fh or die "$file: $!";
    return $file;
}

sub start_traffic {
    my ($ng, $cd, $target_port) = @_;
    my $threads = 2;
    my $wrk = Test::Levqor::Process->spawn(
        name => 'wrk', log => "$work/wrk.log",
        cmd  => ['wrk', "-t$threads", "-c$opt{connections}", "-d$opt{seconds}s", '--timeout', '5s',
                 '-s', "$FindBin::Bin/traffic.lua", 'http://127.0.0.1:' . $ng->port],
        env  => { SOAK_DELAY_MS => $opt{delay_ms}, SOAK_THREADS => $threads, SOAK_DELIVERIES => write_deliveries() },
    );
    my $producer = Test::Levqor::Process->spawn(
        name => 'producer', log => "$work/producer.log",
        cmd  => [$^X, "$FindBin::Bin/producer.pl", $cd->url, $cd->token_file('producer'),
                 "http://127.0.0.1:$target_port", $opt{seconds}, $opt{job_rate}, $work],
    );
    return ($wrk, $producer);
}

# ---- results -------------------------------------------------------------------------

# nginx's answers from the access log: counts by status, and every 5xx by
# "status method uri limit_status webhook_status".
sub nginx_answers {
    my ($ng) = @_;
    my (%status, %errors, %outcomes);
    for my $line (split /\n/, slurp($ng->prefix . '/logs/access.log') // '') {
        my ($code, undef, undef, $limit, $webhook) = split / /, $line;
        next unless ($code // '') =~ /^\d{3}$/;
        $status{$code}++;
        $errors{$line}++ if $code >= 500;
        $outcomes{$_}++ for grep { defined && $_ ne '-' } $limit, $webhook;
    }
    return (\%status, \%errors, \%outcomes);
}

sub documented_nginx_5xx {
    my ($line) = @_;
    my ($code, undef, undef, $limit, $webhook) = split / /, $line;
    return ($code == 503 && ($limit // '') eq 'FALLBACK_DENIED') || ($code == 500 && ($webhook // '') eq 'ERROR');
}

sub wrk_summary {
    my $text = slurp("$work/wrk.log") // '';
    my ($requests) = $text =~ /(\d+) requests in/;
    my ($errors) = $text =~ /Socket errors: ([^\n]+)/;
    return sprintf('%s requests; socket errors: %s', $requests // '?', $errors // 'none');
}

# Polls GET /jobs/{id} until every accepted job is succeeded or dead.
sub drain_jobs {
    my ($cd) = @_;
    my %expect = map { split / / } grep { /\S/ } split /\n/, slurp("$work/accepted") // '';
    my $http = HTTP::Tiny->new(timeout => 5, keep_alive => 1);
    my $auth = { Authorization => 'Bearer ' . $cd->producer_token };
    my (%final, %last);
    my $deadline = time + $opt{drain};
    while (1) {
        for my $id (grep { !$final{$_} } keys %expect) {
            my $res = $http->get($cd->url . "/jobs/$id", { headers => $auth });
            my $state = $res->{status} == 200 ? eval { $JSON->decode($res->{content})->{status} } : "HTTP $res->{status}";
            $last{$id} = $state // '?';
            $final{$id} = $state if ($state // '') =~ /^(succeeded|dead)$/;
        }
        last if keys %final == keys %expect || time > $deadline;
        sleep 1;
    }
    my @lost = grep { !$final{$_} } sort keys %expect;
    my @unexpected = grep { $final{$_} && $final{$_} ne $expect{$_} } sort keys %expect;
    return {
        accepted   => scalar(keys %expect),
        succeeded  => scalar(grep { $_ eq 'succeeded' } values %final),
        dead       => scalar(grep { $_ eq 'dead' } values %final),
        lost       => [map { "$_ ($last{$_})" } @lost],
        unexpected => [map { "$_ (expected $expect{$_}, got $final{$_})" } @unexpected],
    };
}

sub grew {
    my ($start, $end, $ratio, $slack_kb, $fd_slack) = @_;
    return 'not sampled' unless $start && $end;
    my @why;
    push @why, sprintf('RSS %.1f -> %.1f MiB', $start->{rss_kb} / 1024, $end->{rss_kb} / 1024)
        if $end->{rss_kb} > $start->{rss_kb} * $ratio + $slack_kb;
    push @why, "fds $start->{fds} -> $end->{fds}" if $end->{fds} > $start->{fds} + $fd_slack;
    return join ', ', @why;
}

sub report {
    my ($ng, $jobs, $start, $end, @problems) = @_;
    my ($status, $errors, $outcomes) = nginx_answers($ng);
    my @undocumented = grep { !documented_nginx_5xx($_) } sort keys %$errors;
    my $total = 0;
    $total += $_ for values %$status;
    print "== nginx: $total requests (access log): ",
        join(', ', map { "$_ x$status->{$_}" } sort keys %$status), "\n";
    print '   limit and webhook outcomes: ', join(', ', map { "$_ x$outcomes->{$_}" } sort keys %$outcomes), "\n";
    print "   5xx: ", (%$errors ? join('; ', map { "'$_' x$errors->{$_}" } sort keys %$errors) : 'none'), "\n";
    print '   wrk: ', wrk_summary(), "\n";
    my $log = slurp($ng->error_log_file) // '';
    my @crashes = $log =~ /^(.*exited on signal.*)$/mg;
    my @alerts = grep { !/exited on signal/ } $log =~ /^(.*\[(?:alert|crit|emerg)\].*)$/mg;
    print '   error log: ', scalar(@crashes), ' crashed workers, ', scalar(@alerts), " other alert/crit/emerg lines\n";
    print "     $_\n" for (@crashes, @alerts)[0 .. min(4, @crashes + @alerts - 1)];

    my $producer = eval { $JSON->decode(slurp("$work/producer.json")) } // { answers => {} };
    my $answers = $producer->{answers};
    # 599 is HTTP::Tiny's "no answer" (controld restarting), not a status controld sent.
    my @controld_5xx = grep { /^(?:\/\S+ )?5\d\d/ && !/^(?:\/\S+ )?(?:599|503 queue_unavailable)\b/ } sort keys %$answers;
    print "== controld: ", $producer->{requests} // '?', ' job requests (', $producer->{given_up} // '?',
        ' given up after 15 s of retries); answers: ', join(', ', map { "$_ x$answers->{$_}" } sort keys %$answers), "\n";
    print "   jobs: $jobs->{accepted} accepted, $jobs->{succeeded} succeeded, $jobs->{dead} dead, ",
        scalar(@{ $jobs->{lost} }), ' lost, ', scalar(@{ $jobs->{unexpected} }), " with an unexpected outcome\n";
    print "     lost: $_\n" for @{ $jobs->{lost} }[0 .. min(9, $#{ $jobs->{lost} })];
    print "     unexpected: $_\n" for @{ $jobs->{unexpected} }[0 .. min(9, $#{ $jobs->{unexpected} })];

    my $conn = $opt{connections};
    my @goals = (
        ['no 5xx outside the documented fail-closed answers',
         join('; ', @undocumented, @controld_5xx)],
        ['no crashed nginx worker', @crashes ? scalar(@crashes) . ' crashed' : ''],
        ['nginx master flat', grew($start->{master}, $end->{master}, 1.2, 4096, 4)],
        ['nginx workers flat', grew($start->{workers}, $end->{workers}, 1.2, 4096, 4 + $conn)],
        ['controld flat', grew($start->{controld}, $end->{controld}, 1.5, 8192, 16)],
        ['no job lost', @{ $jobs->{lost} } ? scalar(@{ $jobs->{lost} }) . ' lost' : ''],
        ['the restarts worked', join('; ', @problems)],
        (Test::Levqor::Sanitizer::active() ? (['no ASan/UBSan report', sanitizer_findings()]) : ()),
    );
    print "== goals\n";
    printf "  %-4s %s%s\n", $_->[1] eq '' ? 'ok' : 'FAIL', $_->[0], $_->[1] eq '' ? '' : ": $_->[1]" for @goals;
    my $failed = grep { $_->[1] ne '' } @goals;
    print $failed ? "soak: FAIL\n" : "soak: PASS\n";
    exit($failed ? 1 : 0);
}

sub min { $_[0] < $_[1] ? $_[0] : $_[1] }

# "N reports: <first SUMMARY line>" (the reports stay in the log directory).
sub sanitizer_findings {
    my @files = Test::Levqor::Sanitizer::reports() or return '';
    my ($summary) = (slurp($files[0]) // '') =~ /^(SUMMARY: .*)$/m;
    return scalar(@files) . ' report(s) in ' . Test::Levqor::Sanitizer::log_dir() . ', first: ' . ($summary // $files[0]);
}

# ---- main ----------------------------------------------------------------------------

my $redis = Test::Levqor::Redis->new(persist => 1);
my ($target, $target_port) = start_target();
my $ng = Test::Levqor::Nginx->new(master => 1, workers => 2, log_level => 'warn');
my $cd = make_controld($redis->port, $ng->port, $target_port);
configure_nginx($ng, $redis->port, $cd->flags_file);
$cd->start;
$ng->start;
print "== soak: $opt{seconds} s; every $opt{period} s: Redis restarted, controld killed (-9) and started, nginx reloaded\n",
      "   traffic: wrk $opt{connections} connections x 1 request / $opt{delay_ms} ms; ",
      "$opt{job_rate} job requests/s; work dir $work\n",
      sprintf("  %-6s %-20s  %-20s  %-20s  %s\n", 'at', 'nginx master', 'nginx worker (max)', 'controld', 'redis');

my $t0 = time;
my ($wrk, $producer) = start_traffic($ng, $cd, $target_port);
my (@samples, @problems);
for (my $round = 1; $round * $opt{period} < $opt{seconds}; $round++) {
    sleep($t0 + $round * $opt{period} - time) if $t0 + $round * $opt{period} > time;
    push @samples, sample(int(time - $t0 + 0.5) . 's', $ng, $cd, $redis);
    print_sample($samples[-1]);
    push @problems, disrupt($ng, $cd, $redis, $round);
}
sleep($t0 + $opt{seconds} - 1 - time) if $t0 + $opt{seconds} - 1 > time;
push @samples, sample('end', $ng, $cd, $redis);
print_sample($samples[-1]);
$wrk->wait_exit(30) or push @problems, 'wrk did not finish';
$producer->wait_exit(30) or push @problems, 'the job producer did not finish';
my $jobs = drain_jobs($cd);
$ng->stop;
report($ng, $jobs, $samples[0], $samples[-1], @problems);
