#!/usr/bin/perl
# Abuse controls on PostgreSQL (issue 15): the abuse store's unit tests
# (controld/tests/abuse_store_test.cpp, the Postgres/ instances: the rules at
# the window edges, modes, purge, migrations run once by concurrent openers,
# a 20-way race per limit with one connection per thread, a killed
# connection failing one call and then reconnecting) against a real
# server (Test::Levqor::Postgres), which they get through LEVQOR_TEST_PG_URL
# (the password-authenticated test role, owner of its database).
use strict;
use warnings;

use lib 't/lib';
use Test::Levqor;
use Test::Levqor::Postgres;
use Test::Levqor::Util qw(build_dir run_cmd);

if (my $why = Test::Levqor::Postgres->unavailable) {
    plan skip_all => $why;
}

my $bin = build_dir() . '/controld/tests/levqor_controld_tests';
plan skip_all => "$bin is not built" unless -x $bin;

my $pg = Test::Levqor::Postgres->new;

subtest 'store: the PostgresAbuseStore unit tests against this server' => sub {
    local $ENV{LEVQOR_TEST_PG_URL} = $pg->url;
    my ($code, $out) = run_cmd($bin, '--gtest_filter=Postgres/AbuseStoreTest.*:AbusePostgresStore.*', '--gtest_brief=0');
    is($code, 0, 'every test passes') or diag($out);
    my ($passed) = $out =~ /\[  PASSED  \] (\d+) test/;
    ok($passed && $passed >= 14, "ran them (" . ($passed // 0) . " passed)") or diag($out);
    unlike($out, qr/SKIPPED/, 'none skipped') or diag($out);
    note($out) if $ENV{TEST_VERBOSE};
};

subtest 'store: the schema the migrations left' => sub {
    is($pg->psql('SELECT max(version) FROM abuse_schema_version'), '1', 'schema version 1, once');
    is($pg->psql('SELECT count(*) FROM abuse_schema_version'), '1', 'one migration row');
    is($pg->psql("SELECT count(*) FROM pg_tables WHERE tablename IN ('abuse_device_pairs', 'abuse_device_changes', 'abuse_signups')"),
       '3', 'the three tables');
    is($pg->psql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"), '0', 'no advisory lock left');
};

done_testing;
