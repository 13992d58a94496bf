# SPDX-License-Identifier: Apache-2.0
package Test::Levqor::MiniHttp;
# Reads one HTTP/1.1 request from a socket, for the small test servers
# (fake_http_server.pl, job_target.pl): (method, path, {lowercased header =>
# value}, body), or an empty list when the client sent nothing.
use strict;
use warnings;
use Exporter 'import';
our @EXPORT_OK = qw(read_request);

sub read_request {
    my ($client) = @_;
    local $/ = "\r\n";
    my $line = <$client> // return;
    my ($method, $path) = split / /, $line;
    my %headers;
    while (defined(my $h = <$client>)) {
        last if $h eq "\r\n";
        $h =~ s/\r\n\z//;
        my ($name, $value) = split /:\s*/, $h, 2;
        $headers{lc $name} = $value;
    }
    my $content = '';
    read($client, $content, $headers{'content-length'}) if $headers{'content-length'};
    return ($method, $path, \%headers, $content);
}

1;
