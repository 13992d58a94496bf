#!/usr/bin/perl
# SPDX-License-Identifier: Apache-2.0
# make run as a user runs it: scripts/run.sh as a real process (its own
# levqor-controld and nginx) with the run folder inside a mode-0700 folder --
# as root the case of a clone in root's home, where nginx's workers (nobody)
# could not read the demo pages or the flags file. Then the README tour's own
# command blocks, each compared with the output README shows (headers with a
# CSP nonce, the 31st request of a minute getting 429 with the RateLimit
# fields, a signed webhook and its replay, levqorctl status, rollback and
# reset, metrics), and checks of the same in Perl: /levqor/status, controld's
# /metrics and /healthz, levqorctl flags get, a job; then Ctrl-C (SIGINT) and
# both processes gone. And the refusal: a workers' folder the
# worker user cannot read stops run.sh with a message naming the folder and
# the user, before nginx starts.
use strict;
use warnings;

use lib 't/lib';
use Digest::SHA qw(hmac_sha256_hex);
use IO::Socket::INET;
use Test::Levqor;
use Test::Levqor::Controld qw(promtool_check json_of ctl_binary);
use Test::Levqor::HTTP qw(http_request);
use Test::Levqor::Process;
use Test::Levqor::Sanitizer qw(nginx_env);
use Test::Levqor::Util qw(repo_root build_dir temp_dir slurp spew run_cmd wait_until);
use Time::HiRes qw(time);

my $root_run = $> == 0;
my $private  = temp_dir('private');
chmod 0700, $private;    # temp_dir makes it 0755; a home directory is 0700

# nginx in the ASan pass needs libasan preloaded (t/lib/Test/Levqor/Sanitizer.pm):
# run.sh takes the nginx binary from NGINX, so hand it a wrapper that sets it.
my %nginx_env = nginx_env();
my $nginx     = '/usr/sbin/nginx';
if (%nginx_env) {
    my $wrapper = temp_dir('nginx-wrapper') . '/nginx';
    my $env     = join ' ', map { "$_='$nginx_env{$_}'" } sort keys %nginx_env;
    spew($wrapper, "#!/bin/sh\nexec env $env /usr/sbin/nginx \"\$@\"\n");
    chmod 0755, $wrapper;
    $nginx = $wrapper;
}

# Starts run.sh; returns the process and its ports.
sub start_run {
    my (%env) = @_;
    my %port = (http => free_port(), upstream => free_port(), controld => free_port());
    my $proc = Test::Levqor::Process->spawn(
        name => 'run.sh',
        cmd  => ['bash', repo_root() . '/scripts/run.sh'],
        env  => {
            NGINX                => $nginx,
            LEVQOR_HTTP_PORT     => $port{http},
            LEVQOR_UPSTREAM_PORT => $port{upstream},
            LEVQOR_LISTEN        => "127.0.0.1:$port{controld}",
            %env,
        },
    );
    return ($proc, \%port);
}

sub port_open {
    my ($port) = @_;
    return IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Proto => 'tcp') ? 1 : 0;
}

my $run_dir = "$private/run";
my ($run, $port) = start_run(LEVQOR_RUN_DIR => $run_dir);
wait_until(60, sub { $run->log_text =~ /levqor is running/ || !$run->alive }, 0.05);
ok($run->log_text =~ /levqor is running/, 'run.sh prints its URLs')
    or BAIL_OUT("run.sh did not start (it " . $run->exit_text . "):\n" . $run->log_text
                . (slurp("$run_dir/logs/error.log") // ''));
my $out = $run->log_text;

my $www = $root_run ? "/tmp/levqor-run-0-$port->{http}" : $run_dir;
subtest 'the workers folder' => sub {
    if ($root_run) {
        like($out, qr/files under \Q$run_dir\E; nginx's workers \(nobody\) read \Q$www\E\)/,
             'as root with the run folder out of nobody\'s reach: the workers read a folder in /tmp');
        my @st = stat $www;
        is(sprintf('%o', $st[2] & 07777), '755', "$www is 0755");
        is($st[4], 0, 'owned by the invoker');
        ok(!-e "$run_dir/flags", 'the flags file is not in the run folder');
    } else {
        like($out, qr/files under \Q$run_dir\E\)/, 'a normal user: everything in the run folder');
    }
    ok(-s "$www/flags", 'the flags file is in the workers\' folder');
    like(slurp("$run_dir/nginx.conf"), qr/^\s*levqor_flags_file \Q$www\E\/flags;/m, 'nginx.conf names it');
};

my $http = $port->{http};
sub get {
    my ($path, $headers) = @_;
    return http_request(port => $http, request => "GET $path", more_headers => $headers // '');
}

subtest 'the demo page: security headers with a CSP nonce' => sub {
    my $res = get('/');
    is($res->{status}, 200, 'GET / is 200');
    my ($nonce) = ($res->{headers}{'content-security-policy'} // '') =~ /'nonce-([^']+)'/;
    ok($nonce, 'Content-Security-Policy carries a nonce') or diag explain $res->{headers};
    like($res->{body}, qr/<script nonce="\Q$nonce\E">/, 'the inline script carries the same nonce') if $nonce;
    is($res->{headers}{'x-frame-options'},        'DENY',        'X-Frame-Options');
    is($res->{headers}{'x-content-type-options'}, 'nosniff',     'X-Content-Type-Options');
    is($res->{headers}{'referrer-policy'},        'no-referrer', 'Referrer-Policy');
    my ($again) = (get('/')->{headers}{'content-security-policy'} // '') =~ /'nonce-([^']+)'/;
    isnt($again, $nonce, 'a fresh nonce per response');
};

# The README tour's commands as they stand: every ```sh block of "A 5-minute
# tour" but `make run`, in order, with the default ports replaced by this
# run's, from a folder where run/ and build/ are this run's (as in a clone).
# A block followed directly by a plain ``` block must print exactly that
# (Dates, nonces and controld's uptime aside); every block must exit 0.
sub readme_tour {
    my ($readme) = @_;
    my ($tour) = $readme =~ /^## A 5-minute tour\n(.*?)^Where to go next:/ms or return;
    my @steps;
    while ($tour =~ /^```sh\n(.*?)^```\n(?:\n*^```\n(.*?)^```\n)?/gms) {
        push @steps, { cmd => $1, want => $2 } unless $1 =~ /^make run\n\z/;
    }
    return @steps;
}

sub normalize {
    my ($text, $numbers) = @_;
    $text =~ s/[ \t\r]+$//mg;    # curl's CRLFs, the space after the last status code
    $text =~ s/\n+\z//;
    $text =~ s/^Date: .*$/Date: (date)/mg;
    $text =~ s/'nonce-[^']+'/'nonce-(nonce)'/g;
    $text =~ s/\(version (\S+), up \d+ s\)/(version $1, up (n) s)/g;
    if ($numbers) {    # the rate-limit block on a machine slower than the README's
        $text =~ s/;r=\d+;t=\d+/;r=(n);t=(n)/g;
        $text =~ s/^Retry-After: \d+$/Retry-After: (n)/mg;
        $text =~ s/"retry_after":\d+/"retry_after":(n)/g;
    }
    return $text;
}

subtest 'the README tour, command by command' => sub {
    my @steps = readme_tour(slurp(repo_root() . '/README.md') // '');
    ok(@steps >= 6, scalar(@steps) . ' command blocks in the tour') or return;
    ok((grep { $_->{cmd} =~ m{/api/hello} && ($_->{want} // '') =~ /^HTTP\/1\.1 429 /m } @steps),
       'one of them shows the 429');
    my $clone = temp_dir('clone');
    symlink($run_dir, "$clone/run") && symlink(build_dir(), "$clone/build")
        or return fail("symlinks in $clone: $!");
    my %ports = (8080 => $port->{http}, 8081 => $port->{upstream}, 8089 => $port->{controld});
    my $ports = sub { $_[0] =~ s/127\.0\.0\.1:(808[01]|8089)\b/127.0.0.1:$ports{$1}/gr };
    my ($exports, $refilled) = ('', 0);
    for my $i (0 .. $#steps) {
        my $cmd  = $ports->($steps[$i]{cmd});
        my $name = "block " . ($i + 1) . ': ' . ((split /\n/, $steps[$i]{cmd})[0]);
        my $start = time;
        my ($code, $got) = run_cmd('bash', '-c', "cd '$clone' && $exports$cmd");
        my $took = time - $start;
        is($code, 0, "$name: exit 0") or diag $got;
        $exports .= join '', map {"$_\n"} grep {/^export /} split /\n/, $cmd;
        next unless defined $steps[$i]{want};
        my $want = $ports->($steps[$i]{want});
        # The buckets refill as time passes (the README's run took well under
        # a second): on a slower machine only the numbers may differ, and a
        # 31st request sent after the address bucket gained a token passes.
        my $rate = $cmd =~ m{/api/hello} && $took >= 1;
        if ($rate && $took >= 2 && $got !~ /^HTTP\/1\.1 429 /m) {
            pass("$name: took $took s, the address bucket refilled: not compared");
            $refilled = 1;
            next;
        }
        if ($refilled) {    # then no 429 was counted either
            s/^(levqor_rate_limit_hits_total\{.*\}) \d+$/$1 (n)/mg for $got, $want;
        }
        is(normalize($got, $rate), normalize($want, $rate), "$name: prints what README shows");
    }
};

# The tour ends with levqorctl flags reset after a rollback: the checks below
# need every worker to have left the rollback's all-off state. Each worker
# logs every change it applies; one that never saw the rollback (both changes
# came between two of its checks) still has the flags it started with.
ok(wait_until(10, sub {
    my ($log, %last) = (slurp("$run_dir/logs/error.log") // '');
    $last{$1} = $2 while $log =~ /(\d+)#\d+: levqor_flags_file: (.*)/g;
    !grep { /RATELIMIT_ENABLED=off/ } values %last;
}, 0.05), 'every worker applied the flags reset');

subtest 'the pro key of demo.conf.in has buckets of its own' => sub {
    my $pro = get('/api/hello', "X-API-Key: demo-pro-key\n");
    is($pro->{status}, 200, 'after the free plan\'s 429: 200');
    is($pro->{headers}{'ratelimit-policy'}, '"pro-key";q=600;w=60, "pro-ip";q=120;w=60', 'pro policy');
};

my $secret = slurp("$run_dir/webhook.secret") // '';
chomp $secret;
subtest 'the demo webhook' => sub {
    ok(length $secret, 'run.sh made the secret');
    is(sprintf('%o', (stat "$run_dir/webhook.secret")[2] & 0777), '600', 'mode 0600');
    my $body = '{"event":"ping","n":' . int(rand 1e9) . '}';
    my $post = sub {
        my ($sig) = @_;
        return http_request(port => $http, request => 'POST /hooks/demo', body => $body,
                            more_headers => "Content-Type: application/json\nX-Demo-Signature: sha256=$sig\n");
    };
    my $sig = hmac_sha256_hex($body, $secret);
    my $res = $post->($sig);
    is($res->{status}, 200, 'signed: 200');
    is($res->{body}, qq({"received":true}\n), 'the application got it');
    is($post->('0' x 64)->{status}, 401, 'a wrong signature: 401');
};

subtest '/levqor/status' => sub {
    my $res = get('/levqor/status');
    is($res->{status}, 200, 'GET /levqor/status is 200');
    like($res->{body}, qr/^levqor_rate_limit_hits_total\{zone="demo",plan="free",limit="ip"\} [1-9]/m,
         'counts the 429');
    like($res->{body}, qr/^levqor_webhook_verifications_total\{provider="generic",result="valid"\} [1-9]/m,
         'counts the webhooks');
    promtool_check($res->{body});
};

my $controld = "127.0.0.1:$port->{controld}";
subtest 'controld /healthz and /metrics' => sub {
    my $health = http_request(port => $port->{controld}, request => 'GET /healthz');
    is($health->{status}, 200, '/healthz 200');
    is((json_of($health) || {})->{status}, 'ok', 'status ok');
    my $ok = wait_until(10, sub {
        my $m = http_request(port => $port->{controld}, request => 'GET /metrics');
        ($m->{body} // '') =~ /^levqor_nginx_up\{instance="demo"\} 1$/m
            && $m->{body} =~ /^levqor_rate_limit_hits_total\{[^}]*zone="demo"/m ? $m : undef;
    }, 0.1);
    ok($ok, 'scrapes the demo nginx: levqor_nginx_up 1 and its rate-limit series');
    promtool_check($ok->{body}) if $ok;
};

subtest 'levqorctl status, flags get, a job' => sub {
    local $ENV{LEVQOR_URL}        = "http://$controld";
    local $ENV{LEVQOR_TOKEN_FILE} = "$run_dir/admin.token";
    my ($code, $text) = run_cmd(ctl_binary(), 'status');
    is($code, 0, 'levqorctl status exits 0') or diag $text;
    like($text, qr/^nginx\s+demo\s+up\s+http:\/\/127\.0\.0\.1:$http\/levqor\/status$/m, 'the demo nginx is up');
    ($code, $text) = run_cmd(ctl_binary(), 'flags', 'get');
    is($code, 0, 'levqorctl flags get exits 0') or diag $text;
    like($text, qr/^$_\s+on$/m, "$_ on at the first run") for qw(SECURITY_HEADERS_ENABLED RATELIMIT_ENABLED WEBHOOK_VERIFY_ALL);
    like($text, qr/^NEW_QUEUE_ENABLED\s+off$/m, 'NEW_QUEUE_ENABLED off');
    my $auth = slurp("$run_dir/admin.header");
    like($auth, qr/^Authorization: Bearer [0-9a-f]{64}\n\z/, 'admin.header for curl -H @file');
    my $job = http_request(port => $port->{controld}, request => 'POST /jobs', body => '{"type":"noop"}',
                           more_headers => "Content-Type: application/json\n$auth");
    like($job->{status}, qr/^20[01]$/, 'POST /jobs with the header file') or diag $job->{raw};
};

subtest 'Ctrl-C stops both' => sub {
    my $nginx_pid = slurp("$run_dir/nginx.pid") // '';
    chomp $nginx_pid;
    my ($controld_pid) = grep { $_ != $nginx_pid } split ' ', slurp('/proc/' . $run->pid . '/task/' . $run->pid . '/children') // '';
    ok($nginx_pid && $controld_pid, "nginx ($nginx_pid) and controld ($controld_pid) found");
    $run->kill('INT');
    ok($run->wait_exit(20), 'run.sh exits on SIGINT') or diag $run->log_text;
    like($run->log_text, qr/run: stopping/, 'says so');
    ok(wait_until(5, sub { !kill(0, $nginx_pid) && !kill(0, $controld_pid) }), 'nginx and controld are gone');
    ok(!port_open($http) && !port_open($port->{controld}), 'their ports are closed');
    ok(!-e $www, "the workers' folder in /tmp is removed") if $root_run;
};

subtest 'nothing nginx calls an error' => sub {
    my $errors = join '', grep {/\[(?:emerg|alert|crit)\]/} split /^/, (slurp("$run_dir/logs/error.log") // '') . $run->log_text;
    is($errors, '', 'no [emerg], [alert] or [crit] from nginx, in its log or on run.sh\'s output');
};

subtest 'a workers folder the worker user cannot read: refused' => sub {
    plan skip_all => 'as a normal user nginx runs its workers as that user: they can read what run.sh writes' unless $root_run;
    my $www_dir = "$private/www";
    my ($proc, $ports) = start_run(LEVQOR_RUN_DIR => "$private/run2", LEVQOR_WORKER_DIR => $www_dir);
    ok($proc->wait_exit(30), 'run.sh exits') or return;
    is($proc->exit_status >> 8, 1, 'exit 1');
    my $log = $proc->log_text;
    like($log, qr/^run: nginx's workers run as user "nobody" and cannot open \Q$www_dir\E\/html\/index\.html: the directory \Q$private\E \(mode 700, owner root\) is not searchable by it; /m,
         'names the path, the directory, its mode and the user') or diag $log;
    unlike($log, qr/levqor is running/, 'no URLs');
    ok(!-e "$private/run2/nginx.pid", 'nginx never started');
    ok(!-e "$www_dir/flags", 'nor controld: checked before anything starts');
    ok(!port_open($ports->{controld}), 'no controld left running');
};

done_testing();
