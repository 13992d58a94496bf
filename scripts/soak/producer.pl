#!/usr/bin/perl
# SPDX-License-Identifier: Apache-2.0
# The job producer of `make soak` (scripts/soak/soak.pl):
#
#   producer.pl CONTROLD_URL TOKEN_FILE TARGET_URL SECONDS REQUESTS_PER_SECOND OUT_DIR
#
# POSTs /jobs at a fixed rate for SECONDS: in turn a single http job to the
# target, a noop, and a batch (http, noop, and an http job the target answers
# 503 to, which must end dead after its retries). Each request carries an
# Idempotency-Key and is retried with it, like a careful client, while
# controld or Redis restarts (connection errors and 5xx, for up to 15 s): a
# job is accepted once controld answered 202 or 200 with its id.
#
# Writes OUT_DIR/accepted (one "id expected_final_state" line per accepted
# job) and, at the end, OUT_DIR/producer.json: counts of every answer by
# status and error code, and of requests given up.
# Every 2 s it also reads /healthz and /metrics (which scrapes nginx).
use strict;
use warnings;
use HTTP::Tiny;
use JSON::PP ();
use Time::HiRes qw(time sleep);

my ($url, $token_file, $target, $seconds, $rate, $out) = @ARGV;
die "usage: producer.pl CONTROLD_URL TOKEN_FILE TARGET_URL SECONDS RATE OUT_DIR\n" unless defined $out;
my $json = JSON::PP->new->canonical;
my $http = HTTP::Tiny->new(timeout => 5, keep_alive => 1);
my (%answers, $given_up);
my $stop = 0;
$SIG{TERM} = sub { $stop = 1 };

open my $accepted, '>>', "$out/accepted" or die "$out/accepted: $!";
$accepted->autoflush(1);

sub token {
    open my $fh, '<', $token_file or die "$token_file: $!";
    my $t = <$fh>;
    chomp $t;
    return $t;
}
my $token = token();

# [body, [expected final state per job]] for request number $n.
sub request_for {
    my ($n) = @_;
    my $http_job = sub { { type => 'http', payload => { url => "$target/$_[0]", body => { n => $n } } } };
    my $kind = $n % 3;
    return ({ %{ $http_job->("soak/$n") } }, ['succeeded']) if $kind == 0;
    return ({ type => 'noop', payload => { n => $n } }, ['succeeded']) if $kind == 1;
    return ({ jobs => [$http_job->("soak/$n"), { type => 'noop' }, $http_job->('status/503')] },
            [qw(succeeded succeeded dead)]);
}

# What a 4xx/5xx answer says: "503 queue_unavailable", or "599" (no answer).
sub answer_key {
    my ($res) = @_;
    my $code = eval { $json->decode($res->{content} // '')->{error} };
    return $res->{status} . (defined $code ? " $code" : '');
}

sub post {
    my ($n) = @_;
    my ($body, $expect) = request_for($n);
    my $key = "soak-$$-$n";
    my $deadline = time + 15;
    while (1) {
        my $res = $http->post("$url/jobs", {
            content => $json->encode($body),
            headers => { Authorization => "Bearer $token", 'Content-Type' => 'application/json',
                         'Idempotency-Key' => $key },
        });
        $answers{ answer_key($res) }++;
        if ($res->{status} == 202 || $res->{status} == 200) {
            my $answer = $json->decode($res->{content});
            my @ids = $answer->{ids} ? @{ $answer->{ids} } : ($answer->{id});
            print {$accepted} map { "$ids[$_] $expect->[$_]\n" } 0 .. $#ids;
            return;
        }
        # 4xx other than 429 will not change by asking again.
        last if $res->{status} >= 400 && $res->{status} < 500 && $res->{status} != 429;
        last if time > $deadline;
        sleep 0.2;
    }
    $given_up++;
}

sub probe {
    for my $path ('/healthz', '/metrics') {
        my $res = $http->get("$url$path");
        $answers{ "$path " . answer_key($res) }++;
    }
}

my $start = time;
my ($n, $next_probe) = (0, $start);
while (!$stop && time < $start + $seconds) {
    post($n++);
    if (time >= $next_probe) { probe(); $next_probe += 2 }
    my $due = $start + $n / $rate;
    sleep($due - time) if $due > time;
}
open my $fh, '>', "$out/producer.json" or die "$out/producer.json: $!";
print {$fh} $json->encode({ requests => $n, answers => \%answers, given_up => $given_up // 0 });
close $fh;
