#!/usr/bin/perl
# SPDX-License-Identifier: Apache-2.0
# redis_script.pl <port> <script.lua> <decisions per batch> <batches> [keys] [layout]:
# loads the script, sends the batches (16 pipelined at a time) in the
# module's argument format and prints Redis's EVALSHA time per decision (us).
# layout `keys` (default): one Redis key per bucket, as the module does;
# `gen`: redis_gen_hash.lua's prototype (two generation hashes as KEYS, the
# buckets' names as fields after the argument string).
use strict;
use warnings;
use IO::Socket::INET;

my ($port, $file, $per, $batches, $nkeys, $layout) = @ARGV;
$nkeys //= 10000;
$layout //= 'keys';
my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port") or die "connect: $!";
binmode $s;
sub enc { join '', '*' . scalar(@_) . "\r\n", map { '$' . length($_) . "\r\n$_\r\n" } @_ }
sub line { my $l = <$s> // die "redis closed"; return $l }
sub reply {
    my $l = line();
    my $t = substr($l, 0, 1);
    return substr($l, 1, -2) if $t eq '+' || $t eq ':';
    die "redis: $l" if $t eq '-';
    if ($t eq '$') {
        my $n = substr($l, 1, -2);
        return undef if $n < 0;
        read($s, my $buf, $n + 2) == $n + 2 or die "short read";
        return substr($buf, 0, $n);
    }
    return [map { reply() } 1 .. substr($l, 1, -2)] if $t eq '*';
    die "unexpected reply $l";
}
sub cmd { print $s enc(@_); return reply() }

my $text = do { local $/; open my $fh, '<', $file or die "$file: $!"; <$fh> };
cmd('FLUSHALL');
my $sha = cmd('SCRIPT', 'LOAD', $text);
srand(1);
my $ip = 'levqor:{api}:i:bench:' . ('ab' x 16);
# Plan: key 100000r/s (10 us per token, burst 1000), address 10^8 r/s.
my $bucket_key = pack('d<d<d<C', 10, 1000, 1, 0);
my $bucket_ip = pack('d<d<d<C', 0.01, 1000, 1, 0);
my @cmds;
for (1 .. $batches) {
    my (@keys, $blob, @distinct, %index, $gen_blob);
    # The module's layout: each distinct key once in KEYS, each bucket names
    # its key by index (from 1, 16 bits) after its observe-only byte.
    my $key_index = sub {
        my ($k) = @_;
        $index{$k} //= do { push @distinct, $k; scalar @distinct };
        return pack('v', $index{$k});
    };
    for (1 .. $per) {
        my $k = sprintf('levqor:{api}:k:bench:%032x', int(rand($nkeys)));
        push @keys, $k, $ip;
        $blob .= pack('C', 2) . $bucket_key . $key_index->($k) . $bucket_ip . $key_index->($ip);
        $gen_blob .= pack('C', 2) . $bucket_key . $bucket_ip;
    }
    if ($layout eq 'gen') {
        push @cmds, enc('EVALSHA', $sha, 2, 'levqor:{api}:g:1', 'levqor:{api}:g:0', $per, $gen_blob, @keys);
    } else {
        push @cmds, enc('EVALSHA', $sha, scalar(@distinct), @distinct, $per, $blob);
    }
}
cmd('CONFIG', 'RESETSTAT');
while (my @chunk = splice(@cmds, 0, 16)) {
    print $s join('', @chunk);
    reply() for @chunk;
}
my ($usec) = cmd('INFO', 'commandstats') =~ /^cmdstat_evalsha:calls=\d+,usec=(\d+)/m or die "no evalsha stats";
printf "%.2f\n", $usec / ($batches * $per);
