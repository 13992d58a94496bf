# SPDX-License-Identifier: Apache-2.0
package Test::Levqor::SlowClients;

# Slowloris-style clients for controld's HTTP front (t/controld_front.t and
# scripts/bench/controld_front.sh): each connection sends the start of a
# request, then one more byte every `interval` seconds, and never finishes
# its headers. tick() trickles the bytes and reopens connections the server
# closed, so the pressure stays while a test measures something else.
#
#   my $slow = Test::Levqor::SlowClients->new(port => $port, count => 256);
#   $slow->open_all;            # dies if a connection cannot be opened
#   $slow->tick;                # call often; cheap
#   printf "%d open, %d reopened\n", $slow->open_count, $slow->reopened;
#   $slow->close_all;

use strict;
use warnings;

use Carp qw(croak);
use Errno qw(EAGAIN EWOULDBLOCK EINTR);
use IO::Socket::INET;
use Time::HiRes qw(time);

sub new {
    my ($class, %args) = @_;
    croak 'port => N is required' unless $args{port};
    return bless {
        port     => $args{port},
        count    => $args{count} // 256,
        interval => $args{interval} // 4,
        # Half a header line: the server cannot tell this from a slow network.
        start    => $args{start} // "GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: ",
        clients  => [],
        reopened => 0,
    }, $class;
}

sub open_all {
    my ($self) = @_;
    $self->{clients}[$_] = $self->connect_one for 0 .. $self->{count} - 1;
    return $self;
}

sub connect_one {
    my ($self) = @_;
    my $sock = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$self->{port}", Timeout => 2)
        or croak "slow client: connect to 127.0.0.1:$self->{port}: $!";
    $sock->blocking(0);
    syswrite($sock, $self->{start});
    return { sock => $sock, next => time + $self->{interval} * rand };
}

# Trickles a byte where it is due; reopens connections the server closed
# (it answered 408, or dropped them to make room).
sub tick {
    my ($self) = @_;
    my $now = time;
    for my $client (@{ $self->{clients} }) {
        my $n = sysread($client->{sock}, my $buf, 4096);
        my $waiting = !defined $n && ($! == EAGAIN || $! == EWOULDBLOCK || $! == EINTR);
        if (!$waiting) {    # closed, reset, or an answer (after which it closes)
            close $client->{sock};
            %$client = %{ $self->connect_one };
            $self->{reopened}++;
            next;
        }
        next if $now < $client->{next};
        syswrite($client->{sock}, 'a');
        $client->{next} = $now + $self->{interval};
    }
}

sub open_count { scalar grep { $_->{sock} && $_->{sock}->opened } @{ $_[0]{clients} } }
sub reopened   { $_[0]{reopened} }

sub close_all {
    my ($self) = @_;
    close $_->{sock} for grep { $_->{sock} } @{ $self->{clients} };
    $self->{clients} = [];
}

sub DESTROY { $_[0]->close_all }

1;
