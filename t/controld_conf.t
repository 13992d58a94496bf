#!/usr/bin/perl
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
                     'ReadWritePaths=/var/lib/levqor', 'ExecReload=/bin/kill -HUP $MAINPID',
                     'MemoryMax=1G', 'TasksMax=256') {
        like($unit, qr/^\Q$setting\E$/m, $setting);
    }
    like(slurp("$repo/conf/systemd/levqor-controld.sysusers.conf"), qr/^u levqor /m, 'sysusers.d: the levqor user');
    my ($have) = run_cmd('/bin/sh', '-c', 'command -v systemd-analyze');
    if ($have != 0) {
        note 'systemd-analyze is not installed: not verifying the unit';
        return;
    }
    # Verify a copy that points at the binary we built (verify checks that
    # ExecStart exists).
    my $dir = temp_dir('systemd');
    my $build = Test::Levqor::Util::build_dir();
    spew("$dir/levqor-controld.service", $unit =~ s{/usr/local/bin/levqor-controld}{$build/levqor-controld}r);
    my ($code, $out) = run_cmd('systemd-analyze', 'verify', "$dir/levqor-controld.service");
    is($code, 0, 'systemd-analyze verify') or diag $out;
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

done_testing();
