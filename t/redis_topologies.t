#!/usr/bin/perl
# SPDX-License-Identifier: Apache-2.0
# The Redis topologies issue 18's suites run on, started by
# Test::Levqor::Redis on loopback (no levqor code): a Sentinel group (a
# master, a replica, three Sentinels, a password) survives a kill -9 of its
# master: the Sentinels promote the replica, which kept what the master
# acknowledged and takes writes; a 3-master Redis Cluster (an ACL user)
# spreads keys over its nodes, keeps {hash tag} keys on one, and a reshard
# of 100 slots moves exactly their keys while cluster_state stays ok. Deadlines are generous
# and everything is polled. About 10 s, most of it Sentinel's own periods
# (hello messages every 2 s, down-after 1 s) and redis-cli --cluster create.
use strict;
use warnings;

use lib 't/lib';
use Test::More;
use Time::HiRes qw(time);
use Test::Levqor::Redis;
use Test::Levqor::Redis::Cluster;
use Test::Levqor::Util qw(run_cmd wait_until);

my ($no_redis) = run_cmd('/bin/sh', '-c', 'command -v redis-server && command -v redis-cli');
plan skip_all => 'redis-server is not installed' if $no_redis != 0;
# No levqor process runs here: nothing for make t-asan to check.
plan skip_all => 'no levqor code in this suite (the ASan pass)' if $ENV{LEVQOR_NGINX_PRELOAD};

subtest 'sentinel: kill -9 of the master, the replica is promoted and keeps acknowledged writes' => sub {
    my $g = Test::Levqor::Redis->sentinel_group(replicas => 1, sentinels => 3, master_name => 'levqor',
                                                password => 'topo-secret');
    my $master = $g->master;
    my ($replica) = $g->replicas;
    my @sentinels = $g->sentinels;
    is(scalar(@sentinels), 3, 'three Sentinels');
    my $addr = qr/127\.0\.0\.1:\d+/;
    like($g->url, qr{\Aredis-sentinel://:topo-secret\@$addr,$addr,$addr/levqor\z}, 'url() in the design.md form');
    like($g->url(password => 0, db => 2), qr{\Aredis-sentinel://$addr,$addr,$addr/levqor/2\z},
         'url() without the password, with a db');
    is($master->role, 'master', 'the master answers ROLE as master');
    is($replica->role, 'slave', 'the replica as replica');
    is_deeply([map { $g->master_addr_of($_) } @sentinels], [($master->addr) x 3],
              'every Sentinel names the master');
    for my $node ($master, $sentinels[0]) {
        my (undef, $out) = run_cmd('/usr/bin/redis-cli', '-p', $node->port, 'PING');
        like($out, qr/NOAUTH/, $node->addr . ' refuses a client without the password');
    }

    is($master->cli('SET', 'before', 'acknowledged'), "OK\n", 'SET on the master');
    is($master->cli('WAIT', 1, 5000), "1\n", 'WAIT: the replica has it');
    is($replica->cli('GET', 'before'), "acknowledged\n", 'the replica reads it');

    my $t0 = time;
    my $old = $g->kill_master(9);
    ok(!$old->alive, 'master killed with SIGKILL');
    my $new = $g->wait_failover(15);
    ok($new, 'the Sentinels fail over within 15 s') or return;
    note(sprintf('failover after %.1f s (a failed election is retried 2 x failover-timeout, 4 s, after it began)', time - $t0));
    is($new->port, $replica->port, 'the replica is the new master');
    is($g->master->port, $new->port, 'master() follows');
    is($new->role, 'master', 'it answers ROLE as master');
    is_deeply([map { $g->master_addr_of($_) } @sentinels], [($new->addr) x 3], 'every Sentinel names it');
    is($new->cli('GET', 'before'), "acknowledged\n", 'the write acknowledged before the kill is there');
    is($new->cli('SET', 'after', 'failover'), "OK\n", 'the new master takes writes');
    is($new->cli('GET', 'after'), "failover\n", 'and reads them back');
    $g->stop;
};

subtest 'cluster: keys spread over 3 masters, {tag} keys on one node, a reshard moves exactly its slots' => sub {
    my $c = Test::Levqor::Redis->cluster(masters => 3, replicas => 0, user => 'levqor', password => 'topo-acl');
    my @nodes = $c->nodes;
    my $addr = qr/127\.0\.0\.1:\d+/;
    like($c->url, qr{\Aredis-cluster://levqor:topo-acl\@$addr,$addr,$addr\z}, 'url() with the ACL user');
    like($c->url(password => 0), qr{\Aredis-cluster://$addr,$addr,$addr\z}, 'url() without credentials');
    my (undef, $out) = run_cmd('/usr/bin/redis-cli', '-p', $nodes[0]->port, '-a', 'topo-acl', '--no-auth-warning', 'PING');
    like($out, qr/WRONGPASS/, 'the default user is off: the password alone does not log in');
    is(scalar($c->masters), 3, 'three masters own slots');
    ok($c->ok, 'cluster_state:ok on every node, one slot map');

    my @samples = ('foo', 'user:{42}:a', 'user:{42}:b', '{}x', 'a{b}c{d}', '{{x}}', 'x{}{y}', 'levqor:{api}:k:p:0f');
    is_deeply([map { Test::Levqor::Redis::Cluster::key_slot($_) } @samples],
              [map { $c->keyslot($_) } @samples], 'key_slot() agrees with CLUSTER KEYSLOT');

    my @spread = map { "spread:$_" } 1 .. 1000;
    $out = $c->cli_input(join('', map { "SET $_ v-$_\n" } @spread));
    is(scalar(() = ($out // '') =~ /^OK$/mg), 1000, '1,000 SETs through redis-cli -c');
    my %count = map { ($_->port => $_->cli('DBSIZE') =~ s/\s+//r) } @nodes;
    is(scalar(grep { $count{$_} > 0 } keys %count), 3, 'keys on all three nodes (' . join(', ', values %count) . ')');
    my $sum = 0;
    $sum += $_ for values %count;
    is($sum, 1000, 'and each key once');
    is_deeply([map { $c->node_for_key($_)->cli('GET', $_) } @spread[0 .. 29]],
              [map { "v-$_\n" } @spread[0 .. 29]], 'node_for_key() names the node holding the key');

    my @tagged = map { "user:{42}:$_" } qw(a b c d e f);
    is(scalar(keys %{ { map { ($c->node_for_key($_)->port => 1) } @tagged } }), 1, '{tag} keys: one node');
    is($c->cli('MSET', map { ($_ => 1) } @tagged), "OK\n", 'one MSET of them all (one slot)');
    like($c->cli('MSET', 'spread:1', 1, 'spread:2', 1), qr/CROSSSLOT/, 'keys of two slots: CROSSSLOT');

    # One key in every slot of node 0, so each slot that moves moves a key.
    my ($from, $to) = @nodes[0, 1];
    my $per_slot = Test::Levqor::Redis::Cluster::keys_for_slots('slot:', $c->slots_of($from));
    $out = $from->cli_input(join('', map { "SET $per_slot->{$_} $_\n" } sort { $a <=> $b } keys %$per_slot), '--pipe');
    like($out // '', qr/errors: 0, replies: ${\ scalar(keys %$per_slot)}/, 'a key in each of node 0\'s slots');
    my ($from_before, $to_before) = map { $_->cli('DBSIZE') + 0 } $from, $to;

    my ($polls, @not_ok) = (0);
    my @moved = $c->reshard($from, $to, 100, during => sub {
        $polls++;
        push @not_ok, grep { ($_->cli('CLUSTER', 'INFO') // '') !~ /^cluster_state:ok\r?$/m } @nodes;
    });
    is(scalar(@moved), 100, 'reshard moved 100 slots');
    ok($polls > 0 && !@not_ok, "cluster_state:ok on every node during the reshard ($polls polls)");
    my $map = $c->slot_map;
    is(scalar(grep { $map->[$_] != $to->port } @moved), 0, 'node 1 owns them now');
    my %moved = map { ($_ => 1) } @moved;
    my $others = grep { $moved{ Test::Levqor::Redis::Cluster::key_slot($_) } } @spread, @tagged;
    is($from->cli('DBSIZE') + 0, $from_before - 100 - $others, "node 0 lost the keys of those slots (100 + $others)");
    is($to->cli('DBSIZE') + 0, $to_before + 100 + $others, 'node 1 has them');
    is($to->cli_input(join('', map { "GET $per_slot->{$_}\n" } @moved)), join('', map { "$_\n" } @moved),
       'with their values, read on node 1 itself');
    ok($c->ok, 'the cluster is ok after the reshard');
    $out = $c->cli_input(join('', map { "GET $_\n" } @spread));
    is($out, join('', map { "v-$_\n" } @spread), 'all 1,000 spread keys read back through the cluster');
    $c->stop;
};

done_testing();
