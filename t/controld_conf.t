#!/usr/bin/perl
# conf/ for controld: the Prometheus scrape config and alert rules (promtool
# check + rule unit tests), the Grafana dashboard, the systemd unit
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

my $repo = repo_root();
my $prom = "$repo/conf/prometheus";

subtest 'Prometheus' => sub {
    my ($code, $out) = run_cmd('promtool', 'check', 'rules', "$prom/alerts.yml");
    is($code, 0, 'promtool check rules alerts.yml') or diag $out;
    ($code, $out) = run_cmd('promtool', 'check', 'config', "$prom/prometheus.yml");
    is($code, 0, 'promtool check config prometheus.yml') or diag $out;
    ($code, $out) = run_cmd('promtool', 'test', 'rules', "$prom/alerts_test.yml");
    is($code, 0, 'promtool test rules alerts_test.yml') or diag $out;
    like(slurp("$prom/prometheus.yml"), qr/^\s*honor_labels: true$/m,
         'honor_labels keeps the nginx instance label controld sets');
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
    like($cd->request('GET /metrics')->{body} // '', qr/^levqor_backup_verify_ok\{target="local"\} /m,
         'the example backup target');
    # Its schedules: the configured one and the built-ins (backup:local from
    # the target's schedule).
    my %schedules = map { $_->{name} => $_ } @{ json_of($cd->request('GET /ops/schedules', token => 'admin')) || [] };
    is($schedules{'nightly-reindex'}{cron}, '30 2 * * *', 'the example schedule');
    is($schedules{'backup:local'}{cron}, '0 0 * * *', 'the backup target\'s schedule');
    is($schedules{'metrics-daily-reset'}{cron}, '5 0 * * *', 'the built-in daily reset');
    $cd->stop;
};

done_testing();
