#!/usr/bin/perl
# SPDX-License-Identifier: Apache-2.0
# An HTTP target for http jobs in the queue tests (t/queue.t):
#   job_target.pl PORT RECORD_FILE [PROCESSES]
# Answers POST /status/NNN with NNN (anything else: 200), POST /delay/MS/...
# after MS milliseconds, and appends one JSON
# line per request to RECORD_FILE: {"t","path","job_id","attempt","body"}.
# Several pre-forked processes accept on one socket, so concurrent deliveries
# are not refused; lines are appended under flock.
use strict;
use warnings;
use Fcntl qw(:flock);
use IO::Socket::INET;
use JSON::PP ();
use Time::HiRes qw(time);
use FindBin ();
use lib "$FindBin::Bin/../..";
use Test::Levqor::MiniHttp qw(read_request);

my ($port, $record, $processes) = @ARGV;
$processes ||= 8;
my $json = JSON::PP->new->canonical;
my $server = IO::Socket::INET->new(LocalAddr => "127.0.0.1:$port", Listen => 256, ReuseAddr => 1)
    or die "listen 127.0.0.1:$port: $!";
$SIG{PIPE} = 'IGNORE';

sub serve {
    while (my $client = $server->accept) {
        my ($method, $path, $headers, $content) = read_request($client) or next;
        my %headers = %$headers;
        my $status = $path =~ m{^/status/(\d{3})} ? $1 : 200;
        open my $fh, '>>', $record or die "$record: $!";
        flock($fh, LOCK_EX);
        print {$fh} $json->encode({ t => time, path => $path, job_id => $headers{'x-levqor-job-id'},
                                    idempotency_key => $headers{'idempotency-key'},
                                    attempt => $headers{'x-levqor-attempt'}, body => $content }), "\n";
        close $fh;
        Time::HiRes::sleep($1 / 1000) if $path =~ m{^/delay/(\d+)};
        print {$client} "HTTP/1.1 $status X\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n"
            . "Connection: close\r\n\r\nok";
        close $client;
    }
}

my @children;
for (1 .. $processes) {
    my $pid = fork // die "fork: $!";
    if (!$pid) { serve(); exit 0 }
    push @children, $pid;
}
$SIG{TERM} = sub { kill 'TERM', @children; exit 0 };
1 while wait != -1;
