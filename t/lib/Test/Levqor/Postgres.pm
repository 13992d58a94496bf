# SPDX-License-Identifier: Apache-2.0
package Test::Levqor::Postgres;
# A real PostgreSQL server on loopback for a test suite: initdb once (in
# new), then pg_ctl start/stop/restart on the same data directory. Its own
# port (a machine-wide claim from free_port), unix socket and temp dir;
# stopped when the object goes away and at exit.
#
# PostgreSQL refuses to run as root, so when the suite runs as root every
# server command runs as the postgres user (runuser -u postgres --). The temp
# dir is made by temp_dir() (mode 0755) and must be reachable by that user:
# a TMPDIR under a 0700 parent is not, and /tmp is used instead.
#
# Authentication: the superuser "postgres" over the unix socket without a
# password (psql() below, for the test's own setup), every TCP connection by
# password (scram-sha-256). The test role (user(), password()) owns the
# database db() and may create databases (the backup drill's scratch ones).
#
#   my $pg = Test::Levqor::Postgres->new;     # initdb + start
#   $pg->url;                                  # postgresql://levqor_test:<pw>@127.0.0.1:<port>/levqor_test
#   $pg->admin_conninfo;                       # host=<socket dir> port=<port> user=postgres dbname=levqor_test
#   $pg->psql('CREATE TABLE t (x int)');       # as postgres, in db(); dies on an error
#   $pg->psql($sql, db => 'postgres', user => 'levqor_test', allow_fail => 1);
#   $pg->stop; $pg->start; $pg->restart;
use strict;
use warnings;

use Carp qw(croak);
use Scalar::Util qw(weaken);
use Test::Levqor::Util qw(free_port temp_dir run_cmd slurp spew tail_text);

my %LIVE;    # refaddr => object (weak), stopped in END if DESTROY has not run yet
my $OWNER_PID = $$;

# The newest PostgreSQL installed, unless LEVQOR_PG_BIN names a bin dir.
sub bin_dir {
    return $ENV{LEVQOR_PG_BIN} if $ENV{LEVQOR_PG_BIN};
    my ($dir) = grep { -x "$_/initdb" && -x "$_/pg_ctl" } reverse sort glob '/usr/lib/postgresql/*/bin';
    return $dir;
}

# Why PostgreSQL cannot run here, or undef (for plan skip_all).
sub unavailable {
    my $bin = bin_dir() or return 'PostgreSQL (initdb, pg_ctl) is not installed';
    return 'running as root and there is no postgres user' if $> == 0 && !getpwnam('postgres');
    return undef;
}

sub new {
    my ($class, %opt) = @_;
    my $why = unavailable();
    croak "Test::Levqor::Postgres: $why" if $why;
    my $self = bless {
        bin      => bin_dir(),
        port     => $opt{port} // free_port(),
        user     => $opt{user} // 'levqor_test',
        db       => $opt{db} // 'levqor_test',
        # Distinctive, so a test can look for it in every message.
        password => $opt{password} // sprintf('pw-Sekr1t-%06d', int rand 1_000_000),
        running  => 0,
    }, $class;
    $self->{dir}    = _server_dir();
    $self->{data}   = "$self->{dir}/data";
    $self->{log}    = "$self->{dir}/server.log";
    $self->{socket} = $self->{dir};
    $self->_initdb;
    $self->start;
    $self->_create_role;
    weaken($LIVE{"$self"} = $self);
    return $self;
}

sub port     { $_[0]{port} }
sub user     { $_[0]{user} }
sub password { $_[0]{password} }
sub db       { $_[0]{db} }
sub dir      { $_[0]{dir} }
sub bin      { $_[0]{bin} }
sub log_text { slurp($_[0]{log}) // '' }

# The test role's libpq URL (password included), for db() or another database.
sub url {
    my ($self, $db) = @_;
    return sprintf('postgresql://%s:%s@127.0.0.1:%d/%s', $self->{user}, $self->{password}, $self->{port},
                   $db // $self->{db});
}

# The superuser's libpq conninfo over the unix socket (no password), for a
# program's own setup (the engine's unit tests).
sub admin_conninfo {
    my ($self, $db) = @_;
    return sprintf('host=%s port=%d user=postgres dbname=%s', $self->{socket}, $self->{port}, $db // $self->{db});
}

# The server's major version (e.g. 15).
sub major {
    my ($self) = @_;
    my $num = $self->psql('SHOW server_version_num', db => 'postgres');
    return int($num / 10000);
}

sub start {
    my ($self) = @_;
    return $self if $self->{running};
    my ($code, $out) = $self->_as_postgres("$self->{bin}/pg_ctl", '-D', $self->{data}, '-l', $self->{log},
                                           '-w', '-t', '30', 'start');
    croak "pg_ctl start failed ($code):\n$out\n" . tail_text($self->log_text, 30) if $code;
    $self->{running} = 1;
    return $self;
}

sub stop {
    my ($self) = @_;
    return $self unless $self->{running};
    my ($code, $out) = $self->_as_postgres("$self->{bin}/pg_ctl", '-D', $self->{data}, '-m', 'fast', '-w',
                                           '-t', '30', 'stop');
    if ($code) {    # last resort: the postmaster's pid from its pid file
        my ($pid) = (slurp("$self->{data}/postmaster.pid") // '') =~ /^(\d+)/;
        kill 'QUIT', $pid if $pid;
    }
    $self->{running} = 0;
    return $self;
}

sub restart { my ($self) = @_; $self->stop; $self->start }

# Runs SQL with psql (as postgres over the unix socket unless user => ...,
# then over TCP with the test role's password); returns its unaligned,
# tuples-only output without the final newline. Dies on an error unless
# allow_fail => 1; then returns (exit code, output) in list context.
sub psql {
    my ($self, $sql, %opt) = @_;
    my @conn = defined $opt{user}
        ? ('-h', '127.0.0.1', '-U', $opt{user})
        : ('-h', $self->{socket}, '-U', 'postgres');
    local $ENV{PGPASSWORD} = $self->{password} if defined $opt{user};
    my ($code, $out) = $self->_as_postgres("$self->{bin}/psql", '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1',
                                           @conn, '-p', $self->{port}, '-d', $opt{db} // $self->{db}, '-c', $sql);
    $out =~ s/\n\z//;
    return ($code, $out) if $opt{allow_fail};
    croak "psql failed ($code): $sql\n$out" if $code;
    return $out;
}

sub DESTROY {
    my ($self) = @_;
    return unless $$ == $OWNER_PID;
    local ($?, $!, $@);
    $self->stop;
    delete $LIVE{"$self"};
}

END {
    if ($$ == $OWNER_PID) {
        local ($?, $!, $@);
        $_->stop for grep { defined } values %LIVE;
        %LIVE = ();
    }
}

# ---- internals ---------------------------------------------------------------

# A temp dir the postgres user can enter: every parent must be searchable by
# others (a TMPDIR under a 0700 home is not); otherwise one under /tmp.
sub _server_dir {
    my $base = temp_dir('pg');
    unless (_reachable_by_others($base)) {
        local $ENV{TMPDIR} = '/tmp';
        $base = temp_dir('pg');
    }
    my $dir = "$base/pg";
    mkdir $dir or croak "mkdir $dir: $!";
    chmod 0700, $dir;
    if ($> == 0) {
        my (undef, undef, $uid, $gid) = getpwnam('postgres');
        chown $uid, $gid, $dir or croak "chown $dir: $!";
    }
    return $dir;
}

sub _reachable_by_others {
    my ($path) = @_;
    return 1 unless $> == 0;    # not root: the server runs as us
    my @parts = split m{/}, $path;
    for my $i (1 .. $#parts) {
        my $p = join('/', @parts[0 .. $i]) || '/';
        my @st = stat $p or return 0;
        return 0 unless $st[2] & 0001;    # others may search it
    }
    return 1;
}

sub _as_postgres {
    my ($self, @cmd) = @_;
    return run_cmd(@cmd) unless $> == 0;
    # runuser keeps the environment (PGPASSWORD) unless -l is given.
    return run_cmd('runuser', '-u', 'postgres', '--', @cmd);
}

sub _initdb {
    my ($self) = @_;
    my ($code, $out) = $self->_as_postgres("$self->{bin}/initdb", '-D', $self->{data}, '-U', 'postgres',
                                           '--auth-local=trust', '--auth-host=scram-sha-256', '--no-sync',
                                           '--no-instructions', '-E', 'UTF8', '--locale=C');
    croak "initdb failed ($code):\n$out" if $code;
    # Tests need speed, not durability.
    my $conf = slurp("$self->{data}/postgresql.conf") // '';
    $conf .= join("\n", '', '# Test::Levqor::Postgres', "port = $self->{port}", "listen_addresses = '127.0.0.1'",
                  "unix_socket_directories = '$self->{socket}'", 'fsync = off', 'synchronous_commit = off',
                  'full_page_writes = off', 'max_connections = 50', "password_encryption = 'scram-sha-256'",
                  'log_min_messages = warning', '');
    spew("$self->{data}/postgresql.conf", $conf);
    if ($> == 0) {
        my (undef, undef, $uid, $gid) = getpwnam('postgres');
        chown $uid, $gid, "$self->{data}/postgresql.conf";
    }
}

sub _create_role {
    my ($self) = @_;
    (my $pw = $self->{password}) =~ s/'/''/g;
    $self->psql(qq{CREATE ROLE "$self->{user}" LOGIN CREATEDB PASSWORD '$pw'}, db => 'postgres');
    $self->psql(qq{CREATE DATABASE "$self->{db}" OWNER "$self->{user}"}, db => 'postgres');
}

1;
