# SPDX-License-Identifier: Apache-2.0
package Test::Levqor::HTTP;

# A small HTTP/1.x client for tests: one request per connection, plain or TLS,
# Content-Length / chunked / read-until-close bodies, and a hard deadline so
# it never hangs. Transport problems are returned in {error}, never thrown.

use strict;
use warnings;

use Carp qw(croak);
use Errno qw(EINTR);
use Exporter qw(import);
use IO::Socket::INET;
use IO::Socket::SSL qw(SSL_VERIFY_NONE);
use Socket qw(SOL_SOCKET SO_SNDTIMEO);
use Time::HiRes qw(time);

our @EXPORT_OK = qw(http_request build_request format_response);

use constant READ_SIZE => 65536;

# http_request(port => N, request => "GET /x", more_headers => "A: b\n",
#              body => $bytes, raw_request => $bytes, tls => 0|1,
#              timeout => 5, host => '127.0.0.1', server_name => 'localhost',
#              keep_open => 0|1)
# Returns { status, status_line, protocol, headers => {lc name => "v1, v2"},
#           header_list => [[name, value], ...], body, raw, error }; with
# keep_open (and "Connection: keep-alive" in more_headers) also the still
# open connection as {connection}, in blocking mode: an idle keep-alive
# client for the caller.
sub http_request {
    my (%args) = @_;
    croak 'http_request: port => N is required' unless $args{port};
    my $raw = defined $args{raw_request} ? $args{raw_request}
            : build_request($args{request}, %args);
    my $timeout  = $args{timeout} || 5;
    my $deadline = time + $timeout;
    my $res = { status => undef, headers => {}, header_list => [], body => undef, raw => '' };

    local $SIG{PIPE} = 'IGNORE';
    my $sock = eval { connect_socket(\%args, $deadline) };
    return fail($res, $@ =~ s/\s+\z//r) unless $sock;

    my $err = send_all($sock, $raw, $deadline);
    # Even after a write error the server may have answered (e.g. 413), so read.
    my $reader = Test::Levqor::HTTP::Reader->new($sock, $deadline);
    my $method = $raw =~ /\A\s*(\S+)/ ? uc $1 : 'GET';
    read_response($reader, $res, $method);
    if (!defined $res->{error} && $raw =~ /^Connection:\s*close\s*$/mi) {
        # Wait for the server's close: by then nginx has run its log phase.
        $reader->drain;
    }
    $res->{raw} = $reader->raw;
    if ($args{keep_open}) {
        $sock->blocking(1);    # the reader made it non-blocking; the caller's reads block
        $res->{connection} = $sock;
    } else {
        close $sock;
    }
    $res->{error} = "write failed: $err; " . ($res->{error} // '') if $err && !defined $res->{status};
    return $res;
}

sub fail {
    my ($res, $msg) = @_;
    $res->{error} = $msg;
    return $res;
}

sub connect_socket {
    my ($args, $deadline) = @_;
    my $host = $args->{host} || '127.0.0.1';
    my $left = $deadline - time;
    my %common = (PeerHost => $host, PeerPort => $args->{port}, Proto => 'tcp',
                  Timeout => $left > 0 ? $left : 0.001);
    my $sock;
    if ($args->{tls}) {
        $sock = IO::Socket::SSL->new(
            %common,
            SSL_verify_mode => SSL_VERIFY_NONE,
            SSL_hostname    => $args->{server_name} || 'localhost',
        ) or die "TLS connect to $host:$args->{port} failed: " . ($IO::Socket::SSL::SSL_ERROR || $!) . "\n";
    } else {
        $sock = IO::Socket::INET->new(%common)
            or die "connect to $host:$args->{port} failed: $!\n";
    }
    binmode $sock;
    return $sock;
}

sub send_all {
    my ($sock, $data, $deadline) = @_;
    my $left = $deadline - time;
    $left = 0.001 if $left <= 0;
    setsockopt($sock, SOL_SOCKET, SO_SNDTIMEO, pack('l!l!', int $left, ($left - int $left) * 1e6));
    my $off = 0;
    while ($off < length $data) {
        my $n = syswrite($sock, $data, length($data) - $off, $off);
        if (!defined $n) {
            next if $! == EINTR;
            return "$!";
        }
        $off += $n;
        return 'timeout' if time > $deadline;
    }
    return undef;
}

# Builds a request from the Test::Nginx "simple" form:
#   "METHOD /uri [HTTP/1.x]\n<body>"
# adding Host, Connection: close and Content-Length (when there is a body)
# unless more_headers already has them. Surrounding whitespace of a body
# given in the simple form is trimmed (as in Test::Nginx); body => sets it exactly.
sub build_request {
    my ($simple, %args) = @_;
    croak 'build_request: request is empty' unless defined $simple && $simple =~ /\S/;
    my ($line, $body) = split /\r?\n/, $simple, 2;
    $body = defined $body ? $body =~ s/\A\s+|\s+\z//gr : '';
    $body = $args{body} if defined $args{body};

    my ($method, $uri, $proto) = split ' ', $line;
    $uri   //= '/';
    $proto //= 'HTTP/1.1';

    my @headers = grep { /\S/ } split /\r?\n/, ($args{more_headers} // '');
    my $has = sub { my ($name) = @_; grep { /^\Q$name\E\s*:/i } @headers };
    unshift @headers, 'Host: ' . ($args{server_name} || 'localhost') unless $has->('Host');
    push @headers, 'Connection: close' unless $has->('Connection');
    push @headers, 'Content-Length: ' . length($body)
        if length $body && !$has->('Content-Length') && !$has->('Transfer-Encoding');

    return join("\r\n", "$method $uri $proto", @headers) . "\r\n\r\n" . $body;
}

sub read_response {
    my ($reader, $res, $method) = @_;
    my $head;
    while (1) {
        $head = $reader->read_head;
        return fail($res, $reader->error_text('before the response headers')) unless defined $head;
        parse_head($res, $head) or return fail($res, "malformed response head:\n$head");
        last unless $res->{status} >= 100 && $res->{status} < 200 && $res->{status} != 101;
        $res->{headers} = {};
        $res->{header_list} = [];
    }

    my $h = $res->{headers};
    my $body;
    if ($method eq 'HEAD' || $res->{status} =~ /^(1..|204|304)$/) {
        $body = '';
    } elsif (($h->{'transfer-encoding'} // '') =~ /chunked/i) {
        $body = read_chunked($reader);
    } elsif (defined $h->{'content-length'}) {
        my ($len) = $h->{'content-length'} =~ /^(\d+)/;
        $body = $reader->read_exactly($len // 0);
    } else {
        $body = $reader->read_to_eof;
    }
    return fail($res, $reader->error_text('in the response body')) unless defined $body;
    $res->{body} = $body;
    return $res;
}

sub parse_head {
    my ($res, $head) = @_;
    my ($status_line, @lines) = split /\r?\n/, $head;
    return 0 unless $status_line =~ m{^(HTTP/\d(?:\.\d)?)\s+(\d{3})(?:\s+(.*))?$};
    @$res{qw(protocol status status_line)} = ($1, $2 + 0, $status_line);
    for my $line (@lines) {
        my ($name, $value) = $line =~ /^([^:\s]+)\s*:\s*(.*?)\s*$/ or next;
        push @{ $res->{header_list} }, [$name, $value];
        my $key = lc $name;
        $res->{headers}{$key} = defined $res->{headers}{$key}
            ? "$res->{headers}{$key}, $value" : $value;
    }
    return 1;
}

sub read_chunked {
    my ($reader) = @_;
    my $body = '';
    while (1) {
        my $size_line = $reader->read_line // return undef;
        my ($hex) = $size_line =~ /^\s*([0-9a-fA-F]+)/
            or return $reader->set_error("bad chunk size line '$size_line'");
        my $size = hex $hex;
        if ($size == 0) {
            while (1) {    # trailers, up to the empty line
                my $trailer = $reader->read_line // return undef;
                return $body if $trailer eq '';
            }
        }
        my $chunk = $reader->read_exactly($size) // return undef;
        $body .= $chunk;
        my $crlf = $reader->read_line // return undef;
        return $reader->set_error('chunk not followed by CRLF') if $crlf ne '';
    }
}

# Diagnostic text for a response (or the error that replaced it); bytes
# that are not printable ASCII are shown as \xNN.
sub format_response {
    my ($res, $limit) = @_;
    $limit ||= 2000;
    unless (defined $res->{status}) {
        my $raw = $res->{raw} // '';
        return "no response: $res->{error}\n"
            . (length $raw ? "received so far:\n" . printable(substr $raw, 0, $limit) . "\n" : '');
    }
    my $text = "$res->{status_line}\n";
    $text .= "$_->[0]: $_->[1]\n" for @{ $res->{header_list} };
    my $body = $res->{body} // '';
    $text .= "\n" . printable(substr $body, 0, $limit);
    $text .= "\n... (" . length($body) . ' bytes in all)' if length $body > $limit;
    $text .= "\n(error: $res->{error})" if defined $res->{error};
    return $text;
}

sub printable {
    my ($bytes) = @_;
    $bytes =~ s/([^\t\n\x20-\x7e])/sprintf '\\x%02X', ord $1/ge;
    return $bytes;
}

package Test::Levqor::HTTP::Reader;

# Buffered non-blocking reads from a plain or TLS socket, bounded by a deadline.

use Errno qw(EAGAIN EWOULDBLOCK EINTR);
use IO::Select;
use Time::HiRes qw(time);

sub new {
    my ($class, $sock, $deadline) = @_;
    $sock->blocking(0);
    return bless { sock => $sock, deadline => $deadline, buf => '', raw => '', eof => 0, error => undef }, $class;
}

sub raw { $_[0]{raw} }

sub set_error {
    my ($self, $msg) = @_;
    $self->{error} //= $msg;
    return undef;
}

sub error_text {
    my ($self, $where) = @_;
    my $what = $self->{error} // ($self->{eof} ? 'connection closed' : 'read failed');
    return "$what $where";
}

# Reads more bytes into the buffer; false on EOF, error or timeout.
sub fill {
    my ($self) = @_;
    return 0 if $self->{eof} || $self->{error};
    my $sock = $self->{sock};
    my $select = IO::Select->new($sock);
    while (1) {
        my $left = $self->{deadline} - time;
        return $self->set_error('timeout') // 0 if $left <= 0;
        my $pending = $sock->can('pending') && $sock->pending;
        next if !$pending && !$select->can_read($left);
        my $n = sysread($sock, my $chunk, Test::Levqor::HTTP::READ_SIZE());
        if (defined $n) {
            if ($n == 0) { $self->{eof} = 1; return 0 }
            $self->{buf} .= $chunk;
            $self->{raw} .= $chunk;
            return 1;
        }
        next if $! == EAGAIN || $! == EWOULDBLOCK || $! == EINTR || want_more_tls($sock);
        return $self->set_error("read error: " . ($IO::Socket::SSL::SSL_ERROR || $!)) // 0;
    }
}

sub want_more_tls {
    my ($sock) = @_;
    return 0 unless $sock->isa('IO::Socket::SSL');
    my $e = $IO::Socket::SSL::SSL_ERROR;
    return $e && ($e == IO::Socket::SSL::SSL_WANT_READ() || $e == IO::Socket::SSL::SSL_WANT_WRITE());
}

sub read_head {
    my ($self) = @_;
    until ($self->{buf} =~ /\r?\n\r?\n/) {
        $self->fill or return undef;
    }
    $self->{buf} =~ s/\A(.*?)\r?\n\r?\n//s;
    return $1;
}

sub read_line {
    my ($self) = @_;
    until ($self->{buf} =~ /\n/) {
        $self->fill or return undef;
    }
    $self->{buf} =~ s/\A(.*?)\r?\n//s;
    return $1;
}

sub read_exactly {
    my ($self, $len) = @_;
    while (length $self->{buf} < $len) {
        $self->fill or return $self->set_error(
            sprintf('body truncated (%d of %d bytes)', length $self->{buf}, $len));
    }
    return substr($self->{buf}, 0, $len, '');
}

sub read_to_eof {
    my ($self) = @_;
    1 while $self->fill;
    return undef if $self->{error};
    return substr($self->{buf}, 0, length $self->{buf}, '');
}

# Waits for the server to close after a complete response; extra bytes are ignored.
sub drain {
    my ($self) = @_;
    1 while $self->fill;
}

1;
