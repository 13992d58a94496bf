#!/usr/bin/perl
# SPDX-License-Identifier: Apache-2.0
# PostgreSQL backups (issue 13): the test server harness
# (Test::Levqor::Postgres) checks itself, then the backup engine's unit tests
# (controld/tests/backup_postgres_test.cpp: dump while a writer commits,
# drill, a changed scratch copy, a truncated dump, restore into a new or an
# existing database, password redaction, odd names and types, partitions and
# unlogged tables, another pg_dump major) run against it: they get the
# server through LEVQOR_TEST_PG_URL, LEVQOR_TEST_PG_ADMIN and
# LEVQOR_TEST_PG_BIN.
use strict;
use warnings;

use lib 't/lib';
use Test::Levqor;
use Test::Levqor::Postgres;
use Test::Levqor::Util qw(build_dir run_cmd);
use IO::Socket::INET;

if (my $why = Test::Levqor::Postgres->unavailable) {
    plan skip_all => $why;
}

my $pg = Test::Levqor::Postgres->new;

subtest 'harness: a server as the postgres user, a password-only test role' => sub {
    like($pg->major, qr/^\d+$/, 'server version');
    is($pg->psql('SELECT current_user'), 'postgres', 'psql as the superuser over the socket');
    is($pg->psql('SELECT current_user', user => $pg->user), $pg->user, 'the test role over TCP with its password');
    my ($code, $out) = do {
        local $pg->{password} = 'wrong-password';
        $pg->psql('SELECT 1', user => $pg->user, allow_fail => 1);
    };
    isnt($code, 0, 'a wrong password is refused');
    like($out, qr/password authentication failed/, 'by password authentication');
    is($pg->psql('SHOW fsync'), 'off', 'fsync off');
    is($pg->psql("SELECT rolcreatedb FROM pg_roles WHERE rolname = '" . $pg->user . "'"), 't', 'the role may create databases');
    $pg->psql('CREATE TABLE harness_check (x int); INSERT INTO harness_check VALUES (42)');
    $pg->restart;
    is($pg->psql('SELECT x FROM harness_check'), '42', 'restart keeps the data directory');
    $pg->psql('DROP TABLE harness_check');
};

subtest 'harness: a second server on its own port, stopped when it goes away' => sub {
    my $other = Test::Levqor::Postgres->new;
    isnt($other->port, $pg->port, 'its own port');
    my $port = $other->port;
    ok(IO::Socket::INET->new("127.0.0.1:$port"), 'listening');
    undef $other;
    ok(!IO::Socket::INET->new("127.0.0.1:$port"), 'stopped by DESTROY');
};

subtest 'engine: the PostgresBackup unit tests against this server' => sub {
    my $bin = build_dir() . '/controld/tests/levqor_controld_tests';
    plan skip_all => "$bin is not built" unless -x $bin;
    local $ENV{LEVQOR_TEST_PG_URL}   = $pg->url;
    local $ENV{LEVQOR_TEST_PG_ADMIN} = $pg->admin_conninfo;
    local $ENV{LEVQOR_TEST_PG_BIN}   = $pg->bin;
    my ($code, $out) = run_cmd($bin, '--gtest_filter=PostgresBackup.*:PostgresParity.*', '--gtest_brief=0');
    is($code, 0, 'every test passes') or diag($out);
    my ($passed) = $out =~ /\[  PASSED  \] (\d+) test/;
    ok($passed && $passed >= 9, "ran them (" . ($passed // 0) . " passed)") or diag($out);
    unlike($out, qr/SKIPPED/, 'none skipped') or diag($out);
    note($out) if $ENV{TEST_VERBOSE};
    is($pg->psql("SELECT count(*) FROM pg_database WHERE datname LIKE 'levqor\\_verify\\_%'"), '0',
       'no scratch database left');
};

done_testing;
