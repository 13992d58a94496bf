# SPDX-License-Identifier: Apache-2.0
package Test::Levqor::Redis;
# A real redis-server on loopback for a test suite: its own port, unix
# socket and temp dir; stopped at exit. Control with cli(), kill(), restart().
# persist => 1 turns on the append-only file with fsync on every write, so a
# kill -9 and a restart keep every write Redis acknowledged (the queue tests).
use strict;
use warnings;
use File::Temp qw(tempdir);
use POSIX ();
use Test::Levqor::Process;
use Test::Levqor::Util qw(free_port);

sub new {
    my ($class, %opt) = @_;
    my $self = bless {
        port     => $opt{port} // free_port(),
        password => $opt{password},
        persist  => $opt{persist},
        dir      => tempdir('levqor-redis-XXXXXX', TMPDIR => 1, CLEANUP => 1),
    }, $class;
    $self->{socket} = "$self->{dir}/redis.sock";
    $self->start;
    return $self;
}

sub port     { $_[0]{port} }
sub socket   { $_[0]{socket} }
sub password { $_[0]{password} }
sub pid      { $_[0]{proc}->pid }

sub start {
    my ($self) = @_;
    my @cmd = ('/usr/bin/redis-server', '--port', $self->{port}, '--bind', '127.0.0.1',
               '--unixsocket', $self->{socket}, '--unixsocketperm', '700', '--save', '',
               ($self->{persist} ? ('--appendonly', 'yes', '--appendfsync', 'always')
                                : ('--appendonly', 'no')),
               '--dir', $self->{dir}, '--daemonize', 'no', '--loglevel', 'warning');
    push @cmd, '--requirepass', $self->{password} if defined $self->{password};
    $self->{proc} = Test::Levqor::Process::spawn_server(
        name  => "redis-$self->{port}",
        cmd   => \@cmd,
        ready => sub { ($self->cli('PING') // '') =~ /PONG/ },
    );
    return $self;
}

# Runs redis-cli with the arguments; returns its output.
sub cli {
    my ($self, @args) = @_;
    my @auth = defined $self->{password} ? ('-a', $self->{password}, '--no-auth-warning') : ();
    my $pid = open(my $fh, '-|') // return undef;
    if (!$pid) {
        open(STDERR, '>', '/dev/null');
        exec('/usr/bin/redis-cli', '-p', $self->{port}, @auth, @args) or POSIX::_exit(127);
    }
    local $/;
    my $out = <$fh>;
    close($fh);
    return $out;
}

sub kill    { my ($self, $sig) = @_; $self->{proc}->kill($sig) }
sub stop    { my ($self) = @_; $self->{proc}->stop(timeout => 5) }
sub restart { my ($self) = @_; $self->stop; $self->start }

# Calls of a command since the last CONFIG RESETSTAT (INFO commandstats).
sub calls {
    my ($self, $command) = @_;
    my ($n) = ($self->cli('INFO', 'commandstats') // '') =~ /^cmdstat_\Q$command\E:calls=(\d+)/m;
    return $n // 0;
}

1;
