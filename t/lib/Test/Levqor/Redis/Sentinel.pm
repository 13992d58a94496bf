# SPDX-License-Identifier: Apache-2.0
package Test::Levqor::Redis::Sentinel;
# A Redis Sentinel deployment on loopback for a test suite: a master, its
# replicas (replicaof) and Sentinels monitoring it, each a
# Test::Levqor::Redis with its own port and temp dir, stopped at exit.
#
#   my $g = Test::Levqor::Redis->sentinel_group(replicas => 1, sentinels => 3,
#       master_name => 'levqor', password => 'secret');
#   $g->url;                 # redis-sentinel://:secret@127.0.0.1:P,127.0.0.1:Q,.../levqor
#   $g->master->cli('SET', 'k', 'v');
#   my $old = $g->kill_master(9);
#   my $new = $g->wait_failover(15) or die 'no failover';
#
# password applies to the data nodes (requirepass, masterauth, Sentinel's
# auth-pass) and, unless sentinel_password says otherwise (undef: none), to
# the Sentinels too (requirepass, sentinel-pass). user => NAME (with a
# password) makes it an ACL user's on every node, the default user off
# (masteruser, auth-user, sentinel-user). quorum defaults to a
# majority; down_after_ms (1000) and failover_timeout_ms (2000) are small
# so that a failover takes seconds. persist => 1 gives every data node the
# fsync-always append-only file (Test::Levqor::Redis->new). new() returns once every Sentinel sees
# the master, every replica and the other Sentinels (a kill_master() right
# after it fails over).
use strict;
use warnings;
use Carp qw(croak);
use Test::Levqor::Redis;
use Test::Levqor::Util qw(wait_until);

sub new {
    my ($class, %opt) = @_;
    my $name = $opt{master_name} // 'levqor';
    croak "sentinel_group: master_name '$name' must be [A-Za-z0-9._-]+" unless $name =~ /\A[A-Za-z0-9._-]+\z/;
    my $password = $opt{password};
    my $user = $opt{user};
    croak 'sentinel_group: user => needs a password' if defined $user && !defined $password;
    croak "sentinel_group: user '$user' must be [A-Za-z0-9._-]+" if defined $user && $user !~ /\A[A-Za-z0-9._-]+\z/;
    my $sentinel_password = exists $opt{sentinel_password} ? $opt{sentinel_password} : $password;
    for my $p (grep { defined } $password, $sentinel_password) {
        croak 'sentinel_group: a password is printable ASCII without spaces, quotes or backslashes'
            unless $p =~ /\A[\x21-\x7e]+\z/ && $p !~ /["'\\]/;
    }
    my $n_replicas  = $opt{replicas} // 1;
    my $n_sentinels = $opt{sentinels} // 3;
    my $quorum = $opt{quorum} // int($n_sentinels / 2) + 1;
    my $timeout = $opt{timeout} // 30;
    my $self = bless {
        name => $name, password => $password, sentinel_password => $sentinel_password, user => $user,
        nodes => [], sentinels => [],
    }, $class;

    # No 5 s wait for more replicas before a full sync (repl-diskless-sync-delay).
    my @data_args = ((defined $password ? ('--masterauth', $password) : ()),
                     (defined $user ? ('--masteruser', $user) : ()), '--repl-diskless-sync-delay', 0);
    my $master = Test::Levqor::Redis->new(password => $password, user => $user, persist => $opt{persist}, conf => '',
                                          args => [@data_args]);
    push @{ $self->{nodes} }, $master;
    $self->{master_port} = $master->port;
    for (1 .. $n_replicas) {
        push @{ $self->{nodes} }, Test::Levqor::Redis->new(
            password => $password, user => $user, persist => $opt{persist}, conf => '',
            args => [@data_args, '--replicaof', '127.0.0.1', $master->port]);
    }
    for my $replica ($self->replicas) {
        wait_until($timeout, sub { ($replica->info('replication')->{master_link_status} // '') eq 'up' }, 0.05)
            or croak 'sentinel_group: replica ' . $replica->addr . ' did not sync with ' . $master->addr;
    }

    # Started after the replicas synced: a Sentinel's first INFO of the
    # master lists them.
    my $conf = join('',
        "sentinel monitor $name 127.0.0.1 ", $master->port, " $quorum\n",
        "sentinel down-after-milliseconds $name ", $opt{down_after_ms} // 1000, "\n",
        "sentinel failover-timeout $name ", $opt{failover_timeout_ms} // 2000, "\n",
        "sentinel parallel-syncs $name 1\n",
        (defined $password ? "sentinel auth-pass $name $password\n" : ''),
        (defined $user ? "sentinel auth-user $name $user\n" : ''),
        (defined $sentinel_password ? "sentinel sentinel-pass $sentinel_password\n" : ''),
        (defined $sentinel_password && defined $user ? "sentinel sentinel-user $user\n" : ''));
    for (1 .. $n_sentinels) {
        push @{ $self->{sentinels} },
            Test::Levqor::Redis->new(sentinel => 1, password => $sentinel_password,
                                     user => (defined $sentinel_password ? $user : undef), conf => $conf);
    }
    wait_until($timeout, sub { $self->settled }, 0.1)
        or croak "sentinel_group: the Sentinels did not see the master, $n_replicas replica(s) and each other "
               . "within ${timeout}s:\n" . join("\n", map { $_->cli('SENTINEL', 'MASTER', $name) // '' } $self->sentinels);
    return $self;
}

sub master_name       { $_[0]{name} }
sub password          { $_[0]{password} }
sub user              { $_[0]{user} }
sub sentinel_password { $_[0]{sentinel_password} }
sub sentinels         { @{ $_[0]{sentinels} } }
sub nodes             { @{ $_[0]{nodes} } }

# The data node the group last knew as master (the one new() started, or
# what wait_failover() found).
sub master {
    my ($self) = @_;
    my ($m) = grep { $_->port == $self->{master_port} } $self->nodes;
    return $m;
}

# The data nodes running that are not the master.
sub replicas {
    my ($self) = @_;
    return grep { $_->port != $self->{master_port} && $_->alive } $self->nodes;
}

# redis-sentinel://[[user]:password@]127.0.0.1:P,...,127.0.0.1:R/<name>[/db]: the
# form of design.md "Redis deployments"; with the password when there is
# one (password => 0 leaves it out), db => N adds the database.
sub url {
    my ($self, %o) = @_;
    my $auth = defined $self->{password} && ($o{password} // 1)
        ? ($self->{user} // '') . ":$self->{password}@" : '';
    return "redis-sentinel://$auth" . join(',', map { $_->addr } $self->sentinels) . "/$self->{name}"
        . (defined $o{db} ? "/$o{db}" : '');
}

# A Sentinel's SENTINEL <command> <name> reply as a list of field hashes
# (MASTER: one, REPLICAS / SENTINELS: one per instance).
sub sentinel_records {
    my ($self, $sentinel, $command) = @_;
    my @lines = split /\n/, $sentinel->cli('SENTINEL', $command, $self->{name}) // '';
    my @records;
    while (@lines >= 2) {
        my ($k, $v) = splice(@lines, 0, 2);
        push @records, {} if $k eq 'name' || !@records;
        $records[-1]{$k} = $v;
    }
    return @records;
}

# "127.0.0.1:port" a Sentinel gives as the master (undef if it does not answer).
sub master_addr_of {
    my ($self, $sentinel) = @_;
    my ($host, $port) = ($sentinel->cli('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', $self->{name}) // '')
        =~ /\A(\S+)\n(\d+)\n\z/;
    return defined $port ? "$host:$port" : undef;
}

# True when every running Sentinel reports the group's master as up with all
# live replicas and every other Sentinel known.
sub settled {
    my ($self) = @_;
    my @replicas = map { $_->addr } $self->replicas;
    my $others = scalar($self->sentinels) - 1;
    for my $s (grep { $_->alive } $self->sentinels) {
        my ($m) = $self->sentinel_records($s, 'MASTER');
        return 0 unless $m && ($m->{flags} // '') eq 'master' && $m->{port} == $self->{master_port}
            && $m->{'num-other-sentinels'} == $others;
        my %up = map { ("$_->{ip}:$_->{port}" => 1) } grep { ($_->{flags} // '') eq 'slave' }
            $self->sentinel_records($s, 'REPLICAS');
        return 0 if grep { !$up{$_} } @replicas;
    }
    return 1;
}

# SIGKILLs (or $sig) the current master and waits for it to exit; returns it.
sub kill_master {
    my ($self, $sig) = @_;
    my $m = $self->master;
    $m->kill($sig // 9);
    wait_until(10, sub { !$m->alive }, 0.01);
    return $m;
}

# Polls until every running Sentinel names a master other than the one the
# group knew, and that node answers ROLE as master; then master() is it.
# Returns the new master node, or undef after $timeout seconds (default 30).
# during => sub {...} is called at every poll (every 100 ms): load, checks.
sub wait_failover {
    my ($self, $timeout, %opt) = @_;
    my $old = $self->{master_port};
    my $during = $opt{during} // sub { };
    my $new;
    wait_until($timeout // 30, sub {
        $during->();
        my %addr = map { (($self->master_addr_of($_) // '') => 1) } grep { $_->alive } $self->sentinels;
        return 0 unless keys %addr == 1;
        my ($port) = (keys %addr)[0] =~ /:(\d+)\z/ or return 0;
        return 0 if $port == $old;
        ($new) = grep { $_->port == $port && $_->alive } $self->nodes;
        return $new && ($new->role // '') eq 'master';
    }, 0.1) or return undef;
    $self->{master_port} = $new->port;
    return $new;
}

sub stop {
    my ($self) = @_;
    $_->stop for $self->sentinels, $self->nodes;
}

1;
