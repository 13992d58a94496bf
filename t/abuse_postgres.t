#!/usr/bin/perl
# SPDX-License-Identifier: Apache-2.0
# Abuse controls on PostgreSQL (issue 15): the abuse store's unit tests
# (controld/tests/abuse_store_test.cpp, the Postgres/ instances: the rules at
# the window edges, modes, purge, migrations run once by concurrent openers,
# a 20-way race per limit with one connection per thread, a killed
# connection failing one call and then reconnecting) against a real
# server (Test::Levqor::Postgres), which they get through LEVQOR_TEST_PG_URL
# (the password-authenticated test role, owner of its database). Then a real
# controld with DATABASE_URL: the /abuse routes on PostgreSQL, 20 parallel
# requests over HTTP of which exactly the limit pass.
use strict;
use warnings;

use lib 't/lib';
use Test::Levqor;
use Test::Levqor::Postgres;
use Test::Levqor::Controld qw(json_of released_together);
use Test::Levqor::Util qw(build_dir run_cmd spew temp_dir);
use JSON::PP;

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

subtest 'controld on PostgreSQL: 20 parallel requests over HTTP, exactly the limit pass' => sub {
    my $dir = temp_dir('abuse-pg');
    spew("$dir/pepper", ('cd' x 32) . "\n");
    chmod 0600, "$dir/pepper" or die "chmod: $!";
    my $cd = Test::Levqor::Controld->new(env => { ABUSE_GUARDS_ENABLED => 'on', DATABASE_URL => $pg->url },
                                         config => { abuse => { pepper_file => "$dir/pepper" } });
    $cd->start;
    my $device = sub {
        my ($dev) = @_;
        return $cd->request('POST /abuse/device', token => 'producer',
                            body => JSON::PP->new->encode({ account => 'pg-race', plan => 'free', device => $dev,
                                                            ip => '198.51.100.9' }));
    };
    is((json_of($device->('first')) || {})->{decision}, 'allow', 'the first pair');
    my @codes = released_together(20, sub {
        my $res = $device->("d-$_[0]");
        return 2 unless ($res->{status} // 0) == 200;
        return ((json_of($res) || {})->{decision} // '') eq 'allow' ? 0 : 1;
    });
    is(scalar(grep { $_ > 1 } @codes), 0, 'no request failed');
    is(scalar(grep { $_ == 0 } @codes), 3, 'exactly 3 of 20 new devices pass');
    is($pg->psql('SELECT count(*) FROM abuse_device_changes'), '3', '3 changes stored in PostgreSQL');
    $cd->stop;
};

done_testing;
