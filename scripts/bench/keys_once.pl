#!/usr/bin/perl
# SPDX-License-Identifier: Apache-2.0
# Warm-up for runs with lua/keys.lua: one keep-alive connection asks
# <url> once with each of its 10,000 API keys (50 pipelined requests at a
# time), so that a measured run finds every key's bucket already made.
# (wrk cannot stop after a number of requests.)
use strict;
use warnings;
use IO::Socket::INET;

my ($host, $port, $path) = ($ARGV[0] // '') =~ m{^http://([^:/]+):(\d+)(/.*)$}
    or die "usage: $0 http://host:port/path\n";
my $keys = 10000;
my $s = IO::Socket::INET->new(PeerAddr => $host, PeerPort => $port) or die "keys_once: connect: $!\n";
for (my $n = 1; $n <= $keys; $n += 50) {
    my $last = $n + 49 > $keys ? $keys : $n + 49;
    print $s join '', map { "GET $path HTTP/1.1\r\nHost: $host\r\nX-Api-Key: key-" . ($_ % $keys) . "\r\n\r\n" } $n .. $last;
    for ($n .. $last) {
        my $len = 0;
        while (defined(my $line = <$s>)) {
            last if $line eq "\r\n";
            $len = $1 if $line =~ /^Content-Length:\s*(\d+)/i;
        }
        read($s, my $body, $len) == $len or die "keys_once: short response\n" if $len;
    }
}
