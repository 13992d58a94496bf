#!/usr/bin/perl
# SPDX-License-Identifier: Apache-2.0
# A tiny HTTP/1.1 server for the controld tests (see Test::Levqor::Controld):
#   fake_http_server.pl PORT RECORD_FILE DELAY_SECONDS BODY STATUS
# Answers every request with STATUS and BODY after DELAY_SECONDS; with a
# RECORD_FILE, appends {"method","path","headers","body"} per request as a
# JSON line. One connection at a time; Connection: close.
use strict;
use warnings;
use IO::Socket::INET;
use JSON::PP ();
use FindBin ();
use lib "$FindBin::Bin/../..";
use Test::Levqor::MiniHttp qw(read_request);

my ($port, $record, $delay, $body, $status) = @ARGV;
my $json = JSON::PP->new->canonical;
my $server = IO::Socket::INET->new(LocalAddr => "127.0.0.1:$port", Listen => 16, ReuseAddr => 1)
    or die "listen 127.0.0.1:$port: $!";
$SIG{PIPE} = 'IGNORE';
while (my $client = $server->accept) {
    my ($method, $path, $headers, $content) = read_request($client) or next;
    my %headers = %$headers;
    if ($record) {
        open my $fh, '>>', $record or die "$record: $!";
        print {$fh} $json->encode({ method => $method, path => $path, headers => \%headers,
                                    body => $content }), "\n";
        close $fh;
    }
    select(undef, undef, undef, $delay) if $delay;
    print {$client} "HTTP/1.1 $status X\r\nContent-Type: text/plain\r\nContent-Length: "
        . length($body) . "\r\nConnection: close\r\n\r\n$body";
    close $client;
}
