# SPDX-License-Identifier: Apache-2.0
package Test::Levqor::Redis::Cluster;
# A Redis Cluster on loopback for a test suite: masters (and replicas) with
# cluster-enabled yes, each a Test::Levqor::Redis with its own port, bus
# port (cluster-port) and temp dir, slots assigned by
# `redis-cli --cluster create`; stopped at exit.
#
#   my $c = Test::Levqor::Redis->cluster(masters => 3, replicas => 0);
#   $c->url;                          # redis-cluster://127.0.0.1:P,127.0.0.1:Q,127.0.0.1:R
#   $c->cli('SET', 'k', 'v');         # redis-cli -c: follows MOVED/ASK
#   $c->node_for_key('k')->cli('GET', 'k');
#   $c->reshard($c->node(0), $c->node(1), 100, during => sub { ... });
#
# A node killed and started again ($c->node(1)->kill('KILL'); ->start) keeps
# its identity and bus port (nodes.conf in its dir; persist => 1 keeps its
# data too). new(), reshard() and wait_ok() return once every node reports
# cluster_state:ok and they all agree on the slot map with no slot open.
use strict;
use warnings;
use Carp qw(croak);
use Test::Levqor::Process;
use Test::Levqor::Redis;
use Test::Levqor::Util qw(free_port run_cmd wait_until tail_text);

use constant SLOTS => 16384;

sub new {
    my ($class, %opt) = @_;
    my $n_masters  = $opt{masters} // 3;
    my $n_replicas = $opt{replicas} // 0;
    croak 'cluster: masters => at least 3 (redis-cli --cluster create)' if $n_masters < 3;
    croak 'cluster: user => needs a password' if defined $opt{user} && !defined $opt{password};
    my $self = bless { password => $opt{password}, user => $opt{user}, nodes => [], timeout => $opt{timeout} // 30 }, $class;
    for (1 .. $n_masters * (1 + $n_replicas)) {
        push @{ $self->{nodes} }, Test::Levqor::Redis->new(
            password => $opt{password}, user => $opt{user}, persist => $opt{persist}, conf => '',
            args => ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf',
                     '--cluster-port', free_port(), '--cluster-node-timeout', $opt{node_timeout_ms} // 2000,
                     '--repl-diskless-sync-delay', 0,
                     (defined $opt{password} ? ('--masterauth', $opt{password}) : ()),
                     (defined $opt{user} ? ('--masteruser', $opt{user}) : ())]);
    }
    $self->redis_cli('--cluster', 'create', (map { $_->addr } $self->nodes),
                     '--cluster-replicas', $n_replicas, '--cluster-yes');
    $self->wait_ok;
    return $self;
}

sub nodes    { @{ $_[0]{nodes} } }
sub node     { $_[0]{nodes}[$_[1]] }
sub password { $_[0]{password} }
sub user     { $_[0]{user} }

# redis-cluster://[[user]:password@]127.0.0.1:P,...: every node (password => 0
# leaves the password out).
sub url {
    my ($self, %o) = @_;
    my $auth = defined $self->{password} && ($o{password} // 1)
        ? ($self->{user} // '') . ":$self->{password}@" : '';
    return "redis-cluster://$auth" . join(',', map { $_->addr } $self->nodes);
}

# Runs redis-cli (the password in REDISCLI_AUTH, not on the command line);
# dies with its output unless it exits 0. Returns the output.
sub redis_cli {
    my ($self, @args) = @_;
    local $ENV{REDISCLI_AUTH} = $self->{password} if defined $self->{password};
    my ($code, $out) = run_cmd('/usr/bin/redis-cli', $self->user_args, @args);
    croak "redis-cli @args exited with $code:\n" . tail_text($out, 30) if $code;
    return $out;
}

sub user_args {
    my ($self) = @_;
    return defined $self->{user} ? ('--user', $self->{user}) : ();
}

# A running node (the first).
sub any_node {
    my ($self) = @_;
    my ($n) = grep { $_->alive } $self->nodes;
    return $n // croak 'cluster: no node is running';
}

# redis-cli -c on a running node: follows MOVED and ASK (its
# "-> Redirected to ..." lines are taken out of the output).
sub cli {
    my ($self, @args) = @_;
    return ($self->any_node->cli('-c', @args) // return undef) =~ s/^-> Redirected to .*\n//mgr;
}

# The same with commands, one a line, from $input.
sub cli_input {
    my ($self, $input) = @_;
    return ($self->any_node->cli_input($input, '-c') // return undef) =~ s/^-> Redirected to .*\n//mgr;
}

# A node's id (CLUSTER MYID).
sub node_id {
    my ($self, $node) = @_;
    chomp(my $id = $node->cli('CLUSTER', 'MYID') // '');
    return $id;
}

# The node's view of the cluster from CLUSTER NODES: { id => { addr, port,
# role, master (a replica's), slots => [[first, last], ...] } }, and the
# open slots (migrating/importing) as a count.
sub nodes_view {
    my ($self, $node) = @_;
    my (%view, $open);
    for my $line (split /\n/, $node->cli('CLUSTER', 'NODES') // '') {
        my ($id, $addr, $flags, $master, undef, undef, undef, $link, @slots) = split ' ', $line;
        next unless defined $link;
        my ($port) = $addr =~ /:(\d+)@/ or next;
        my %n = (addr => "127.0.0.1:$port", port => $port, flags => $flags, link => $link,
                 role => ($flags =~ /master/ ? 'master' : 'replica'), master => $master, slots => []);
        for my $s (@slots) {
            if ($s =~ /\A\[/) { $open++; next }
            my ($first, $last) = $s =~ /\A(\d+)(?:-(\d+))?\z/ or next;
            push @{ $n{slots} }, [$first, $last // $first];
        }
        $view{$id} = \%n;
    }
    return (\%view, $open // 0);
}

# { slot range "first-last" => port } as a node sees it (masters only).
sub slot_ranges {
    my ($self, $node) = @_;
    my ($view) = $self->nodes_view($node // $self->any_node);
    my %ranges;
    for my $n (values %$view) {
        $ranges{"$_->[0]-$_->[1]"} = $n->{port} for @{ $n->{slots} };
    }
    return \%ranges;
}

# The port owning each slot (an array of SLOTS entries) as $node sees it.
sub slot_map {
    my ($self, $node) = @_;
    my @map;
    my $ranges = $self->slot_ranges($node);
    for my $r (keys %$ranges) {
        my ($first, $last) = split /-/, $r;
        @map[$first .. $last] = ($ranges->{$r}) x ($last - $first + 1);
    }
    return \@map;
}

# True when every running node says cluster_state:ok, no slot is open and
# all agree on the owner of every slot.
sub ok {
    my ($self) = @_;
    my $reference;
    for my $node (grep { $_->alive } $self->nodes) {
        return 0 unless ($node->cli('CLUSTER', 'INFO') // '') =~ /^cluster_state:ok\r?$/m;
        my ($view, $open) = $self->nodes_view($node);
        return 0 if $open || grep { $_->{flags} =~ /fail|handshake|noaddr/ } values %$view;
        my $ranges = $self->slot_ranges($node);
        my $key = join(',', map { "$_=$ranges->{$_}" } sort keys %$ranges);
        $reference //= $key;
        return 0 unless $key eq $reference;
    }
    return 1;
}

sub wait_ok {
    my ($self, $timeout) = @_;
    $timeout //= $self->{timeout};
    wait_until($timeout, sub { $self->ok }, 0.1)
        or croak "cluster: not ok within ${timeout}s:\n"
               . join("\n", map { $_->addr . ":\n" . ($_->cli('CLUSTER', 'NODES') // '') } $self->nodes);
    return 1;
}

# The masters as the cluster sees them now (node objects).
sub masters {
    my ($self) = @_;
    my ($view) = $self->nodes_view($self->any_node);
    my %port = map { ($_->{port} => 1) } grep { $_->{role} eq 'master' && @{ $_->{slots} } } values %$view;
    return grep { $port{ $_->port } } $self->nodes;
}

# CLUSTER KEYSLOT of a key.
sub keyslot {
    my ($self, $key) = @_;
    my ($slot) = ($self->any_node->cli('CLUSTER', 'KEYSLOT', $key) // '') =~ /\A(\d+)\n\z/
        or croak "cluster: CLUSTER KEYSLOT '$key' failed";
    return $slot;
}

# The same computed here (CRC16/XMODEM of the key or of its first non-empty
# {hash tag}, mod 16384): no process per key. t/redis_topologies.t checks it
# against CLUSTER KEYSLOT.
my @CRC16 = map {
    my $c = $_ << 8;
    $c = $c & 0x8000 ? (($c << 1) ^ 0x1021) & 0xffff : ($c << 1) & 0xffff for 1 .. 8;
    $c
} 0 .. 255;

sub key_slot {
    my ($key) = @_;
    $key = $1 if $key =~ /\A[^{]*\{([^}]+)\}/;
    my $crc = 0;
    $crc = (($crc << 8) & 0xffff) ^ $CRC16[(($crc >> 8) ^ $_) & 0xff] for unpack('C*', $key);
    return $crc % SLOTS;
}

# A key "<prefix><n>" in each of the given slots: { slot => key } (e.g. one
# key in every slot of a node, so that any slot a reshard moves holds one).
sub keys_for_slots {
    my ($prefix, @slots) = @_;
    croak "keys_for_slots: prefix '$prefix' has a hash tag" if $prefix =~ /\{/;
    my %want = map { ($_ => 1) } @slots;
    my %keys;
    for (my $i = 0; keys %keys < keys %want; $i++) {
        my $slot = key_slot("$prefix$i");
        $keys{$slot} //= "$prefix$i" if $want{$slot};
    }
    return \%keys;
}

# The slots a node owns (CLUSTER NODES).
sub slots_of {
    my ($self, $node) = @_;
    my $map = $self->slot_map;
    return grep { ($map->[$_] // 0) == $node->port } 0 .. SLOTS - 1;
}

# The master node that owns a key's slot (key_slot(), the same as CLUSTER
# KEYSLOT, and CLUSTER NODES).
sub node_for_key {
    my ($self, $key) = @_;
    return $self->node_for_slot(key_slot($key));
}

sub node_for_slot {
    my ($self, $slot) = @_;
    my $port = $self->slot_map->[$slot] // croak "cluster: slot $slot has no owner";
    my ($node) = grep { $_->port == $port } $self->nodes;
    return $node;
}

# Moves $slots slots from node $from to node $to (node objects or indexes)
# with redis-cli --cluster reshard; calls during->() every 50 ms while it
# runs (load, or checks that must hold meanwhile), then waits until the
# cluster is ok again. Dies if redis-cli fails. Returns the slots that moved.
sub reshard {
    my ($self, $from, $to, $slots, %opt) = @_;
    $_ = ref $_ ? $_ : $self->node($_) for $from, $to;
    my $before = $self->slot_map;
    my $proc = Test::Levqor::Process->spawn(
        name => 'redis-cli-reshard',
        cmd  => ['/usr/bin/redis-cli', $self->user_args, '--cluster', 'reshard', $from->addr,
                 '--cluster-from', $self->node_id($from), '--cluster-to', $self->node_id($to),
                 '--cluster-slots', $slots, '--cluster-yes'],
        env  => (defined $self->{password} ? { REDISCLI_AUTH => $self->{password} } : {}));
    my $during = $opt{during} // sub { };
    wait_until($opt{timeout} // $self->{timeout}, sub { $during->(); !$proc->alive }, 0.05);
    my $alive = $proc->alive;
    $proc->stop(timeout => 2) if $alive;
    croak 'redis-cli --cluster reshard ' . ($alive ? 'did not finish' : $proc->exit_text) . ":\n"
        . tail_text($proc->log_text, 30) if $alive || $proc->exit_status;
    $self->wait_ok;
    my $after = $self->slot_map;
    return grep { $before->[$_] != $after->[$_] } 0 .. SLOTS - 1;
}

sub stop {
    my ($self) = @_;
    $_->stop for $self->nodes;
}

1;
