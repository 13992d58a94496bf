#!/usr/bin/perl
# SPDX-License-Identifier: Apache-2.0
# Backups through the real controld (issue 13, design.md "Backups"): a SQLite
# target while a writer process commits, and a PostgreSQL target
# (Test::Levqor::Postgres) while psql writes. POST /ops/backups -> the job
# succeeds -> the manifest is verified with the drill's restore_seconds; GET
# list/one; 404 (unknown target, unknown id); 409 (a second backup while one
# is queued); an unreachable target retries then dead-letters with the
# password redacted; a flipped byte in a stored dump -> verify marks it
# corrupt and levqor_backup_verify_ok 0; restore into a new database/file and
# 409 for an existing one; a dump damaged under a matching checksum fails its
# drill (failed, kept); retention logs, then deletes an old backup; verify
# and restore refused from POST /jobs; encryption at rest (a second
# controld with a key file: the drill and the restore decrypt); a backup
# left running by a stop is failed at start; the Redis queue backend (one
# backup per kind, verified); the error events; a finished manifest's
# progress; levqorctl backup run --wait, list, show, restore with the real
# binary; a disk full mid-dump (a tmpfs as backup.dir when root, else
# RLIMIT_FSIZE; LEVQOR_TEST_FSIZE=1 forces it) removes the partial folder and
# keeps the earlier backup; the metrics.
use strict;
use warnings;

use lib 't/lib';
use Test::Levqor;
use Test::Levqor::Controld qw(json_of);
use Test::Levqor::Postgres;
use Test::Levqor::Redis;
use Test::Levqor::Util qw(temp_dir run_cmd wait_until free_port slurp);
use JSON::PP ();
use Digest::SHA ();
use POSIX ();
use Time::HiRes ();

my $JSON = JSON::PP->new->canonical;
my $dir = temp_dir('backup');
my $pg = Test::Levqor::Postgres->unavailable ? undef : Test::Levqor::Postgres->new;
diag('PostgreSQL unavailable: ' . Test::Levqor::Postgres->unavailable) unless $pg;

# ---- the SQLite target and its writer ----------------------------------------------

my $db = "$dir/app.db";
my ($code, $out) = run_cmd('sqlite3', $db,
    'PRAGMA journal_mode=WAL; CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT, b BLOB);'
    . 'WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) '
    . "INSERT INTO t (v, b) SELECT 'row ' || i, randomblob(64) FROM n;");
is($code, 0, 'the SQLite target is created') or diag($out);

# A writer process committing one row at a time until the suite ends.
my $writer = fork // die "fork: $!";
if (!$writer) {
    POSIX::setpgid(0, 0);
    exec('/bin/sh', '-c',
         'i=0; while :; do i=$((i+1)); echo "INSERT INTO t (v) VALUES (\'w$i\');"; sleep 0.005; done'
         . " | sqlite3 -cmd '.timeout 5000' '$db'") or POSIX::_exit(127);
}
END {
    local $?;  # the writer's status must not become the suite's
    if ($writer) { kill('TERM', -$writer); waitpid($writer, 0) }
}

# ---- the PostgreSQL target -----------------------------------------------------------

my $down_port = free_port();
my $down_password = 'pw-Down-Sekr1t-424242';
if ($pg) {
    $pg->psql(q{CREATE TABLE items (id serial PRIMARY KEY, name text, price numeric, data jsonb, raw bytea);
                INSERT INTO items (name, price, data, raw)
                SELECT 'item ' || i, i * 1.5, jsonb_build_object('i', i), decode(md5(i::text), 'hex')
                FROM generate_series(1, 3000) i;
                CREATE SCHEMA "Odd schema"; CREATE TABLE "Odd schema"."x.y" (k text, v int);
                INSERT INTO "Odd schema"."x.y" VALUES ('a', 1), (NULL, NULL);}, user => $pg->user);
}

my @targets = (
    { name => 'local', kind => 'sqlite', path => $db, schedule => '0 0 * * *' },
    { name => 'down', kind => 'postgres', schedule => '0 3 * * *',
      url => "postgresql://levqor_test:$down_password\@127.0.0.1:$down_port/nothing" },
    ($pg ? ({ name => 'main', kind => 'postgres', url => $pg->url, schedule => '0 3 * * *' }) : ()),
);
# The targets' schedules stay off in this suite: a backup the scheduler
# starts (or catches up at start, 00:00-06:00 UTC) would change what the
# subtests count. t/schedule.t tests the scheduler.
my %unscheduled = (schedules => { map { ("backup:$_" => { cron => undef }) } qw(local down main) });
my $cd = Test::Levqor::Controld->new(
    env    => { NEW_QUEUE_ENABLED => 'on' },
    config => {
        %unscheduled,
        queue  => { workers => 2, visibility_timeout_s => 300, retry_delays_s => { backup => [0.2, 0.2, 0.2] } },
        backup => { retention_days => 7, targets => \@targets, ($pg ? (pg_bin_dir => $pg->bin) : ()) },
    },
);
$cd->start;

# ---- helpers -----------------------------------------------------------------------

sub api {
    my ($request, $body) = @_;
    my $res = $cd->request($request, token => 'admin', (defined $body ? (body => $JSON->encode($body)) : ()),
                           timeout => 20);
    return ($res->{status}, json_of($res));
}

sub wait_job {
    my ($id, $timeout) = @_;
    my $job;
    wait_until($timeout || 60, sub {
        $job = json_of($cd->request("GET /jobs/$id", token => 'producer'));
        ($job->{status} // '') =~ /^(succeeded|dead)$/;
    }, 0.1);
    return $job // {};
}

sub metric {
    my ($line) = @_;
    my $text = $cd->request('GET /metrics')->{body} // '';
    return $text =~ /^\Q$line\E (\S+)$/m ? $1 : undef;
}

sub backup_of {
    my ($target) = @_;
    my ($status, $started) = api('POST /ops/backups', { target => $target });
    is($status, 202, "POST /ops/backups $target: 202") or diag($JSON->encode($started // {}));
    like($started->{id} // '', qr/^\d{8}T\d{6}Z-[0-9a-f]{6}$/, 'a backup id');
    my $job = wait_job($started->{job_id});
    return ($started, $job);
}

sub flip_byte {
    my ($file, $offset) = @_;
    open(my $fh, '+<:raw', $file) or die "$file: $!";
    seek($fh, $offset, 0);
    read($fh, my $byte, 1);
    seek($fh, $offset, 0);
    print {$fh} chr(ord($byte) ^ 0xff);
    close $fh;
}

# ---- the suite ---------------------------------------------------------------------

subtest 'bad requests: 401, 404 unknown target, 400 bodies, 404 unknown id' => sub {
    is($cd->request('GET /ops/backups')->{status}, 401, 'no token: 401');
    is($cd->request('GET /ops/backups', token => 'producer')->{status}, 403, 'producer token: 403');
    my ($status, $body) = api('POST /ops/backups', { target => 'nope' });
    is($status, 404, 'unknown target: 404');
    is($body->{error}, 'unknown_target', 'as JSON');
    ($status, $body) = api('POST /ops/backups', { tgt => 'local' });
    is($status, 400, 'a body without target: 400');
    my $res = $cd->request('POST /ops/backups', token => 'admin', body => '[' x 100 . ']' x 100);
    is($res->{status}, 400, 'nested too deep: 400');
    is(json_of($res)->{error}, 'invalid_json', 'invalid_json');
    ($status) = api('GET /ops/backups/20260101T000000Z-abcdef');
    is($status, 404, 'unknown backup id: 404');
    ($status) = api('POST /ops/backups/20260101T000000Z-abcdef/verify', {});
    is($status, 404, 'verify of an unknown backup: 404');
    ($status) = api('POST /ops/backups/20260101T000000Z-abcdef/restore', { into => "$dir/x.db" });
    is($status, 404, 'restore of an unknown backup: 404');
};

my $sqlite_id;
subtest 'SQLite: a backup while the writer commits is verified by its drill' => sub {
    my ($started, $job) = backup_of('local');
    is($job->{status}, 'succeeded', 'the job succeeded') or diag($JSON->encode($job));
    $sqlite_id = $started->{id};
    my ($status, $m) = api("GET /ops/backups/$sqlite_id");
    is($status, 200, 'GET /ops/backups/{id}');
    is($m->{status}, 'verified', 'verified');
    is($m->{target}, 'local', 'target');
    is($m->{kind}, 'sqlite', 'kind');
    ok($m->{verify}{ok}, 'verify.ok');
    ok(defined $m->{verify}{restore_seconds} && $m->{verify}{restore_seconds} >= 0, 'verify.restore_seconds');
    note("SQLite: restore_seconds $m->{verify}{restore_seconds}, timings " . $JSON->encode($m->{timings}));
    is(scalar @{ $m->{files} }, 1, 'one file');
    like($m->{files}[0]{sha256}, qr/^[0-9a-f]{64}$/, 'its sha256');
    cmp_ok($m->{parity}{t}{rows}, '>=', 2000, 'parity: the rows at the copy (writer included)');
    ok(-f $cd->data_dir . "/backups/local/$sqlite_id/manifest.json", 'the folder <data_dir>/backups/<target>/<id>');
    is($m->{progress}{phase}, 'done', 'progress.phase of a finished backup: done');
    my $listed = 0;
    $listed += $_->{bytes} for @{ $m->{files} };
    is($m->{progress}{bytes}, $listed, 'progress.bytes: the bytes its files hold');
};

subtest 'a second backup of a target while one is queued: 409' => sub {
    # A controld without workers: the first backup stays queued, so the
    # second is refused whatever the timing.
    my $idle = Test::Levqor::Controld->new(
        env    => { NEW_QUEUE_ENABLED => 'on' },
        config => { %unscheduled, queue => { workers => 0 }, backup => { targets => [$targets[0]] } },
    );
    $idle->start;
    my $post = sub {
        my $res = $idle->request('POST /ops/backups', token => 'admin', body => '{"target":"local"}');
        return ($res->{status}, json_of($res));
    };
    my ($s1) = $post->();
    my ($s2, $b2) = $post->();
    is($s1, 202, 'the first: 202');
    is($s2, 409, 'the second while the first is queued: 409');
    is($b2->{error}, 'backup_running', 'backup_running');
    ok($idle->stop, 'the idle controld stops on SIGTERM');
    for (1 .. 2) {
        my ($status, $body) = api('POST /ops/backups', { target => 'local' });
        is($status, 202, 'one after the other: 202');
        is(wait_job($body->{job_id})->{status}, 'succeeded', 'and it succeeds');
    }
};

subtest 'GET /ops/backups: newest first, ?target=' => sub {
    my ($status, $list) = api('GET /ops/backups?target=local');
    is($status, 200, 'GET /ops/backups?target=local: 200');
    cmp_ok(scalar @$list, '>=', 3, 'three SQLite backups');
    my @started = map { $_->{started_at} } @$list;
    is_deeply(\@started, [reverse sort @started], 'newest first');
    ok(!(grep { $_->{target} ne 'local' } @$list), 'only the target asked for');
    ok((grep { $_->{id} eq $sqlite_id } @$list), 'the first one is listed');
};

subtest 'SQLite: restore into a new file; 409 for an existing one' => sub {
    my $into = "$dir/restored.db";
    my ($status, $body) = api("POST /ops/backups/$sqlite_id/restore", { into => $into });
    is($status, 202, 'restore into a new file: 202') or diag($JSON->encode($body // {}));
    is(wait_job($body->{job_id})->{status}, 'succeeded', 'the restore job succeeded');
    my ($c, $count) = run_cmd('sqlite3', $into, 'SELECT count(*) FROM t WHERE id <= 2000');
    is($count =~ s/\s+//gr, '2000', 'the restored file has the rows');
    ($status, $body) = api("POST /ops/backups/$sqlite_id/restore", { into => $into });
    is($status, 409, 'into an existing non-empty file: 409');
    is($body->{error}, 'restore_target_exists', 'restore_target_exists');
    ($status, $body) = api("POST /ops/backups/$sqlite_id/restore", { into => $into, force => JSON::PP::true });
    is($status, 202, 'with force: 202');
    is(wait_job($body->{job_id})->{status}, 'succeeded', 'and it succeeds');
    ($status) = api("POST /ops/backups/$sqlite_id/restore", { into => 'relative.db' });
    is($status, 400, 'a relative path: 400');
};

subtest 'retention: an old verified backup goes after the next backup, logged first' => sub {
    my ($status, $list) = api('GET /ops/backups?target=local');
    my ($newest) = grep { $_->{status} eq 'verified' } @$list;
    my $root = $cd->data_dir . '/backups/local';
    my $old_id = '20200101T000000Z-000001';
    mkdir "$root/$old_id" or die "mkdir: $!";
    my $m = { %$newest, id => $old_id, started_at => '2020-01-01T00:00:00Z', finished_at => '2020-01-01T00:00:05Z' };
    for my $f (@{ $m->{files} }) {
        run_cmd('cp', "$root/$newest->{id}/$f->{path}", "$root/$old_id/$f->{path}");
    }
    open(my $fh, '>', "$root/$old_id/manifest.json") or die;
    print {$fh} $JSON->encode($m);
    close $fh;
    ($status) = api("GET /ops/backups/$old_id");
    is($status, 200, 'the old backup is listed');
    my ($s, $started) = api('POST /ops/backups', { target => 'local' });
    is(wait_job($started->{job_id})->{status}, 'succeeded', 'the next backup');
    ok(!-e "$root/$old_id", 'the old backup is deleted');
    ($status) = api("GET /ops/backups/$old_id");
    is($status, 404, 'and no longer listed');
    my @lines = grep { defined && ($_->{id} // '') eq $old_id } $cd->log_lines;
    is_deeply([map { $_->{msg} } @lines], ['backup to be deleted by retention', 'backup deleted'],
              'listed in the log, then deleted');
    like($lines[0]{reason} // '', qr/older than 7 days/, 'with the reason');
    ok(-e "$root/$newest->{id}", 'the newer backups stay');
};

subtest 'POST /jobs: backup may be enqueued, verify and restore only through the admin routes' => sub {
    for my $type (qw(backup_verify backup_restore)) {
        my $res = $cd->request('POST /jobs', token => 'producer',
                               body => $JSON->encode({ type => $type, payload => { backup => $sqlite_id, into => "$dir/p.db", force => JSON::PP::true } }));
        is($res->{status}, 400, "$type from POST /jobs: 400");
        like($res->{body}, qr/admin routes/, 'naming the route to use');
    }
    my $res = $cd->request('POST /jobs', token => 'producer',
                           body => $JSON->encode({ type => 'backup', payload => { target => 'local' } }));
    is($res->{status}, 202, 'a backup job from POST /jobs: 202');
    is(wait_job(json_of($res)->{id})->{status}, 'succeeded', 'and it runs (an id of its own)');
    $res = $cd->request('POST /jobs', token => 'producer',
                        body => $JSON->encode({ type => 'backup', payload => { tgt => 'local' } }));
    is($res->{status}, 400, 'without a target: 400');
};

subtest 'SQLite: a flipped byte -> verify marks it corrupt, levqor_backup_verify_ok 0' => sub {
    is(metric('levqor_backup_verify_ok{target="local"}'), '1', 'verify_ok 1 before');
    my ($status, $m) = api("GET /ops/backups/$sqlite_id");
    flip_byte($cd->data_dir . "/backups/local/$sqlite_id/$m->{files}[0]{path}", 4096 + 100);
    my $body;
    ($status, $body) = api("POST /ops/backups/$sqlite_id/verify", {});
    is($status, 202, 'POST verify: 202');
    my $job = wait_job($body->{job_id});
    is($job->{status}, 'dead', 'the verify job fails');
    ($status, $m) = api("GET /ops/backups/$sqlite_id");
    is($m->{status}, 'corrupt', 'the manifest says corrupt');
    like($m->{verify}{error}, qr/sha256/, 'naming the checksum');
    is(metric('levqor_backup_verify_ok{target="local"}'), '0', 'levqor_backup_verify_ok 0');
    ok(metric('levqor_backups_total{target="local",outcome="corrupt"}') >= 1, 'levqor_backups_total corrupt');
    ($status) = api("POST /ops/backups/$sqlite_id/restore", { into => "$dir/from-corrupt.db" });
    is($status, 400, 'a corrupt backup is not restored');
};

subtest 'SQLite: a dump damaged with a matching checksum -> the drill fails, failed, kept' => sub {
    my ($status, $list) = api('GET /ops/backups?target=local');
    my ($m) = grep { $_->{status} eq 'verified' } @$list;
    my $folder = $cd->data_dir . "/backups/local/$m->{id}";
    my $file = "$folder/$m->{files}[0]{path}";
    truncate($file, 4096) or die "truncate: $!";    # the first page only: the tables' pages are gone
    $m->{files}[0]{bytes} = -s $file;
    $m->{files}[0]{sha256} = Digest::SHA->new(256)->addfile($file, 'b')->hexdigest;
    open(my $fh, '>', "$folder/manifest.json") or die;
    print {$fh} $JSON->encode($m);
    close $fh;
    my $body;
    ($status, $body) = api("POST /ops/backups/$m->{id}/verify", {});
    my $job = wait_job($body->{job_id});
    is($job->{status}, 'dead', 'the verify job fails');
    my $after;
    ($status, $after) = api("GET /ops/backups/$m->{id}");
    is($after->{status}, 'failed', 'the checksums match, the drill fails: failed');
    ok(!$after->{verify}{ok}, 'verify.ok false');
    isnt($after->{verify}{error} // '', '', 'with the reason: ' . ($after->{verify}{error} // ''));
    ok(-e $file, 'the backup is kept');
    is(metric('levqor_backup_verify_ok{target="local"}'), '0', 'levqor_backup_verify_ok 0');
};

subtest 'an unreachable target: retried, then the DLQ, password redacted' => sub {
    my ($started, $job) = backup_of('down');
    is($job->{status}, 'dead', 'dead-lettered');
    is($job->{attempts}, 4, 'after 1 + 3 attempts');
    like($job->{last_error} // '', qr/backup of "down" failed/, 'the error says so');
    note("last_error: $job->{last_error}");
    unlike($job->{last_error} // '', qr/\Q$down_password\E/, 'without the password');
    ok(!-e $cd->data_dir . "/backups/down/$started->{id}", 'the failed folder is removed');
    unlike($cd->log_text, qr/\Q$down_password\E/, 'the log never has the password');
    my $events = slurp($cd->data_dir . '/errors.jsonl') // '';
    like($events, qr/backup failed/, 'an error event (errors.jsonl)');
    like($events, qr/backup is corrupt/, 'and one for the corrupt backup');
    unlike($events, qr/\Q$down_password\E/, 'without the password');
    my ($status) = api("GET /ops/backups/$started->{id}");
    is($status, 404, 'no manifest is left');
};

SKIP: {
    skip 'PostgreSQL is not available', 2 unless $pg;
    my $pg_id;
    subtest 'PostgreSQL: a backup while psql writes is verified by its drill' => sub {
        my $w = fork // die;
        if (!$w) {
            for my $i (1 .. 200) {
                $pg->psql("INSERT INTO items (name) VALUES ('w$i')", user => $pg->user, allow_fail => 1);
            }
            POSIX::_exit(0);
        }
        my ($started, $job) = backup_of('main');
        waitpid($w, 0);
        is($job->{status}, 'succeeded', 'the job succeeded') or diag($JSON->encode($job));
        $pg_id = $started->{id};
        my ($status, $m) = api("GET /ops/backups/$pg_id");
        is($m->{status}, 'verified', 'verified') or diag($JSON->encode($m));
        ok($m->{verify}{restore_seconds} > 0, 'verify.restore_seconds');
        note("PostgreSQL: restore_seconds $m->{verify}{restore_seconds}, timings " . $JSON->encode($m->{timings}));
        cmp_ok($m->{parity}{'public.items'}{rows}, '>=', 3000, 'parity of public.items');
        ok(exists $m->{parity}{'"Odd schema"."x.y"'}, 'an odd schema and table name');
        like($m->{tool_version}, qr/pg_dump/, 'pg_dump version');
        unlike($JSON->encode($m), qr/\Q${\ $pg->password }\E/, 'the manifest has no password');
        is($pg->psql("SELECT count(*) FROM pg_database WHERE datname LIKE 'levqor_verify_%'"), '0',
           'the scratch database is dropped');
    };
    subtest 'PostgreSQL: restore into a new database; 409 for an existing one; corrupt' => sub {
        my ($status, $body) = api("POST /ops/backups/$pg_id/restore", { into => 'restored_db' });
        is($status, 202, 'into a new database: 202') or diag($JSON->encode($body // {}));
        is(wait_job($body->{job_id})->{status}, 'succeeded', 'the restore job succeeded');
        cmp_ok($pg->psql('SELECT count(*) FROM items', db => 'restored_db'), '>=', 3000, 'the rows are there');
        ($status, $body) = api("POST /ops/backups/$pg_id/restore", { into => $pg->db });
        is($status, 409, 'into the existing non-empty source database: 409');
        ($status, $body) = api("POST /ops/backups/$pg_id/restore", { into => 'restored_db' });
        is($status, 409, 'into the restored one: 409');
        my ($s, $m) = api("GET /ops/backups/$pg_id");
        flip_byte($cd->data_dir . "/backups/main/$pg_id/$m->{files}[0]{path}", 200);
        ($status, $body) = api("POST /ops/backups/$pg_id/verify", {});
        is(wait_job($body->{job_id})->{status}, 'dead', 'verify fails');
        ($s, $m) = api("GET /ops/backups/$pg_id");
        is($m->{status}, 'corrupt', 'corrupt');
        is(metric('levqor_backup_verify_ok{target="main"}'), '0', 'levqor_backup_verify_ok 0');
    };
}

subtest 'encryption at rest: the stored dump is AES-256-GCM, the drill and the restore decrypt' => sub {
    my $key = "$dir/backup.key";
    open(my $fh, '>', $key) or die;
    print {$fh} join('', map { sprintf '%02x', int rand 256 } 1 .. 32), "\n";
    close $fh;
    chmod 0600, $key;
    my $enc = Test::Levqor::Controld->new(
        env    => { NEW_QUEUE_ENABLED => 'on' },
        config => { %unscheduled, queue => { workers => 1, visibility_timeout_s => 300 },
                    backup => { encryption_key_file => $key, targets => [grep { $_->{name} ne 'down' } @targets],
                                ($pg ? (pg_bin_dir => $pg->bin) : ()) } },
    );
    # A backup a stopped controld left running: failed at the next start.
    my $stale = $enc->data_dir . '/backups/local/20200101T000000Z-00000a';
    run_cmd('mkdir', '-p', $stale);
    open(my $mf, '>', "$stale/manifest.json") or die;
    my (undef, $list) = api('GET /ops/backups?target=local');
    print {$mf} $JSON->encode({ %{ $list->[0] }, id => '20200101T000000Z-00000a', started_at => '2020-01-01T00:00:00Z',
                                status => 'running', finished_at => undef, verify => undef });
    close $mf;
    $enc->start;
    my $call = sub {
        my ($request, $body) = @_;
        my $res = $enc->request($request, token => 'admin', (defined $body ? (body => $JSON->encode($body)) : ()));
        return ($res->{status}, json_of($res));
    };
    my $job_of = sub {
        my ($id) = @_;
        my $job;
        wait_until(60, sub {
            $job = json_of($enc->request("GET /jobs/$id", token => 'producer'));
            ($job->{status} // '') =~ /^(succeeded|dead)$/;
        }, 0.1);
        return $job // {};
    };
    my (undef, $interrupted) = $call->('GET /ops/backups/20200101T000000Z-00000a');
    is($interrupted->{status}, 'failed', 'a backup left running by a stop is failed at start');
    like($interrupted->{verify}{error} // '', qr/interrupted/, 'interrupted');
    for my $target ('local', ($pg ? ('main') : ())) {
        my ($status, $started) = $call->('POST /ops/backups', { target => $target });
        is($job_of->($started->{job_id})->{status}, 'succeeded', "$target: the backup succeeded");
        my (undef, $m) = $call->("GET /ops/backups/$started->{id}");
        is($m->{status}, 'verified', "$target: verified (the drill decrypted)");
        ok($m->{encrypted}, "$target: encrypted");
        like($m->{files}[0]{path}, qr/\.enc$/, "$target: an .enc file");
        my $file = $enc->data_dir . "/backups/$target/$started->{id}/$m->{files}[0]{path}";
        open(my $in, '<:raw', $file) or die;
        read($in, my $magic, 8);
        is($magic, 'LVQBKENC', "$target: the file is the encrypted format");
        my $into = $target eq 'local' ? "$dir/from-encrypted.db" : 'from_encrypted';
        my $body;
        ($status, $body) = $call->("POST /ops/backups/$started->{id}/restore", { into => $into });
        is($job_of->($body->{job_id})->{status}, 'succeeded', "$target: restored from the encrypted dump");
        if ($target eq 'local') {
            my ($c, $count) = run_cmd('sqlite3', $into, 'SELECT count(*) >= 2000 FROM t');
            is($count =~ s/\s+//gr, '1', 'the restored file has the rows');
        } else {
            cmp_ok($pg->psql('SELECT count(*) FROM items', db => $into), '>=', 3000, 'the restored database has the rows');
        }
    }
    ok($enc->stop, 'the encrypting controld stops on SIGTERM');
};

subtest 'the Redis queue backend: one backup per kind, verified by its drill' => sub {
    # The suite above runs on the SQLite queue; the backup job must run the
    # same on the Redis queue (REDIS_URL): one backup + its drill per kind.
    my ($no_redis) = run_cmd('/bin/sh', '-c', 'command -v redis-server');
    plan(skip_all => 'redis-server is not installed') if $no_redis != 0;
    my $t0 = Time::HiRes::time();
    my $redis = Test::Levqor::Redis->new;
    my $rcd = Test::Levqor::Controld->new(
        env    => { NEW_QUEUE_ENABLED => 'on', REDIS_URL => 'redis://127.0.0.1:' . $redis->port },
        config => { %unscheduled, queue => { workers => 1, visibility_timeout_s => 300 },
                    backup => { targets => [grep { $_->{name} ne 'down' } @targets],
                                ($pg ? (pg_bin_dir => $pg->bin) : ()) } },
    );
    $rcd->start;
    my $health = json_of($rcd->request('GET /ops/queue_health', token => 'admin'));
    is($health->{backend}, 'redis', 'the queue is on Redis');
    for my $target ('local', ($pg ? ('main') : ())) {
        my $res = $rcd->request('POST /ops/backups', token => 'admin', body => $JSON->encode({ target => $target }));
        is($res->{status}, 202, "redis, $target: 202");
        my $started = json_of($res);
        my $job;
        wait_until(60, sub {
            $job = json_of($rcd->request("GET /jobs/$started->{job_id}", token => 'producer'));
            ($job->{status} // '') =~ /^(succeeded|dead)$/;
        }, 0.1);
        is($job->{status}, 'succeeded', "redis, $target: the job succeeded") or diag($JSON->encode($job // {}));
        my $m = json_of($rcd->request("GET /ops/backups/$started->{id}", token => 'admin'));
        is($m->{status}, 'verified', "redis, $target: verified");
        ok($m->{verify}{ok}, "redis, $target: verify.ok");
        ok(defined $m->{verify}{restore_seconds}, "redis, $target: restore_seconds");
    }
    ok($rcd->stop, 'the Redis-backed controld stops');
    note(sprintf('the Redis backend took %.1f s', Time::HiRes::time() - $t0));
};

subtest 'levqorctl backup run --wait, list, show, restore --into (the real binary)' => sub {
    my ($code, $out) = $cd->ctl('backup', 'run', 'local', '--wait');
    is($code, 0, 'backup run local --wait: exit 0') or diag $out;
    like($out, qr/^status\s+verified$/m, 'prints the verified manifest');
    my ($id) = $out =~ /(\d{8}T\d{6}Z-[0-9a-f]{6})/;
    ok($id, 'with its id') or diag $out;
    ($code, $out) = $cd->ctl('backup', 'list', '--target', 'local');
    is($code, 0, 'backup list --target local: exit 0') or diag $out;
    like($out, qr/^\Q$id\E\s+local\b.*verified/m, 'lists it as verified');
    ($code, $out) = $cd->ctl('backup', 'show', $id);
    is($code, 0, 'backup show: exit 0') or diag $out;
    like($out, qr/^status\s+verified$/m, 'show: verified');
    ($code, $out) = $cd->ctl('--json', 'backup', 'show', $id);
    is($code, 0, 'backup show --json: exit 0');
    is(eval { JSON::PP->new->decode($out)->{progress}{phase} }, 'done', '--json carries progress') or diag $out;
    my $into = "$dir/ctl-restored.db";
    ($code, $out) = $cd->ctl('backup', 'restore', $id, '--into', $into, '--wait');
    is($code, 0, 'backup restore --into a new file --wait: exit 0') or diag $out;
    my ($c, $count) = run_cmd('sqlite3', $into, 'SELECT count(*) FROM t WHERE id <= 2000');
    is($count =~ s/\s+//gr, '2000', 'the restored file has the rows');
    ($code, $out) = $cd->ctl('backup', 'restore', $id, '--into', $into, '--wait');
    is($code, 1, 'into the now existing file: exit 1');
    like($out, qr/--force/, 'suggests --force');
    ($code, $out) = $cd->ctl('backup', 'show', 'no-such-id');
    is($code, 1, 'show an unknown id: exit 1');
};

# A controld whose writes stop at RLIMIT_FSIZE (prlimit), for the disk-full
# subtest where a tmpfs cannot be mounted (not root).
package FsizeControld {
    our @ISA = ('Test::Levqor::Controld');
    sub command {
        my ($self) = @_;
        my @cmd = $self->SUPER::command;
        return $self->{fsize} ? ('prlimit', "--fsize=$self->{fsize}", '--', @cmd) : @cmd;
    }
}

subtest 'disk full mid-dump: the partial folder is removed, the earlier backup stays' => sub {
    my $mnt = "$dir/full";
    mkdir $mnt;
    # A small tmpfs as backup.dir (root only), else RLIMIT_FSIZE below the
    # database's size (LEVQOR_TEST_FSIZE=1 forces the latter).
    my ($mcode, $mout) = $ENV{LEVQOR_TEST_FSIZE} ? (1, 'LEVQOR_TEST_FSIZE set')
                       : run_cmd('mount', '-t', 'tmpfs', '-o', 'size=2m,mode=0700', 'tmpfs', $mnt);
    my $tmpfs = $mcode == 0;
    note($tmpfs ? 'a 2 MB tmpfs as backup.dir' : "no tmpfs ($mout): RLIMIT_FSIZE");
    my $full = FsizeControld->new(
        env    => { NEW_QUEUE_ENABLED => 'on' },
        config => { %unscheduled, queue => { workers => 1, retry_delays_s => { backup => [0.1] } },
                    backup => { dir => "$mnt/backups", targets => [$targets[0]] } },
    );
    my $ok = eval {
        $full->start;
        my $post = sub {
            my $res = $full->request('POST /ops/backups', token => 'admin', body => '{"target":"local"}');
            my $b = json_of($res) // {};
            my $job;
            wait_until(60, sub {
                $job = json_of($full->request("GET /jobs/$b->{job_id}", token => 'producer'));
                ($job->{status} // '') =~ /^(succeeded|dead)$/;
            }, 0.1);
            return ($b->{id}, $job // {});
        };
        my ($first, $job) = $post->();
        is($job->{status}, 'succeeded', 'a first backup fits') or diag($JSON->encode($job));
        my $db_size = -s $db;
        if ($tmpfs) {
            # Leave less free space than half the database: the next copy fails part way.
            my ($c, $avail) = run_cmd('df', '-B1', '--output=avail', $mnt);
            ($avail) = $avail =~ /(\d+)\s*$/;
            my $filler = $avail - int($db_size / 2);
            ok($filler > 0, "free $avail bytes, the database $db_size bytes");
            open(my $fh, '>:raw', "$mnt/filler") or die "$mnt/filler: $!";
            print {$fh} "\0" x $filler;
            close $fh;
        } else {
            # The same data dir, restarted with files limited to half the database.
            $full->stop;
            $full->{fsize} = int($db_size / 2);
            $full->start;
        }
        my ($second, $job2) = $post->();
        is($job2->{status}, 'dead', 'the backup on a full disk fails (dead after its retries)')
            or diag($JSON->encode($job2));
        like($job2->{last_error} // '', qr/failed: cannot back up .*: (database or disk is full|disk I\/O error)/,
             'last_error says why: ' . ($job2->{last_error} // ''));
        unlike($job2->{last_error} // '', qr/not an error/, 'and no "(not an error)"');
        ok(!-e "$mnt/backups/local/$second", 'its partial folder is removed');
        opendir(my $dh, "$mnt/backups/local") or die $!;
        my @left = grep { !/^\./ } readdir $dh;
        is_deeply(\@left, [$first], 'only the earlier backup is left in the target folder');
        my $list = json_of($full->request('GET /ops/backups?target=local', token => 'admin')) // [];
        is_deeply([map { "$_->{id} $_->{status}" } @$list], ["$first verified"],
                  'the earlier backup is still listed, verified');
        ok(json_of($full->request('GET /healthz')), 'controld is still up');
        1;
    };
    my $error = $@;
    $full->stop;
    run_cmd('umount', $mnt) if $tmpfs;
    die $error unless $ok;
};

subtest 'metrics' => sub {
    my $text = $cd->request('GET /metrics')->{body} // '';
    for my $name (qw(levqor_backup_last_success_timestamp_seconds levqor_backup_verify_ok
                     levqor_backup_restore_seconds levqor_backup_size_bytes)) {
        like($text, qr/^\Q$name\E\{target="local"\} \S+$/m, "$name for local");
    }
    cmp_ok(metric('levqor_backup_last_success_timestamp_seconds{target="local"}'), '>', time - 600, 'a recent success');
    cmp_ok(metric('levqor_backup_size_bytes{target="local"}'), '>', 0, 'a size');
    cmp_ok(metric('levqor_backups_total{target="local",outcome="verified"}'), '>=', 3, 'backups_total verified');
    cmp_ok(metric('levqor_backups_total{target="down",outcome="failed"}'), '>=', 4, 'backups_total failed');
};

# A clean exit (not the SIGKILL after the stop timeout): in the ASan pass that
# is where controld's leak check runs (scripts/t-asan-suite).
ok($cd->stop, 'controld stops on SIGTERM');
done_testing();
