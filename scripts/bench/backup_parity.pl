#!/usr/bin/perl
# SPDX-License-Identifier: Apache-2.0
# What the PostgreSQL parity costs next to a raw restore (issue 13's
# benchmark goal: drill time <= 1.3 x raw `pg_restore -j2`). Not the full
# scripts/bench/backup.sh (that one drives controld): this measures the
# engine's parity SQL (backup/postgres.cpp) by hand on pgbench data.
#
#   perl scripts/bench/backup_parity.pl [scale]     # default 70 (~1 GB)
#
# Starts its own server (Test::Levqor::Postgres), pgbench -i, pg_dump -Fc,
# pg_restore -j2 into a fresh database, then on that fresh copy (the first
# scan pays for the hint bits) the parity query with 2 parallel workers (what
# the drill runs), with none, the row-text fallback, and the naive ordered
# md5 for comparison.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../../t/lib";
use Test::Levqor::Postgres;
use Test::Levqor::Util qw(temp_dir);
use Time::HiRes qw(time);

my $scale = shift // 70;
my $pg    = Test::Levqor::Postgres->new;
my $bin   = $pg->bin;
my $dir   = temp_dir('bench');
local $ENV{PGPASSWORD} = $pg->password;
my @c = ('-h', '127.0.0.1', '-p', $pg->port, '-U', $pg->user);
system("$bin/pgbench", @c, '-i', '-q', '-s', $scale, $pg->db) == 0 or die "pgbench -i failed\n";
printf "database: %s\n", $pg->psql('SELECT pg_size_pretty(pg_database_size(current_database()))');

my $t = time;
system("$bin/pg_dump", @c, '-Fc', '-f', "$dir/d.pgc", $pg->db) == 0 or die "pg_dump failed\n";
printf "pg_dump -Fc: %.2f s, %.1f MB\n", time - $t, (-s "$dir/d.pgc") / 1e6;
$pg->psql('CREATE DATABASE copy OWNER ' . $pg->user, db => 'postgres');
$t = time;
system("$bin/pg_restore", @c, '--no-owner', '-j2', '-d', 'copy', "$dir/d.pgc") == 0 or die "pg_restore failed\n";
my $restore = time - $t;
printf "pg_restore -j2: %.2f s\n", $restore;

# hash_record_extended: what the engine uses on 14+; hashtextextended of the
# row's text: its fallback (and 11-13).
for my $run (['hash_record_extended(ROW(r.*), 0)', 2], ['hash_record_extended(ROW(r.*), 0)', 0],
             ['hashtextextended(ROW(r.*)::text, 0)', 2]) {
    my ($hash, $workers) = @$run;
    $t = time;
    $pg->psql("SET max_parallel_workers_per_gather = $workers; SET search_path = pg_catalog;"
              . " SELECT count(*), sum($hash) FROM public.pgbench_accounts AS r", db => 'copy');
    my $s = time - $t;
    printf "parity %s, %d workers: %.2f s (restore + parity = %.2f x restore)\n", $hash, $workers, $s,
        ($restore + $s) / $restore;
}
$t = time;
$pg->psql("SELECT md5(string_agg(r::text, '' ORDER BY aid)) FROM public.pgbench_accounts r", db => 'copy');
printf "naive ordered md5: %.2f s\n", time - $t;
