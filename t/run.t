#!/usr/bin/perl
# make run as a user runs it: scripts/run.sh as a real process (its own
# levqor-controld and nginx) with the run folder inside a mode-0700 folder --
# as root the case of a clone in root's home, where nginx's workers (nobody)
# could not read the demo pages or the flags file. Then the README tour's
# commands: headers with a CSP nonce, the 31st request of a minute getting 429
# with the RateLimit fields, a signed webhook, /levqor/status, controld's
# /metrics and /healthz, levqorctl status and flags get, a job; then Ctrl-C
# (SIGINT) and both processes gone. And the refusal: a workers' folder the
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
use Test::Levqor::Util qw(repo_root temp_dir slurp spew run_cmd wait_until);
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
    } else {
        like($out, qr/files under \Q$run_dir\E\)/, 'a normal user: everything in the run folder');
    }
    ok(-s "$www/flags", 'the flags file is there');
    ok(!-e "$run_dir/flags", 'and only there');
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

subtest 'the 31st request of a minute from one address: 429' => sub {
    # The free plan's IP bucket holds 30 and gains one every 2 s: requests
    # sent slower than that could pass a 31st time, so the test allows one
    # more pass per 2 s it took rather than depending on the machine's speed.
    my $key = 'X-API-Key: tour-key';
    my $start = time;
    my (@codes, $rejected, $passed);
    for (1 .. 60) {
        my $res = get('/api/hello', "$key\n");
        push @codes, $res->{status} // 0;
        $passed = $res if ($res->{status} // 0) == 200;
        if (($res->{status} // 0) == 429) { $rejected = $res; last }
    }
    my $extra = int((time - $start) / 2);
    my $first = @codes;
    ok($rejected, 'a request is refused') or return diag "codes: @codes";
    ok($first >= 31 && $first <= 31 + $extra, "the first 429 is request 31 (got $first; allowed up to " . (31 + $extra) . ')');
    is_deeply([grep { $_ != 200 } @codes[0 .. $first - 2]], [], 'every request before it passed');
    is($passed->{headers}{'ratelimit-policy'}, '"free-key";q=60;w=60, "free-ip";q=30;w=60', 'RateLimit-Policy on a pass');
    my $h = $rejected->{headers};
    is($h->{'ratelimit-policy'}, '"free-key";q=60;w=60, "free-ip";q=30;w=60', 'RateLimit-Policy on the 429');
    like($h->{'ratelimit'}, qr/^"free-key";r=\d+;t=\d+, "free-ip";r=0;t=\d+$/, 'RateLimit: the IP bucket is empty');
    like($h->{'retry-after'}, qr/^[12]$/, 'Retry-After: 1 or 2 s');
    is($h->{'content-type'}, 'application/json', 'JSON');
    like($rejected->{body}, qr/^\{"error":"rate_limited","retry_after":[12]\}$/, 'the body');
    ok($h->{'content-security-policy'}, 'the 429 has the security headers too');
    my $pro = get('/api/hello', "X-API-Key: demo-pro-key\n");
    is($pro->{status}, 200, 'the pro key (demo.conf.in\'s map) has buckets of its own');
    like($pro->{headers}{'ratelimit-policy'}, qr/^"pro-key";q=600;w=60, "pro-ip";q=120;w=60$/, 'pro policy');
};

my $secret = slurp("$run_dir/webhook.secret") // '';
chomp $secret;
subtest 'a signed webhook' => sub {
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
    is($post->($sig)->{status}, 401, 'the same delivery again: 401 (replay)');
    is($post->('0' x 64)->{status}, 401, 'a wrong signature: 401');
};

subtest '/levqor/status' => sub {
    my $res = get('/levqor/status');
    is($res->{status}, 200, 'GET /levqor/status is 200');
    like($res->{body}, qr/^levqor_rate_limit_hits_total\{zone="demo",plan="free",limit="ip"\} [1-9]/m,
         'counts the 429');
    like($res->{body}, qr/^levqor_webhook_verifications_total\{provider="generic",result="valid"\} 1$/m,
         'counts the webhook');
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

subtest 'a workers folder the worker user cannot read: refused' => sub {
    plan skip_all => 'as a normal user nginx runs its workers as that user: they can read what run.sh writes' unless $root_run;
    my $www_dir = "$private/www";
    my ($proc, $ports) = start_run(LEVQOR_RUN_DIR => "$private/run2", LEVQOR_WORKER_DIR => $www_dir);
    ok($proc->wait_exit(30), 'run.sh exits') or return;
    is($proc->exit_status >> 8, 1, 'exit 1');
    my $log = $proc->log_text;
    like($log, qr/^run: nginx's workers run as user "nobody" and cannot open \Q$www_dir\E\/flags: the directory \Q$private\E \(mode 700, owner root\) is not searchable by it; /m,
         'names the path, the directory, its mode and the user') or diag $log;
    unlike($log, qr/levqor is running/, 'no URLs');
    ok(!-e "$private/run2/nginx.pid", 'nginx never started');
    ok(!port_open($ports->{controld}), 'the controld it started is stopped');
};

done_testing();
