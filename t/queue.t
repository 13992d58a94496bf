#!/usr/bin/perl
# SPDX-License-Identifier: Apache-2.0
# The job queue end to end, on both backends: SQLite (a temp data_dir) and
# Redis (a real redis-server with an fsync-always append-only file):
# bad input, idempotency under 50 concurrent identical POSTs, retry timing
# and the dead-letter queue, DLQ retry (API and levqorctl), 4xx as a
# permanent failure, exec jobs, synchronous mode (NEW_QUEUE_ENABLED=off) on
# its bounded inline runners (503 when they are full), graceful SIGTERM,
# kill -9 of controld while 1,000 http jobs run (taken back at once after
# the restart, duplicates at most the jobs in flight), the queue quota
# (507), and (Redis only) Redis killed and restarted during enqueue. http
# jobs go to job_target.pl, which records every delivery with its
# X-Levqor-Job-Id.
use strict;
use warnings;

use lib 't/lib';
use Test::Levqor;
use Test::Levqor::Controld qw(json_of promtool_check);
use Test::Levqor::Redis;
use Test::Levqor::Util qw(temp_dir slurp slurp_locked run_cmd wait_until repo_root);
use JSON::PP ();
use POSIX ();
use Time::HiRes qw(time sleep);

my $JSON = JSON::PP->new->canonical;
my ($no_redis) = run_cmd('/bin/sh', '-c', 'command -v redis-server');
my @backends = ('sqlite', ($no_redis == 0 ? ('redis') : ()));

# ---- helpers ---------------------------------------------------------------------

sub start_target {
    my ($record) = @_;
    my $port = free_port();
    my $proc = spawn_server(
        name  => 'job-target',
        cmd   => [$^X, repo_root() . '/t/lib/Test/Levqor/job_target.pl', $port, $record, 8],
        ready => sub { IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port", Timeout => 1) },
    );
    return ($proc, $port);
}

sub deliveries {
    my ($file) = @_;
    return map { $JSON->decode($_) } grep { /\S/ } split /\n/, slurp_locked($file) // '';
}

sub post_jobs {
    my ($cd, $body, %args) = @_;
    my $headers = defined $args{key} ? "Idempotency-Key: $args{key}\n" : '';
    my $res = $cd->request('POST /jobs', token => $args{token} // 'producer',
                           body => ref $body ? $JSON->encode($body) : $body,
                           more_headers => $headers, timeout => $args{timeout} || 10);
    return ($res, json_of($res));
}

sub job_of {
    my ($cd, $id) = @_;
    return json_of($cd->request("GET /jobs/$id", token => 'producer'));
}

sub health {
    my ($cd) = @_;
    return json_of($cd->request('GET /ops/queue_health', token => 'admin')) // {};
}

# Waits until nothing waits, runs or is delayed.
sub wait_idle {
    my ($cd, $timeout) = @_;
    return wait_until($timeout || 30, sub {
        my $h = health($cd);
        defined $h->{queue_depth} && $h->{queue_depth} == 0 && $h->{running} == 0
            && $h->{delayed} == 0 && ($h->{spool_size} // 0) == 0;
    }, 0.1);
}

sub wait_status {
    my ($cd, $id, $status, $timeout) = @_;
    my $job;
    wait_until($timeout || 20, sub { $job = job_of($cd, $id); ($job->{status} // '') eq $status }, 0.05);
    return $job;
}

sub metric {
    my ($cd, $pattern) = @_;
    my $text = $cd->request('GET /metrics')->{body} // '';
    return $text =~ /^\Q$pattern\E (\S+)$/m ? $1 : undef;
}

# The names of the consumers of the group "workers" that controlds created.
sub controld_consumers {
    my ($redis) = @_;
    my @lines = split /\n/, $redis->cli('XINFO', 'CONSUMERS', 'levqor:jobs', 'workers') // '';
    my @names;
    for my $i (0 .. $#lines - 1) { push @names, $lines[$i + 1] if $lines[$i] eq 'name' }
    return sort grep { /^controld-/ } @names;
}

# Runs each code ref in its own process at once; returns their printed lines.
sub in_parallel {
    my (@subs) = @_;
    my @pipes;
    for my $sub (@subs) {
        pipe(my $r, my $w) or die "pipe: $!";
        my $pid = fork // die "fork: $!";
        if (!$pid) {
            close $r;
            print {$w} $sub->();
            close $w;
            POSIX::_exit(0);
        }
        close $w;
        push @pipes, [$pid, $r];
    }
    my @out;
    for my $p (@pipes) {
        push @out, scalar(readline($p->[1])) // '';
        waitpid($p->[0], 0);
    }
    chomp @out;
    return @out;
}

# ---- the suite, once per backend ---------------------------------------------------

for my $backend (@backends) {
    my $dir = temp_dir("queue-$backend");
    my $record = "$dir/deliveries.jsonl";
    my ($target, $target_port) = start_target($record);
    my $redis = $backend eq 'redis' ? Test::Levqor::Redis->new(persist => 1) : undef;
    my $base = "http://127.0.0.1:$target_port";
    my $cd = Test::Levqor::Controld->new(
        env => { NEW_QUEUE_ENABLED => 'on',
                 ($redis ? (REDIS_URL => 'redis://127.0.0.1:' . $redis->port) : ()) },
        config => {
            http_job_allow => ["$base/"],
            # The default visibility timeout (30 s) and fetch batch (200): after
            # a kill -9 the jobs must come back at once, not after 30 s, and a
            # batch is larger than what runs at once (4 workers x 16 http jobs).
            queue => {
                workers => 4, fetch_batch => 200, visibility_timeout_s => 30, http_timeout_ms => 1000,
                retry_delays_s => { http => [1, 2, 3], exec => [0.2, 0.2, 0.2] }, max_payload_bytes => 4096,
                shutdown_grace_ms => 4000,
                inline_workers => 1, inline_queue => 1, inline_wait_ms => 1000,
                exec => {
                    echo  => { path => '/bin/echo', args_allowed => JSON::PP::true, timeout_ms => 1000 },
                    sleep => { path => '/bin/sleep', args_allowed => JSON::PP::true, timeout_ms => 1500 },
                    slow  => { path => '/bin/sleep', args => ['1.5'], timeout_ms => 5000 },
                    false => { path => '/bin/false', timeout_ms => 1000 },
                },
            },
        },
    );
    $cd->start;

    subtest "$backend: bad input is a 400 with a JSON error and creates nothing" => sub {
        my @cases = (
            ['{"type":"teleport","payload":{}}', 'unknown_job_type'],
            ['{"type":"noop","payload":{"x":"' . ('a' x 5000) . '"}}', 'payload_too_large'],
            ['{"type":"noop",', 'invalid_json'],
            ['{"type":"noop","payload":{"n":1e999}}', 'invalid_json'],    # a number out of range
            ['{"type":"http","payload":{"url":"http://10.1.2.3/x"}}', 'url_not_allowed'],
            ['{"type":"http","payload":{"url":"gopher://x"}}', 'invalid_url'],
            ['{"type":"http","payload":{"url":"' . $base . '/../x"}}', 'invalid_url'],
            ['{"type":"exec","payload":{"command":"/bin/sh","args":["-c","id"]}}', 'unknown_command'],
            ['{"jobs":[{"type":"noop"},{"type":"nope"}]}', 'unknown_job_type'],
        );
        for my $case (@cases) {
            my ($res, $body) = post_jobs($cd, $case->[0]);
            is($res->{status}, 400, "$case->[1]: 400");
            is($body->{error}, $case->[1], "$case->[1]: code") or diag $res->{body};
            ok($body->{message}, "$case->[1]: message");
        }
        is(health($cd)->{queue_depth}, 0, 'nothing queued');
        is(metric($cd, 'levqor_jobs_enqueued_total{type="noop"}'), 0, 'nothing enqueued');
        is($cd->request('POST /jobs', body => '{"type":"noop"}')->{status}, 401, 'no token: 401');
        is($cd->request('GET /ops/dlq', token => 'producer')->{status}, 403, 'producer on /ops: 403');
        is($cd->request('GET /jobs/0123456789abcdef0123456789abcdef', token => 'producer')->{status},
           404, 'unknown job: 404');
    };

    subtest "$backend: noop jobs, one and a batch" => sub {
        my ($res, $body) = post_jobs($cd, { type => 'noop', payload => { n => 1 } });
        is($res->{status}, 202, 'status 202');
        is($body->{status}, 'queued', 'queued');
        my $job = wait_status($cd, $body->{id}, 'succeeded');
        is($job->{attempts}, 1, 'one attempt');
        ($res, $body) = post_jobs($cd, { jobs => [map { { type => 'noop', payload => { n => $_ } } } 1 .. 500] });
        is($res->{status}, 202, 'batch: 202');
        is(scalar @{ $body->{ids} }, 500, '500 ids');
        ok(wait_idle($cd), 'all processed');
        is(job_of($cd, $body->{ids}[-1])->{status}, 'succeeded', 'the last one succeeded');
    };

    subtest "$backend: 50 concurrent identical POSTs with one Idempotency-Key make one job" => sub {
        my $before = metric($cd, 'levqor_jobs_enqueued_total{type="noop"}');
        my $body = '{"type":"noop","payload":{"order":42}}';
        my @pipes;
        for my $i (1 .. 50) {
            pipe(my $r, my $w) or die "pipe: $!";
            my $pid = fork // die "fork: $!";
            if (!$pid) {
                close $r;
                my ($res, $json) = post_jobs($cd, $body, key => 'order-42');
                print {$w} ($res->{status} // 0) . ' ' . ($json->{id} // '-') . "\n";
                close $w;
                POSIX::_exit(0);
            }
            close $w;
            push @pipes, [$pid, $r];
        }
        my (%ids, %statuses);
        for my $p (@pipes) {
            my $line = readline($p->[1]) // '';
            waitpid($p->[0], 0);
            my ($status, $id) = split ' ', $line;
            $ids{$id // '-'}++;
            $statuses{$status // 0}++;
        }
        is(scalar(keys %ids), 1, 'one id in all 50 answers') or diag explain \%ids;
        is($statuses{202}, 1, 'one 202 (created)') or diag explain \%statuses;
        is($statuses{200}, 49, '49 replays answered 200');
        is(metric($cd, 'levqor_jobs_enqueued_total{type="noop"}'), $before + 1, 'one job enqueued');
        my ($res, $json) = post_jobs($cd, '{"type":"noop","payload":{"order":43}}', key => 'order-42');
        is($res->{status}, 422, 'the key with another body: 422');
        is($json->{error}, 'idempotency_key_reused', 'code');
    };

    subtest "$backend: retries after 1, 2, 3 s (+-10 %), then the dead-letter queue" => sub {
        my ($res, $body) = post_jobs($cd, { type => 'http', payload => { url => "$base/status/503", body => { a => 1 } } });
        is($res->{status}, 202, 'status 202');
        my $id = $body->{id};
        my $job = wait_status($cd, $id, 'dead', 20);
        is($job->{attempts}, 4, '4 attempts');
        is($job->{max_attempts}, 4, 'max_attempts 4');
        like($job->{last_error}, qr/HTTP 503/, 'last error');
        my @seen = grep { ($_->{job_id} // '') eq $id } deliveries($record);
        is(scalar @seen, 4, 'the target saw 4 deliveries');
        is_deeply([map { $_->{attempt} } @seen], [1, 2, 3, 4], 'X-Levqor-Attempt 1..4');
        is($seen[0]{idempotency_key}, $id, 'Idempotency-Key is the job id');
        is($seen[0]{body}, '{"a":1}', 'the body');
        for my $i (1 .. 3) {
            my $gap = $seen[$i]{t} - $seen[$i - 1]{t};
            cmp_ok($gap, '>=', 0.9 * $i, "retry $i: no earlier than 0.9 x $i s");
            cmp_ok($gap, '<=', 1.1 * $i + 1.5, "retry $i: not much later than $i s") ;
        }
        my $dlq = json_of($cd->request('GET /ops/dlq', token => 'admin'));
        ok((grep { $_->{id} eq $id } @{ $dlq->{jobs} }), 'listed in GET /ops/dlq');
        is($dlq->{total}, 1, 'total 1');
        ok(wait_until(3, sub { (metric($cd, 'levqor_dlq_depth') // -1) == 1 }, 0.2), 'levqor_dlq_depth 1');
        is(metric($cd, 'levqor_job_retries_total{type="http"}'), 3, 'levqor_job_retries_total 3');
        is(metric($cd, 'levqor_jobs_total{type="http",result="dead"}'), 1, 'levqor_jobs_total dead 1');
    };

    subtest "$backend: a 4xx is permanent; 408 and 429 are retried" => sub {
        my ($res, $body) = post_jobs($cd, { type => 'http', payload => { url => "$base/status/404" } });
        my $job = wait_status($cd, $body->{id}, 'dead');
        is($job->{attempts}, 1, '404: dead after one attempt');
        like($job->{last_error}, qr/HTTP 404.*not retried/, 'says why');
        ($res, $body) = post_jobs($cd, { type => 'http', payload => { url => "$base/status/429" } });
        $job = wait_status($cd, $body->{id}, 'retrying');
        is($job->{status}, 'retrying', '429: retrying');
        ok($job->{next_attempt_at}, 'next_attempt_at');
    };

    subtest "$backend: DLQ retry through the API and levqorctl, audit-logged" => sub {
        my ($res, $body) = post_jobs($cd, { type => 'exec', payload => { command => 'false' } });
        my $id = $body->{id};
        my $job = wait_status($cd, $id, 'dead', 20);
        like($job->{last_error}, qr/exited with status 1/, 'exec failure');
        my $r = $cd->request('POST /ops/dlq/retry', token => 'admin', body => $JSON->encode({ ids => [$id] }));
        is($r->{status}, 200, 'status 200');
        is(json_of($r)->{retried}, 1, 'retried 1');
        ok($cd->wait_log(sub { $_[0]{msg} eq 'dlq retry' && $_[0]{audit} && $_[0]{role} eq 'admin' }),
           'audit line');
        $job = job_of($cd, $id);
        ok($job->{status} ne 'dead', "back in the queue ($job->{status})");
        $job = wait_status($cd, $id, 'dead', 20);
        is($job->{attempts}, 4, 'failed its 4 attempts again');
        my ($code, $out) = $cd->ctl('dlq', 'list');
        is($code, 0, 'levqorctl dlq list: exit 0') or diag $out;
        like($out, qr/\Q$id\E/, 'lists the job');
        ($code, $out) = $cd->ctl('dlq', 'retry', '--all');
        is($code, 0, 'levqorctl dlq retry --all: exit 0') or diag $out;
        like($out, qr/retried (\d+)/, 'says how many');
        ($code, $out) = $cd->ctl('--json', 'jobs', 'get', $id);
        is($code, 0, 'levqorctl jobs get') or diag $out;
        is(eval { $JSON->decode($out)->{id} }, $id, 'the job as JSON');
        is($cd->request('POST /ops/dlq/retry', token => 'admin', body => '{"ids":"x"}')->{status}, 400,
           'bad body: 400');
    };

    subtest "$backend: exec jobs capture output" => sub {
        my ($res, $body) = post_jobs($cd, { type => 'exec', payload => { command => 'echo', args => ['hello', '$(id)'] } });
        my $job = wait_status($cd, $body->{id}, 'succeeded');
        is($job->{result}{stdout}, "hello \$(id)\n", 'arguments passed as they are, no shell');
        is($job->{result}{exit_code}, 0, 'exit code');
    };

    subtest "$backend: NEW_QUEUE_ENABLED=off runs the job in the request" => sub {
        is($cd->request('PUT /ops/flags', token => 'admin', body => '{"NEW_QUEUE_ENABLED":"off"}')->{status}, 200, 'flag off');
        my ($res, $body) = post_jobs($cd, { type => 'http', payload => { url => "$base/status/201" } }, key => 'sync-1');
        is($res->{status}, 200, 'status 200');
        is($body->{status}, 'succeeded', 'succeeded');
        is($body->{result}{status}, 201, 'the result');
        my ($again, $replay) = post_jobs($cd, { type => 'http', payload => { url => "$base/status/201" } }, key => 'sync-1');
        is($replay->{id}, $body->{id}, 'the same key: the same job');
        is($again->{headers}{'idempotent-replayed'}, 'true', 'Idempotent-Replayed');
        is(scalar(grep { ($_->{job_id} // '') eq $body->{id} } deliveries($record)), 1, 'delivered once');
        ($res, $body) = post_jobs($cd, { type => 'http', payload => { url => "$base/status/500" } });
        is($body->{status}, 'dead', 'a failure answers at once, no retries');
        like($body->{last_error}, qr/HTTP 500/, 'with the error');
        is($cd->request('PUT /ops/flags', token => 'admin', body => '{"NEW_QUEUE_ENABLED":"on"}')->{status}, 200, 'flag on');
        $cd->request('POST /ops/dlq/retry', token => 'admin', body => '{"all":true}');
    };

    subtest "$backend: NEW_QUEUE_ENABLED=off: slow jobs fill the inline runners; further POSTs get 503 at once, the API still answers" => sub {
        is($cd->request('PUT /ops/flags', token => 'admin', body => '{"NEW_QUEUE_ENABLED":"off"}')->{status}, 200, 'flag off');
        # inline_workers 1 + inline_queue 1: two requests are taken, the
        # other ten refused; more than the HTTP front's threads (8) in all.
        my $t0 = time;
        my @posts = map { sub {
            my $start = time;
            my ($res, $body) = post_jobs($cd, { type => 'exec', payload => { command => 'slow' } });
            return join ' ', $res->{status} // 0, sprintf('%.3f', time - $start),
                $res->{headers}{'retry-after'} // '-', $body->{error} // $body->{status} // '-',
                $body->{id} // '-';
        } } 1 .. 12;
        my $admin = sub {
            sleep 0.3;  # the POSTs have arrived
            my $start = time;
            my $res = $cd->request('GET /ops/flags', token => 'admin', timeout => 10);
            return join ' ', 'flags', $res->{status} // 0, sprintf('%.3f', time - $start);
        };
        my ($flags, @answers) = in_parallel($admin, @posts);
        my ($fstatus, $ftime) = (split ' ', $flags)[1, 2];
        is($fstatus, 200, 'GET /ops/flags answered');
        cmp_ok($ftime, '<', 1, "GET /ops/flags within 1 s ($ftime s)");
        my @busy = grep { /^503 / } @answers;
        my @taken = grep { /^202 / } @answers;
        is(scalar @busy, 10, '10 refused with 503') or diag join "\n", @answers;
        is(scalar @taken, 2, '2 taken (202: still running after inline_wait_ms)') or diag join "\n", @answers;
        for my $a (@busy) {
            my (undef, $took, $retry, $error) = split ' ', $a;
            cmp_ok($took, '<', 1, "503 at once ($took s)");
            is($retry, 1, 'Retry-After: 1');
            is($error, 'inline_busy', 'error inline_busy');
        }
        for my $a (@taken) {
            my (undef, $took, undef, $status, $id) = split ' ', $a;
            is($status, 'running', '202 says running');
            my $job = wait_status($cd, $id, 'succeeded', 10);
            is($job->{status}, 'succeeded', "polled GET /jobs/$id until it succeeded");
        }
        is(metric($cd, 'levqor_jobs_rejected_total{reason="inline_busy"}'), 10, 'levqor_jobs_rejected_total{reason="inline_busy"}');
        is($cd->request('PUT /ops/flags', token => 'admin', body => '{"NEW_QUEUE_ENABLED":"on"}')->{status}, 200, 'flag on');
    };

    subtest "$backend: /metrics passes promtool, /ops/queue_health" => sub {
        ok(wait_idle($cd, 40), 'idle');
        # The queue gauges are refreshed once a second (docs/metrics.md).
        my $text;
        wait_until(5, sub { $text = $cd->request('GET /metrics')->{body}; $text =~ /^levqor_queue_depth 0$/m }, 0.2);
        my ($ok, $out) = promtool_check($text);
        ok($ok, 'promtool check metrics') or diag $out;
        like($text, qr/^levqor_queue_depth 0$/m, 'levqor_queue_depth');
        like($text, qr/^levqor_job_duration_seconds_bucket\{type="noop",le="0.001"\} \d+$/m, 'duration histogram');
        like($text, qr/^levqor_jobs_total\{type="noop",result="succeeded"\} \d+$/m, 'levqor_jobs_total');
        my $h = health($cd);
        is($h->{backend}, $backend, 'backend');
        is($h->{status}, 'ok', 'ok');
        is($h->{workers}{configured}, 4, 'workers');
        is($h->{spool_size}, 0, 'spool empty');
    };

    subtest "$backend: SIGTERM lets a running job finish" => sub {
        my ($res, $body) = post_jobs($cd, { type => 'exec', payload => { command => 'sleep', args => ['1'] } });
        ok(wait_status($cd, $body->{id}, 'running', 5), 'running');
        my $log_before = length $cd->log_text;
        my $t0 = time;
        ok($cd->stop(6), 'stopped gracefully');
        cmp_ok(time - $t0, '<', 5, 'within the grace period');
        # On a starved machine the 1-s job can outlast the 4-s grace; controld
        # then says so and leaves it to be delivered again (the kill -9 test
        # covers that path): only a job that ended within the grace must
        # have its result recorded.
        my $grace_expired = substr($cd->log_text, $log_before) =~ /still in flight after the shutdown grace period/;
        $cd->start;
        SKIP: {
            skip 'the grace expired before the job ended (machine too slow for this check)', 1 if $grace_expired;
            is(job_of($cd, $body->{id})->{status}, 'succeeded', 'the job finished before the exit');
        }
    };

    subtest "$backend: kill -9 while 1,000 http jobs run: taken back at once after the restart, none lost, duplicates only what ran" => sub {
        unlink $record;
        # 20 ms per delivery (the target's 8 processes: at most ~400/s), so
        # the kill lands mid-run however fast the queue is.
        my @jobs = map { { type => 'http', payload => { url => "$base/delay/20/job", body => { n => $_ } } } } 1 .. 1000;
        my @ids;
        for my $chunk (0 .. 1) {
            my ($res, $body) = post_jobs($cd, { jobs => [@jobs[$chunk * 500 .. $chunk * 500 + 499]] });
            is($res->{status}, 202, "batch $chunk: 202");
            push @ids, @{ $body->{ids} };
        }
        ok(wait_until(20, sub { scalar(deliveries($record)) >= 150 }, 0.02), 'deliveries under way');
        my @consumers = $redis ? controld_consumers($redis) : ();
        $cd->proc->kill('KILL');
        $cd->proc->wait_exit(5);
        my $at_kill = scalar(deliveries($record));
        note "killed after $at_kill deliveries";
        cmp_ok($at_kill, '<', 1000, 'killed mid-run');
        $cd->start;
        my $restarted = time;
        ok(wait_idle($cd, 60), 'every job reached a final state after the restart');
        my $took = time - $restarted;
        note sprintf 'all jobs done %.1f s after the restart', $took;
        # The visibility timeout is 30 s: only jobs taken back at start finish this soon.
        cmp_ok($took, '<=', 20, 'all done within 20 s of the restart');
        ok($cd->wait_log(sub { $_[0]{msg} =~ /took back the jobs the previous process held/ }),
           'logged what it took back');
        my %count;
        for my $d (deliveries($record)) {
            $count{ $d->{job_id} }++;
            is($d->{idempotency_key}, $d->{job_id}, 'Idempotency-Key = job id') unless $d->{idempotency_key} eq $d->{job_id};
        }
        is(scalar(grep { $count{$_} } @ids), 1000, 'the target saw every job (deduplicated by its id: exactly once)');
        my $extra = 0;
        $extra += $count{$_} - 1 for grep { $count{$_} } @ids;
        note "$extra duplicate deliveries (jobs in flight at the kill)";
        # Outcomes are recorded per group as it finishes: only the groups
        # running at the kill run again, at most workers x 16 http jobs.
        cmp_ok($extra, '<=', 4 * 16, 'duplicates at most the jobs in flight (4 workers x 16)');
        my @final = grep { (job_of($cd, $_)->{status} // '') eq 'succeeded' } @ids;
        is(scalar @final, 1000, 'all 1,000 succeeded');
        if ($redis) {
            my $instance = slurp($cd->data_dir . '/queue-instance-id') // '';
            chomp $instance;
            is_deeply(\@consumers, [map { "controld-$instance-$_" } 0 .. 3],
                      'one consumer per worker, named for the installation');
            is_deeply([controld_consumers($redis)], \@consumers, 'the same consumers after the restart');
        }
    };

    subtest "$backend: queue.max_depth and queue.max_bytes: 507 queue_full, nothing stored" => sub {
        # Redis: database 1 (the suite's controld and its workers use 0);
        # then a port where nothing listens, so everything goes to the spool.
        my $dead_redis = free_port();
        for my $spool ($redis ? (0, 1) : (0)) {
            my $url = $redis ? ($spool ? "redis://127.0.0.1:$dead_redis" : 'redis://127.0.0.1:' . $redis->port . '/1') : undef;
            my $qd = Test::Levqor::Controld->new(
                env => { NEW_QUEUE_ENABLED => 'on', LEVQOR_QUEUE_WORKERS => 0, ($url ? (REDIS_URL => $url) : ()) },
                config => { queue => { max_depth => 50, max_bytes => 3000, max_payload_bytes => 1024 } },
            );
            $qd->start;
            my $what = $spool ? 'spool' : $backend;
            my @noops = map { { type => 'noop', payload => { n => $_ } } } 1 .. 40;
            my ($res, $body) = post_jobs($qd, { jobs => \@noops });
            is($res->{status}, 202, "$what: 40 jobs accepted");
            is(!!$body->{spooled}, !!$spool, "$what: spooled or not");
            ($res, $body) = post_jobs($qd, { jobs => [@noops[0 .. 19]] });
            is($res->{status}, 507, "$what: 20 more: 507");
            is($body->{error}, 'queue_full', "$what: queue_full");
            is($body->{limit}, 'max_depth', "$what: limit max_depth");
            like($body->{message}, qr/queue\.max_depth is 50/, "$what: says the limit");
            my $big = { type => 'noop', payload => { x => 'a' x 1000 } };
            ($res) = post_jobs($qd, $big);
            is($res->{status}, 202, "$what: a 1 KB job fits");
            ($res, $body) = post_jobs($qd, { jobs => [$big, $big] });
            is($res->{status}, 507, "$what: two more do not (max_bytes 3000)");
            is($body->{limit}, 'max_bytes', "$what: limit max_bytes");
            my $h = health($qd);
            is($h->{quota}{depth}, 41, "$what: queue_health quota depth 41");
            cmp_ok($h->{quota}{payload_bytes}, '>', 1000, "$what: quota payload_bytes $h->{quota}{payload_bytes}");
            is(metric($qd, 'levqor_jobs_rejected_total{reason="max_depth"}'), 20, "$what: rejected max_depth 20");
            is(metric($qd, 'levqor_jobs_rejected_total{reason="max_bytes"}'), 2, "$what: rejected max_bytes 2");
            next if $spool;
            # Workers run them: the depth and the payloads (dropped on success) free the room.
            ok($qd->stop, "$what: stopped");
            $qd->{env}{LEVQOR_QUEUE_WORKERS} = 2;
            $qd->start;
            ok(wait_until(10, sub { my $q = health($qd)->{quota}; $q->{depth} == 0 && $q->{payload_bytes} == 0 }, 0.1),
               "$what: all done, no payload left") or diag explain health($qd);
            ($res) = post_jobs($qd, { jobs => [@noops, $big, $big] });
            is($res->{status}, 202, "$what: room again");
            ok($qd->stop, "$what: stopped");
        }
    };

    if ($redis) {
        subtest "redis: killed and restarted during enqueue; no job lost" => sub {
            my (@ids, %status_codes, $spooled, $down_health);
            for my $i (1 .. 60) {
                if ($i == 15) {
                    $redis->kill('KILL');
                    wait_until(5, sub { !$redis->{proc}->alive }, 0.01);
                }
                $redis->start if $i == 40;
                my ($res, $body) = post_jobs($cd, { jobs => [map { { type => 'noop', payload => { i => $i, j => $_ } } } 1 .. 20] });
                $status_codes{ $res->{status} // 0 }++;
                push @ids, @{ $body->{ids} || [] };
                $spooled++ if $body->{spooled};
                $down_health //= health($cd) if $i == 30;
                sleep 0.05;
            }
            is($status_codes{202}, 60, 'every batch accepted (202)') or diag explain \%status_codes;
            ok($spooled, "batches spooled while redis was away ($spooled)");
            ok($down_health->{spool_size} > 0, "queue_health showed the spool ($down_health->{spool_size})");
            is($down_health->{status}, 'down', 'and redis down');
            ok(wait_idle($cd, 30), 'spool drained and everything processed');
            my @lost = grep { (job_of($cd, $_)->{status} // '') ne 'succeeded' } @ids;
            is(scalar @ids, 1200, '1,200 ids');
            is(scalar @lost, 0, 'none lost') or diag "not succeeded: @lost[0 .. ($#lost < 5 ? $#lost : 5)]";
            like(metric($cd, 'levqor_jobs_spooled_total') // 0, qr/^[1-9]/, 'levqor_jobs_spooled_total');
        };
    }

    ok($cd->stop, "$backend: controld stops");
    $target->stop;
    $redis->stop if $redis;
}

done_testing();
