# SPDX-License-Identifier: Apache-2.0
package Test::Levqor::Redis;
# A real redis-server on loopback for a test suite: its own port, unix
# socket and temp dir; stopped at exit. Control with cli(), kill(), restart().
# persist => 1 turns on the append-only file with fsync on every write, so a
# kill -9 and a restart keep every write Redis acknowledged (the queue tests).
# user => NAME (with password) makes an ACL user and turns the default user
# off; cli() logs in as it.
# args => [...] adds server arguments, conf => TEXT starts it from a config
# file in its dir (CONFIG REWRITE, which Sentinel sends, needs one), and
# sentinel => 1 runs it as a Sentinel (redis-server CONF --sentinel).
# Topologies of several servers: sentinel_group() (Redis/Sentinel.pm) and
# cluster() (Redis/Cluster.pm).
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
        user     => $opt{user},
        persist  => $opt{persist},
        args     => [@{ $opt{args} // [] }],
        conf     => $opt{conf} // ($opt{sentinel} ? '' : undef),
        sentinel => $opt{sentinel},
        dir      => tempdir('levqor-redis-XXXXXX', TMPDIR => 1, CLEANUP => 1),
    }, $class;
    $self->{socket} = "$self->{dir}/redis.sock";
    if (defined $self->{conf}) {
        $self->{conf_file} = "$self->{dir}/redis.conf";
        open(my $fh, '>', $self->{conf_file}) or die "cannot write $self->{conf_file}: $!";
        print {$fh} $self->{conf};
        close($fh) or die "cannot write $self->{conf_file}: $!";
    }
    $self->start;
    return $self;
}

sub port     { $_[0]{port} }
sub socket   { $_[0]{socket} }
sub password { $_[0]{password} }
sub user     { $_[0]{user} }
sub pid      { $_[0]{proc}->pid }
sub host     { '127.0.0.1' }
sub addr     { "127.0.0.1:$_[0]{port}" }
sub dir      { $_[0]{dir} }
sub alive    { $_[0]{proc} && $_[0]{proc}->alive }

sub start {
    my ($self) = @_;
    my @cmd = ('/usr/bin/redis-server', (defined $self->{conf_file} ? ($self->{conf_file}) : ()),
               ($self->{sentinel} ? ('--sentinel') : ()), '--port', $self->{port}, '--bind', '127.0.0.1',
               '--unixsocket', $self->{socket}, '--unixsocketperm', '700', '--save', '',
               ($self->{persist} ? ('--appendonly', 'yes', '--appendfsync', 'always')
                                : ('--appendonly', 'no')),
               '--dir', $self->{dir}, '--daemonize', 'no', '--loglevel', 'warning');
    if (defined $self->{user}) {
        # An ACL user with the password, every command and key; the
        # default user off, so only this user gets in.
        die "Test::Levqor::Redis: user => '$self->{user}' needs a password\n" unless defined $self->{password};
        push @cmd, '--user', $self->{user}, 'on', ">$self->{password}", '~*', '&*', '+@all',
                   '--user', 'default', 'off';
    } elsif (defined $self->{password}) {
        push @cmd, '--requirepass', $self->{password};
    }
    push @cmd, @{ $self->{args} };
    $self->{proc} = Test::Levqor::Process::spawn_server(
        name  => "redis-$self->{port}",
        cmd   => \@cmd,
        ready => sub { ($self->cli('PING') // '') =~ /PONG/ },
    );
    return $self;
}

# redis-cli's options to log in as this server's user.
sub cli_auth {
    my ($self) = @_;
    return () unless defined $self->{password};
    return ((defined $self->{user} ? ('--user', $self->{user}) : ()), '-a', $self->{password}, '--no-auth-warning');
}

# Runs redis-cli with the arguments; returns its output.
sub cli {
    my ($self, @args) = @_;
    my @auth = $self->cli_auth;
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

# redis-cli reading its commands, one a line, from $input (e.g. thousands
# of SETs in one process); @args go before them (-c, --pipe, ...).
sub cli_input {
    my ($self, $input, @args) = @_;
    my $file = "$self->{dir}/cli-input.txt";
    open(my $in, '>', $file) or die "cannot write $file: $!";
    print {$in} $input;
    close($in) or die "cannot write $file: $!";
    my @auth = $self->cli_auth;
    my $pid = open(my $fh, '-|') // return undef;
    if (!$pid) {
        open(STDERR, '>', '/dev/null');
        open(STDIN, '<', $file) or POSIX::_exit(127);
        exec('/usr/bin/redis-cli', '-p', $self->{port}, @auth, @args) or POSIX::_exit(127);
    }
    local $/;
    my $out = <$fh>;
    close($fh);
    unlink $file;
    return $out;
}

# ROLE's first line: "master", "slave" or "sentinel" (undef if it does not answer).
sub role {
    my ($self) = @_;
    my ($role) = ($self->cli('ROLE') // '') =~ /\A(master|slave|sentinel)\n/;
    return $role;
}

# INFO <section> as a hash.
sub info {
    my ($self, $section) = @_;
    my %info = ($self->cli('INFO', $section // 'default') // '') =~ /^([\w-]+):([^\r\n]*)/mg;
    return \%info;
}

sub sentinel_group {
    my ($class, %opt) = @_;
    require Test::Levqor::Redis::Sentinel;
    return Test::Levqor::Redis::Sentinel->new(%opt);
}

sub cluster {
    my ($class, %opt) = @_;
    require Test::Levqor::Redis::Cluster;
    return Test::Levqor::Redis::Cluster->new(%opt);
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
