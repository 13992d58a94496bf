#!/usr/bin/perl
# SPDX-License-Identifier: Apache-2.0
# The queue after a kill -9 and restart of controld (scripts/bench/queue_restart.sh):
#   restart.pl BACKEND JOBS DELAY_MS KILL_AFTER VISIBILITY_S
# BACKEND is sqlite or redis (a real redis-server, append-only, fsync always).
# JOBS http jobs go to job_target.pl (8 processes, DELAY_MS per delivery);
# controld (4 workers, fetch_batch 200, the given visibility timeout) is
# killed with SIGKILL once KILL_AFTER deliveries arrived and started again
# at once. Prints one JSON line:
#   startup_s        exec of the new process to its /healthz answering
#   first_again_s    exec to the first delivery of a job the killed process
#                    had taken and not finished
#   all_done_s       exec to the queue being idle with every job succeeded
#   duplicates       deliveries beyond one per job; in_flight_bound = workers x 16
# Uses the test suites' helpers (t/lib) for the servers.
use strict;
use warnings;
use FindBin ();
use lib "$FindBin::Bin/../../../t/lib";
use JSON::PP ();
use Time::HiRes qw(time sleep);
use Test::Levqor::Controld qw(json_of);
use Test::Levqor::Process qw(spawn_server);
use Test::Levqor::Redis;
use Test::Levqor::Util qw(temp_dir slurp_locked free_port wait_until repo_root);

my ($backend, $jobs, $delay_ms, $kill_after, $visibility) = @ARGV;
die "usage: restart.pl sqlite|redis JOBS DELAY_MS KILL_AFTER VISIBILITY_S\n" unless $visibility;
my $workers = 4;
my $json = JSON::PP->new->canonical;

my $dir = temp_dir("bench-restart-$backend");
my $record = "$dir/deliveries.jsonl";
my $port = free_port();
my $target = spawn_server(
    name  => 'job-target',
    cmd   => [$^X, repo_root() . '/t/lib/Test/Levqor/job_target.pl', $port, $record, 8],
    ready => sub { IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port", Timeout => 1) },
);
my $redis = $backend eq 'redis' ? Test::Levqor::Redis->new(persist => 1) : undef;
my $cd = Test::Levqor::Controld->new(
    env => { NEW_QUEUE_ENABLED => 'on', LEVQOR_LOG_LEVEL => 'warn',
             ($redis ? (REDIS_URL => 'redis://127.0.0.1:' . $redis->port) : ()) },
    config => { http_job_allow => ["http://127.0.0.1:$port/"],
                queue => { workers => $workers, fetch_batch => 200,
                           visibility_timeout_s => $visibility + 0, http_timeout_ms => 5000 } },
);
$cd->start;

sub deliveries { map { $json->decode($_) } grep { /\S/ } split /\n/, slurp_locked($record) // '' }

my @ids;
for (my $n = 0; $n < $jobs; $n += 500) {
    my $count = $jobs - $n < 500 ? $jobs - $n : 500;
    my $res = $cd->request('POST /jobs', token => 'producer', timeout => 30, body => $json->encode({
        jobs => [map { { type => 'http', payload => { url => "http://127.0.0.1:$port/delay/$delay_ms/j" } } } 1 .. $count] }));
    die "POST /jobs: $res->{status} $res->{body}\n" unless ($res->{status} // 0) == 202;
    push @ids, @{ json_of($res)->{ids} };
}
wait_until(60, sub { scalar(deliveries()) >= $kill_after }, 0.005) or die "no deliveries\n";
$cd->proc->kill('KILL');
$cd->proc->wait_exit(5);
my %before = map { $_->{job_id} => 1 } deliveries();
my $seen_at_kill = scalar(deliveries());

my $exec = time;
$cd->start;
my $startup = time - $exec;
my $idle = wait_until(300, sub {
    my $h = json_of($cd->request('GET /ops/queue_health', token => 'admin')) // {};
    defined $h->{queue_depth} && $h->{queue_depth} == 0 && $h->{running} == 0 && $h->{delayed} == 0;
}, 0.02);
my $all_done = time - $exec;
die "not idle after 300 s\n" unless $idle;

my (%count, $first_again);
for my $d (deliveries()) {
    $count{ $d->{job_id} }++;
    $first_again //= $d->{t} - $exec if $d->{t} >= $exec && $before{ $d->{job_id} } && $count{ $d->{job_id} } == 2;
}
my $succeeded = grep { ((json_of($cd->request("GET /jobs/$_", token => 'producer')) // {})->{status} // '') eq 'succeeded' } @ids;
my $duplicates = 0;
$duplicates += $count{$_} - 1 for grep { $count{$_} } @ids;
print $json->encode({
    backend => $backend, jobs => scalar @ids, succeeded => $succeeded + 0,
    delivered_before_kill => $seen_at_kill, visibility_timeout_s => $visibility + 0,
    startup_s => sprintf('%.2f', $startup) + 0,
    first_again_s => defined $first_again ? sprintf('%.2f', $first_again) + 0 : undef,
    all_done_s => sprintf('%.2f', $all_done) + 0,
    duplicates => $duplicates, in_flight_bound => $workers * 16,
}), "\n";
$cd->stop;
$target->stop;
$redis->stop if $redis;
