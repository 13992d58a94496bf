#!/usr/bin/perl
# SPDX-License-Identifier: Apache-2.0
# conf/ for controld: the Prometheus scrape config and alert rules (promtool
# check + rule unit tests; every alert tested firing and not firing, with a
# runbook section in docs/OPERATIONS.md), the Grafana dashboard, the systemd unit
# (systemd-analyze verify, when available), and the example controld.json,
# which controld must accept. Every metric these files use is documented in
# docs/metrics.md.
use strict;
use warnings;

use lib 't/lib';
use Test::Levqor;
use Test::Levqor::Controld qw(json_of);
use Test::Levqor::Util qw(repo_root slurp spew run_cmd temp_dir);
use JSON::PP ();
use YAML::XS ();

my $repo = repo_root();
my $prom = "$repo/conf/prometheus";
# The rule tests: every minute, and every 10 minutes for the alerts that look
# back hours or days.
my @rule_tests = qw(alerts_test.yml alerts_test_long.yml);

subtest 'Prometheus' => sub {
    my ($code, $out) = run_cmd('promtool', 'check', 'rules', "$prom/alerts.yml");
    is($code, 0, 'promtool check rules alerts.yml') or diag $out;
    ($code, $out) = run_cmd('promtool', 'check', 'config', "$prom/prometheus.yml");
    is($code, 0, 'promtool check config prometheus.yml') or diag $out;
    ($code, $out) = run_cmd('promtool', 'test', 'rules', map { "$prom/$_" } @rule_tests);
    is($code, 0, "promtool test rules @rule_tests") or diag $out;
    like(slurp("$prom/prometheus.yml"), qr/^\s*honor_labels: true$/m,
         'honor_labels keeps the nginx instance label controld sets');
    like(slurp("$prom/prometheus.yml"), qr/^alerting:\n  alertmanagers:\n/m, 'the alerts go to an Alertmanager');
};

# Every alert has a rule test that expects it to fire and one that expects it
# not to, every tested alertname exists (a test of a missing alert expecting
# nothing would pass), and every runbook_url names a section of
# docs/OPERATIONS.md.
subtest 'every alert has rule tests and a runbook' => sub {
    my $rules = YAML::XS::LoadFile("$prom/alerts.yml");
    my @cases = map { @{ $_->{alert_rule_test} || [] } }
                map { @{ YAML::XS::LoadFile("$prom/$_")->{tests} } } @rule_tests;
    my @alerts = map { $_->{alert} // () } map { @{ $_->{rules} } } @{ $rules->{groups} };
    ok(@alerts >= 24, scalar(@alerts) . ' alerts');
    my (%fires, %quiet);
    for my $case (@cases) {
        (@{ $case->{exp_alerts} || [] } ? $fires{ $case->{alertname} } : $quiet{ $case->{alertname} })++;
    }
    my %known = map { $_ => 1 } @alerts;
    for my $alert (@alerts) {
        ok($fires{$alert}, "$alert: a rule test where it fires");
        ok($quiet{$alert}, "$alert: a rule test where it does not");
    }
    is_deeply([grep { !$known{$_} } sort keys %{ { %fires, %quiet } }], [], 'every tested alertname is in alerts.yml');
    # GitHub's heading anchors: lower case, spaces to dashes, punctuation gone.
    my %anchors = map { lc(s/[^\w\- ]//gr =~ tr/ /-/r) => 1 } slurp("$repo/docs/OPERATIONS.md") =~ /^#+ (.+?)\s*$/mg;
    for my $rule (map { @{ $_->{rules} } } @{ $rules->{groups} }) {
        next unless $rule->{alert};
        my $url = $rule->{annotations}{runbook_url} // '';
        my ($anchor) = $url =~ m{^docs/OPERATIONS\.md#(.+)$};
        ok($anchor && $anchors{$anchor}, "$rule->{alert}: runbook_url '$url' is a section of docs/OPERATIONS.md");
    }
};

subtest 'Grafana dashboard' => sub {
    my $dash = eval { JSON::PP->new->decode(slurp("$repo/conf/grafana/levqor.json")) };
    ok($dash, 'valid JSON') or diag $@;
    is($dash->{title}, 'levqor', 'title');
    my @targets = map { @{ $_->{targets} || [] } } @{ $dash->{panels} || [] };
    ok(@targets >= 10, scalar(@targets) . ' queries');
    ok(!(grep { !defined $_->{expr} || $_->{expr} !~ /levqor_/ } @targets), 'every query reads a levqor metric');
    my %ids;
    ok(!(grep { $ids{$_->{id}}++ } @{ $dash->{panels} }), 'panel ids are unique');
    my %rows = map { $_->{title} => 1 } grep { $_->{type} eq 'row' } @{ $dash->{panels} };
    ok($rows{$_}, "row $_") for qw(Overview Traffic Queue Webhooks);
    # No two panels share a cell of the 24-column grid.
    my (%cell, @overlaps);
    for my $p (@{ $dash->{panels} }) {
        my ($x, $y, $w, $h) = @{ $p->{gridPos} }{qw(x y w h)};
        push @overlaps, "$p->{title} (x $x, w $w)" if $x + $w > 24;
        for my $r ($y .. $y + $h - 1) {
            for my $c ($x .. $x + $w - 1) {
                push @overlaps, "$p->{title} and $cell{$r}{$c} at $c,$r" if $cell{$r}{$c};
                $cell{$r}{$c} //= $p->{title};
            }
        }
    }
    is_deeply([ @overlaps[0 .. ($#overlaps < 4 ? $#overlaps : 4)] ], [], 'panels do not overlap');
    # Every query parses as PromQL: promtool checks them as recording rules,
    # with Grafana's interval variables replaced.
    my $dir = temp_dir('grafana');
    my $n = 0;
    spew("$dir/queries.yml", "groups:\n  - name: dashboard\n    rules:\n"
         . join('', map { sprintf("      - record: levqor:dashboard_%d\n        expr: %s\n", ++$n,
                                  JSON::PP->new->allow_nonref->encode($_->{expr} =~ s/\$__(rate_interval|interval|range)\b/5m/gr)) }
                    @targets));
    my ($code, $out) = run_cmd('promtool', 'check', 'rules', "$dir/queries.yml");
    is($code, 0, "promtool parses the $n queries") or diag $out;
};

subtest 'every metric used in conf/ is documented' => sub {
    my $docs = slurp("$repo/docs/metrics.md");
    my %used;
    # Queries only: annotations may name directives (levqor_flags_file, ...).
    my @queries = grep { !/^\s*(summary|description|"description"|"title"):/ }
                  split /\n/, slurp("$prom/alerts.yml") . slurp("$repo/conf/grafana/levqor.json");
    for my $line (@queries) {
        $used{ s/_(bucket|sum|count)$//r }++ for $line =~ /\b(levqor_[a-z0-9_]+)/g;
    }
    for my $metric (sort keys %used) {
        like($docs, qr/`\Q$metric\E`/, "$metric is in docs/metrics.md");
    }
};

subtest 'systemd unit' => sub {
    my $unit = slurp("$repo/conf/systemd/levqor-controld.service");
    for my $setting ('NoNewPrivileges=yes', 'ProtectSystem=strict', 'User=levqor',
                     'ExecReload=/bin/kill -HUP $MAINPID', 'MemoryMax=1G', 'TasksMax=256',
                     'Type=notify', 'NotifyAccess=main', 'SystemCallErrorNumber=EPERM',
                     'ExecStart=/usr/sbin/levqor-controld --config /etc/levqor/controld.json',
                     'Documentation=man:levqor-controld(8) file:///usr/share/doc/levqor-controld/') {
        like($unit, qr/^\Q$setting\E$/m, $setting);
    }
    unlike($unit, qr/^ReadWritePaths=/m, 'no ReadWritePaths= (StateDirectory= covers it)');
    like($unit, qr/^WatchdogSec=(\d+)s$/m, 'WatchdogSec=');
    # The stop timeout against the real shutdown budget of the example
    # config (grace + error flush), as controld itself computes it.
    my ($stop) = $unit =~ /^TimeoutStopSec=(\d+)s$/m;
    my ($code, $out) = run_cmd(Test::Levqor::Controld::controld_binary(), '--check-config', '--config',
                               "$repo/conf/controld/controld.json");
    my $budget = (eval { JSON::PP->new->decode($out) } || {})->{shutdown}{budget_ms};
    ok(defined $stop && defined $budget && $stop * 1000 > $budget,
       'TimeoutStopSec=' . ($stop // '?') . 's is longer than the shutdown budget (' . ($budget // '?') . ' ms)')
        or diag $out;
    like($unit, qr/^# 1 s more: at most \Q@{[ $budget \/ 1000 ]}\E s with the defaults/m,
         'the unit\'s comment states the same budget');
    like(slurp("$repo/conf/systemd/levqor-controld.sysusers.conf"), qr/^u levqor /m, 'sysusers.d: the levqor user');
    my ($have) = run_cmd('/bin/sh', '-c', 'command -v systemd-analyze');
    if ($have != 0) {
        note 'systemd-analyze is not installed: not verifying the unit';
        return;
    }
    # Verify a copy that points at the binary we built (verify checks that
    # ExecStart exists; --man=no: the man page exists once the package is installed).
    my $dir = temp_dir('systemd');
    my $build = Test::Levqor::Util::build_dir();
    spew("$dir/levqor-controld.service", $unit =~ s{/usr/sbin/levqor-controld}{$build/levqor-controld}gr);
    my ($verify_code, $verify_out) = run_cmd('systemd-analyze', 'verify', '--man=no', "$dir/levqor-controld.service");
    is($verify_code, 0, 'systemd-analyze verify') or diag $verify_out;
};

subtest 'the example controld.json starts' => sub {
    my $config = slurp("$repo/conf/controld/controld.json");
    my $cd = Test::Levqor::Controld->new(config => $config, builtin_schedules => 1);
    # The paths and the port are the example's; the environment moves them
    # into the test's temp dir.
    $cd->{env} = { LEVQOR_FLAGS_FILE => $cd->flags_file };
    $cd->start;
    my $health = json_of($cd->request('GET /healthz'));
    is($health->{status}, 'degraded', 'runs (degraded: nothing listens on the example nginx URL)');
    ok(exists $health->{checks}{nginx}{'edge-1'}, 'the example instance is configured');
    like(slurp($cd->flags_file), qr/^SECURITY_HEADERS_ENABLED=on$/m, 'the example flags');
    # The example's backup section: its sqlite target is configured (the
    # file need not exist until a backup runs).
    my $metrics = $cd->request('GET /metrics')->{body} // '';
    like($metrics, qr/^levqor_backup_verify_ok\{target="local"\} /m, 'the example backup target');
    # The series the queue alerts read, with the labels they use.
    like($metrics, qr/^levqor_queue_backend_up\{backend="sqlite"\} 1$/m, 'levqor_queue_backend_up{backend}');
    like($metrics, qr/^levqor_jobs_rejected_total\{reason="max_depth"\} 0$/m, 'levqor_jobs_rejected_total{reason}');
    like($metrics, qr/^levqor_queue_oldest_age_seconds \S+$/m, 'levqor_queue_oldest_age_seconds');
    # Its schedules: the configured one and the built-ins (backup:local from
    # the target's schedule).
    my %schedules = map { $_->{name} => $_ } @{ json_of($cd->request('GET /ops/schedules', token => 'admin')) || [] };
    is($schedules{'nightly-reindex'}{cron}, '30 2 * * *', 'the example schedule');
    is($schedules{'backup:local'}{cron}, '0 0 * * *', 'the backup target\'s schedule');
    is($schedules{'metrics-daily-reset'}{cron}, '5 0 * * *', 'the built-in daily reset');
    $cd->stop;
};

# --- levqor-controld --check-config -------------------------------------------
# The real binary: exit 0 and the effective settings as JSON, or exit 2 and
# "<key>: <reason>"; never a secret in its output.

my @secrets = ('redis-pw-0d1e', 'pg-pw-7a7b', 'sentrykey5c5c', 'target-pw-9f9f', 'exec-secret-3e3e',
               'Bearer sched-4b4b');
my %secret_env = (
    REDIS_URL    => "redis://app:$secrets[0]\@127.0.0.1:6379/0",
    DATABASE_URL => "host=127.0.0.1 dbname=app password=$secrets[1]",
    SENTRY_DSN   => "https://$secrets[2]\@o0.ingest.sentry.io/42",
);
my $secret_config = {
    queue => { shutdown_grace_ms => 7000,
               exec => { sync => { path => '/bin/true', env => { API_PASSWORD => $secrets[4] } } } },
    backup => { targets => [{ name => 'main', kind => 'postgres', schedule => '0 3 * * *',
                              url => "postgresql://backup:$secrets[3]\@127.0.0.1/app" }] },
    schedules => { ping => { cron => '*/5 * * * *',
                             job => { type => 'http', payload => { url => 'http://127.0.0.1/',
                                                                   headers => { Authorization => $secrets[5] } } } } },
};

# (exit code, output, decoded JSON or undef)
sub check_config {
    my (%args) = @_;
    my $cd = Test::Levqor::Controld->new(config => $args{config});
    $args{prepare}->($cd) if $args{prepare};
    my ($code, $out) = $cd->run_once(args => ['--check-config'], env => $args{env} || {});
    my $json = eval { JSON::PP->new->decode($out) };
    return ($code, $out, $json, $cd);
}

subtest '--check-config: a good configuration' => sub {
    my ($code, $out, $json, $cd) = check_config(config => $secret_config, env => \%secret_env);
    is($code, 0, 'exit 0') or diag $out;
    ok($json, 'stdout is one JSON document') or return;
    my $s = $json->{settings};
    is($s->{listen}, '127.0.0.1:' . $cd->port, 'listen from LEVQOR_LISTEN (the environment wins)');
    is($s->{queue}{shutdown_grace_ms}, 7000, 'queue.shutdown_grace_ms from the file');
    is($s->{queue}{workers}, 4, 'queue.workers: the default');
    is($s->{redis_url}, 'redis://***@127.0.0.1:6379/0', 'redis_url: user:password masked');
    is($s->{database_url}, 'host=127.0.0.1 dbname=app password=***', 'database_url: password= masked');
    is($s->{sentry_dsn}, 'https://***@o0.ingest.sentry.io/42', 'sentry_dsn: key masked');
    is($s->{backup}{targets}[0]{url}, 'postgresql://***@127.0.0.1/app', 'backup target url masked');
    is($s->{queue}{exec}{sync}{env}{API_PASSWORD}, '***', 'exec env values masked');
    is($s->{schedules}{ping}{job}{payload}{headers}{Authorization}, '[Filtered]', 'a job payload\'s secret field');
    is($json->{tokens}{admin}{tokens}, 1, 'the admin token file was read');
    is_deeply($json->{shutdown}, { grace_ms => 7000, error_flush_ms => 1000, budget_ms => 8000 },
              'shutdown: max(1.5 s, queue.shutdown_grace_ms) + 1 s of error flush');
    for my $secret (@secrets, $cd->admin_token, $cd->producer_token) {
        unlike($out, qr/\Q$secret\E/, "output never has the secret $secret");
    }
    ok(!-e $cd->data_dir, 'binds nothing, creates nothing: data_dir is still absent');
};

subtest '--check-config: bad configurations name the key' => sub {
    my @cases = (
        ['a value out of range', { config => { queue => { workers => 99 } } },
         qr/"queue\.workers" = 99 is invalid: expected a whole number from 0 to 64/],
        ['a cron expression', { config => { schedules => { x => { cron => '61 * * * *', job => { type => 'noop' } } } } },
         qr/"schedules\.x\.cron" = "61 \* \* \* \*" is invalid: field 1 \(minute\)/],
        ['a token file others can read', { prepare => sub { chmod 0644, $_[0]->token_file('admin') } },
         qr/^levqor-controld: admin_token_file: .*mode 0644.*chmod 600/m],
        ['a short abuse pepper', { config => { abuse => { pepper_file => '/dev/null/x' } },
                                   prepare => sub { my $cd = shift; my $f = $cd->dir . '/pepper';
                                                    spew($f, "short\n"); chmod 0600, $f;
                                                    $cd->{config}{abuse}{pepper_file} = $f } },
         qr/^levqor-controld: abuse\.pepper_file \S+: the abuse pepper has 5 bytes/m],
        ['a missing backup key', { config => { backup => { encryption_key_file => '/nonexistent/backup.key' } } },
         qr/^levqor-controld: backup\.encryption_key_file: .*No such file/m],
        ['a bad REDIS_URL with a password', { env => { REDIS_URL => "redis://u:$secrets[0]\@host:notaport" } },
         qr/^levqor-controld: REDIS_URL="redis:\/\/\*\*\*\@host:notaport" is invalid: invalid port/m],
    );
    for my $case (@cases) {
        my ($name, $args, $expect) = @$case;
        my ($code, $out) = check_config(%$args);
        is($code, 2, "$name: exit 2");
        like($out, $expect, "$name: the message names the key") or diag $out;
        unlike($out, qr/\Q$secrets[0]\E/, "$name: no secret in the message");
    }
};

done_testing();
