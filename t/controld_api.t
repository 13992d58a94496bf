#!/usr/bin/perl
# SPDX-License-Identifier: Apache-2.0
# levqor-controld's HTTP API as a process: configuration file and
# environment, authentication, /ops/flags, errors (400/401/403/404/405/413,
# timeouts), levqorctl, SIGHUP (tokens and config), graceful SIGTERM.
use strict;
use warnings;

use lib 't/lib';
use Test::Levqor;
use Test::Levqor::Controld qw(promtool_check fake_http_server json_of);
use Test::Levqor::Util qw(slurp spew wait_until);
use IO::Socket::INET;
use Time::HiRes qw(time sleep);

my $FLAG_FILE_HEADER = "# levqor runtime flags, written by levqor-controld; do not edit by hand\n";

sub flags_text {
    my (%flags) = (SECURITY_HEADERS_ENABLED => 'off', RATELIMIT_ENABLED => 'off',
                   WEBHOOK_VERIFY_ALL => 'off', ABUSE_GUARDS_ENABLED => 'off',
                   NEW_QUEUE_ENABLED => 'off', @_);
    return $FLAG_FILE_HEADER . join '', map { "$_=$flags{$_}\n" }
        qw(SECURITY_HEADERS_ENABLED RATELIMIT_ENABLED WEBHOOK_VERIFY_ALL ABUSE_GUARDS_ENABLED NEW_QUEUE_ENABLED);
}

my $cd = Test::Levqor::Controld->new(
    config => {
        flags => { RATELIMIT_ENABLED => 'on', WEBHOOK_VERIFY_ALL => 'shadow' },
        http  => { max_body_bytes => 4096, read_timeout_ms => 500 },
        error_tracking => { environment => 'test' },
    },
    env => { RATELIMIT_ENABLED => 'shadow' },
);
$cd->start;

subtest 'start: the flags file holds the config, with the environment winning' => sub {
    is(slurp($cd->flags_file), flags_text(RATELIMIT_ENABLED => 'shadow', WEBHOOK_VERIFY_ALL => 'shadow'),
       'exact contents');
    is((stat $cd->flags_file)[2] & 07777, 0644, 'mode 0644');
    # Private files whatever the umask (this test runs with 022): the
    # runtime flags state and the queue's database (payloads may hold credentials).
    is((stat($cd->data_dir . '/flags.state'))[2] & 07777, 0600, 'flags.state 0600');
    for my $file (map { $cd->data_dir . "/queue.sqlite$_" } '', '-wal', '-shm') {
        is((stat $file)[2] & 07777, 0600, "$file 0600");
    }
    my @lines = $cd->log_lines;
    ok(!(grep { !defined } @lines), 'every log line is JSON');
    my ($listening) = grep { defined && $_->{msg} eq 'listening' } @lines;
    is($listening->{addr}, '127.0.0.1:' . $cd->port, 'logs the address');
    unlike($cd->log_text, qr/\Q${\ $cd->admin_token }\E|\Q${\ $cd->producer_token }\E/, 'no token in the log');
};

subtest 'GET /healthz and /metrics need no token' => sub {
    my $res = $cd->request('GET /healthz');
    is($res->{status}, 200, '/healthz 200');
    is(json_of($res)->{status}, 'ok', 'ok');
    $res = $cd->request('GET /metrics');
    is($res->{status}, 200, '/metrics 200');
    is($res->{headers}{'content-type'}, 'text/plain; version=0.0.4; charset=utf-8', 'exposition content type');
    my ($ok, $out) = promtool_check($res->{body});
    ok($ok, 'promtool check metrics') or diag $out;
    like($res->{body}, qr/^levqor_build_info\{version="\d+\.\d+\.\d+",nginx="[^"]+",git="[^"]+"\} 1$/m, 'build info');
};

subtest 'authentication: 401 without or with a bad token, 403 for the producer' => sub {
    my $res = $cd->request('GET /ops/flags');
    is($res->{status}, 401, 'no token: 401');
    is($res->{headers}{'content-type'}, 'application/json', 'JSON');
    is(json_of($res)->{error}, 'unauthorized', 'error code');
    is($res->{headers}{'www-authenticate'}, 'Bearer realm="levqor-controld"', 'WWW-Authenticate');

    $res = $cd->request('GET /ops/flags', token => 'not-a-valid-token-0123456789');
    is($res->{status}, 401, 'bad token: 401');
    like($res->{headers}{'www-authenticate'}, qr/error="invalid_token"/, 'invalid_token');

    $res = $cd->request('GET /ops/flags', more_headers => "Authorization: Basic " . $cd->admin_token . "\n");
    is($res->{status}, 401, 'another scheme: 401');

    for my $req ('GET /ops/flags', 'PUT /ops/flags') {
        $res = $cd->request($req, token => 'producer', ($req =~ /PUT/ ? (body => '{}') : ()));
        is($res->{status}, 403, "producer token, $req: 403");
        is(json_of($res)->{error}, 'forbidden', 'error code');
    }
    $res = $cd->request('GET /metrics');
    like($res->{body}, qr/^levqor_auth_failures_total\{reason="forbidden"\} 2$/m, 'failures counted by reason');
};

subtest 'GET /ops/flags' => sub {
    my $res = $cd->request('GET /ops/flags', token => 'admin');
    is($res->{status}, 200, 'status 200');
    is($res->{body}, '{"SECURITY_HEADERS_ENABLED":"off","RATELIMIT_ENABLED":"shadow","WEBHOOK_VERIFY_ALL":"shadow",'
                   . '"ABUSE_GUARDS_ENABLED":"off","NEW_QUEUE_ENABLED":"off"}', 'all five, in order');
    is($cd->request('HEAD /ops/flags', token => 'admin')->{status}, 200, 'HEAD');
};

subtest 'PUT /ops/flags changes some flags, answers all five, writes the file, audits' => sub {
    my $res = $cd->request('PUT /ops/flags', token => 'admin',
                           body => '{"SECURITY_HEADERS_ENABLED":"on","ABUSE_GUARDS_ENABLED":"shadow"}');
    is($res->{status}, 200, 'status 200');
    is_deeply(json_of($res), { SECURITY_HEADERS_ENABLED => 'on', RATELIMIT_ENABLED => 'shadow',
                               WEBHOOK_VERIFY_ALL => 'shadow', ABUSE_GUARDS_ENABLED => 'shadow',
                               NEW_QUEUE_ENABLED => 'off' }, 'the full new set');
    is(slurp($cd->flags_file), flags_text(SECURITY_HEADERS_ENABLED => 'on', RATELIMIT_ENABLED => 'shadow',
                                          WEBHOOK_VERIFY_ALL => 'shadow', ABUSE_GUARDS_ENABLED => 'shadow'),
       'the file');
    my $audit = $cd->wait_log(sub { $_[0]{msg} eq 'flags changed' });
    ok($audit && $audit->{audit}, 'an audit line');
    is($audit->{role}, 'admin', 'who: the role');
    is($audit->{remote}, '127.0.0.1', 'from where');
    is_deeply($audit->{changes}, { SECURITY_HEADERS_ENABLED => 'off -> on', ABUSE_GUARDS_ENABLED => 'off -> shadow' },
              'what: old -> new');
};

subtest 'bad PUT bodies: 400, nothing changed' => sub {
    my $before = slurp($cd->flags_file);
    my @cases = (
        ['{"RATELIMIT_ENABLED":"on","NO_SUCH_FLAG":"on"}', 'unknown_flag', qr/unknown flag "NO_SUCH_FLAG"/],
        ['{"RATELIMIT_ENABLED":"enabled"}', 'invalid_flag_value', qr/use "off", "shadow" or "on"/],
        ['{"RATELIMIT_ENABLED":1}', 'invalid_flag_value', qr/RATELIMIT_ENABLED/],
        ['{"RATELIMIT_ENABLED":"on"', 'invalid_json', qr/not valid JSON/],
        ['{"RATELIMIT_ENABLED":1e999}', 'invalid_json', qr/not valid JSON/],
        ['"on"', 'invalid_json', qr/must be a JSON object/],
    );
    for my $case (@cases) {
        my ($body, $code, $message) = @$case;
        my $res = $cd->request('PUT /ops/flags', token => 'admin', body => $body);
        is($res->{status}, 400, "$body: 400");
        is(json_of($res)->{error}, $code, "$body: $code");
        like(json_of($res)->{message}, $message, "$body: message");
    }
    is(slurp($cd->flags_file), $before, 'the file is unchanged');
    is(json_of($cd->request('GET /ops/flags', token => 'admin'))->{RATELIMIT_ENABLED}, 'shadow', 'the state is unchanged');
};

subtest 'errors: 404, 405, 413 as JSON' => sub {
    my $res = $cd->request('GET /ops/nothing', token => 'admin');
    is($res->{status}, 404, 'unknown route: 404');
    is_deeply(json_of($res), { error => 'not_found', message => 'no route for GET /ops/nothing' }, 'body');

    $res = $cd->request('PATCH /ops/flags', token => 'admin', body => '{}');
    is($res->{status}, 405, 'PATCH /ops/flags: 405');
    is($res->{headers}{allow}, 'GET, HEAD, PUT, OPTIONS', 'Allow');
    is(json_of($res)->{error}, 'method_not_allowed', 'error code');
    is($cd->request('POST /metrics')->{status}, 405, 'POST /metrics: 405');
    is($cd->request('DELETE /healthz')->{status}, 405, 'DELETE /healthz: 405');

    $res = $cd->request('PUT /ops/flags', token => 'admin', body => '{"x":"' . ('y' x 5000) . '"}');
    is($res->{status}, 413, 'a body over http.max_body_bytes: 413');
    is(json_of($res)->{error}, 'payload_too_large', 'error code');
};

subtest 'a client that stops sending is cut off after the read timeout' => sub {
    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1:' . $cd->port) or die "connect: $!";
    print {$sock} "PUT /ops/flags HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n"
        . "Authorization: Bearer " . $cd->admin_token . "\r\n\r\n{";
    my $start = time;
    $sock->blocking(1);
    my $got = '';
    while (time - $start < 5) {
        my $n = sysread($sock, my $buf, 4096);
        last unless $n;
        $got .= $buf;
    }
    my $took = time - $start;
    ok($took < 3, sprintf('connection ended after %.1f s (read timeout 0.5 s)', $took));
    unlike($got, qr{^HTTP/1\.1 200}, 'the truncated request was not applied');
    is(json_of($cd->request('GET /ops/flags', token => 'admin'))->{RATELIMIT_ENABLED}, 'shadow', 'state unchanged');
};

subtest 'levqorctl' => sub {
    my ($code, $out) = $cd->ctl('flags', 'get');
    is($code, 0, 'flags get: exit 0') or diag $out;
    like($out, qr/^FLAG\s+STATE\nSECURITY_HEADERS_ENABLED\s+on\nRATELIMIT_ENABLED\s+shadow\n/, 'a table');

    ($code, $out) = $cd->ctl('flags', 'set', 'NEW_QUEUE_ENABLED', 'shadow');
    is($code, 0, 'flags set: exit 0') or diag $out;
    like($out, qr/^NEW_QUEUE_ENABLED\s+shadow$/m, 'prints the new set');
    like(slurp($cd->flags_file), qr/^NEW_QUEUE_ENABLED=shadow$/m, 'the file follows');

    ($code, $out) = $cd->ctl('status');
    is($code, 0, 'status: exit 0') or diag $out;
    like($out, qr/^controld\s+\Q${\ $cd->url }\E\s+ok/m, 'health line');
    like($out, qr/^redis\s+not_configured$/m, 'dependencies');
    like($out, qr/^WEBHOOK_VERIFY_ALL\s+shadow$/m, 'flags');

    ($code, $out) = $cd->ctl('--json', 'flags', 'get');
    is($code, 0, '--json: exit 0');
    is(eval { JSON::PP->new->decode($out)->{NEW_QUEUE_ENABLED} }, 'shadow', '--json prints JSON');

    my $start = time;
    ($code, $out) = $cd->ctl('rollback');
    my $took = time - $start;
    is($code, 0, 'rollback: exit 0') or diag $out;
    like($out, qr/^rollback: every flag is off \(.*RATELIMIT_ENABLED shadow -> off.*\)$/m, 'says what changed');
    is(slurp($cd->flags_file), flags_text(), 'every flag off in the file');
    ok($took < 2, sprintf('one command, %.2f s', $took));

    ($code, $out) = $cd->ctl('flags', 'set', 'RATELIMIT', 'on');
    is($code, 2, 'unknown flag: exit 2');
    like($out, qr/unknown flag "RATELIMIT"; the flags are SECURITY_HEADERS_ENABLED/, 'lists the flags');
    ($code, $out) = $cd->ctl('flags', 'set', 'RATELIMIT_ENABLED', 'dry_run');
    is($code, 2, 'bad state: exit 2');
    ($code, $out) = $cd->ctl('flags');
    is($code, 2, 'flags without get/set: exit 2');

    ($code, $out) = run_cmd_env({ LEVQOR_TOKEN_FILE => '' }, Test::Levqor::Controld::ctl_binary(),
                                '--url', $cd->url, 'flags', 'get');
    is($code, 2, 'no token file: exit 2');
    like($out, qr/needs the admin token: pass --token-file FILE or set LEVQOR_TOKEN_FILE/, 'says how');

    ($code, $out) = run_cmd_env({ LEVQOR_TOKEN_FILE => $cd->token_file('admin'), LEVQOR_URL => $cd->url },
                                Test::Levqor::Controld::ctl_binary(), 'flags', 'get');
    is($code, 0, 'LEVQOR_TOKEN_FILE and LEVQOR_URL work') or diag $out;

    ($code, $out) = run_cmd_env({}, Test::Levqor::Controld::ctl_binary(), '--url', $cd->url,
                                '--token-file', $cd->token_file('producer'), 'rollback');
    is($code, 1, 'producer token: exit 1');
    like($out, qr/HTTP 403 forbidden/, 'says why');

    ($code, $out) = run_cmd_env({}, Test::Levqor::Controld::ctl_binary(), '--url', 'http://127.0.0.1:' . free_port(),
                                '--token-file', $cd->token_file('admin'), 'rollback');
    is($code, 1, 'unreachable: exit 1');
    like($out, qr/is levqor-controld running there\?/, 'says why');
};

subtest 'SIGHUP rotates the tokens' => sub {
    my $old = $cd->admin_token;
    my $new = 'admin-rotated-' . join '', map { sprintf '%02x', int rand 256 } 1 .. 16;
    spew($cd->token_file('admin'), "$new\n");
    $cd->hup;
    ok($cd->wait_log(sub { $_[0]{msg} eq 'configuration reloaded' }), 'logged the reload');
    is($cd->request('GET /ops/flags', token => $old)->{status}, 401, 'the old token: 401');
    is($cd->request('GET /ops/flags', token => $new)->{status}, 200, 'the new token: 200');
    $cd->write_token(admin => $new);

    # Two tokens in the file: both work during a rotation.
    my $next = 'admin-next-' . join '', map { sprintf '%02x', int rand 256 } 1 .. 16;
    spew($cd->token_file('admin'), "# rotating\n$new\n$next\n");
    $cd->hup;
    ok(wait_until(5, sub { $cd->request('GET /ops/flags', token => $next)->{status} == 200 }), 'the next token works');
    is($cd->request('GET /ops/flags', token => $new)->{status}, 200, 'the current one still does');

    # A broken file keeps the tokens that work.
    spew($cd->token_file('admin'), "short\n");
    $cd->hup;
    ok($cd->wait_log(sub { $_[0]{msg} =~ /cannot reload the token files; the previous tokens stay valid/ }),
       'the error is logged');
    is($cd->request('GET /ops/flags', token => $new)->{status}, 200, 'the previous token still works');
    spew($cd->token_file('admin'), "$new\n");
    unlike($cd->log_text, qr/\Q$new\E|\Q$next\E|\Q$old\E/, 'no token in the log');
};

subtest 'SIGHUP reloads the config; a bad one changes nothing' => sub {
    my ($proc, $port) = fake_http_server(body => "# TYPE levqor_fake_total counter\nlevqor_fake_total 3\n");
    my $config = { flags => { RATELIMIT_ENABLED => 'on' }, http => { max_body_bytes => 4096, read_timeout_ms => 500 },
                   nginx_status_urls => [{ name => 'fake', url => "http://127.0.0.1:$port/status" }] };
    my $failed_reloads = sub {
        scalar grep { defined && $_->{msg} =~ /^cannot reload the configuration; running on the previous one/ }
            $cd->log_lines;
    };
    # A number out of double's range once made controld exit on SIGHUP.
    for my $broken ('{"nginx_status_urls": [', '{"scrape_timeout_ms": 1e999}') {
        my $before = $failed_reloads->();
        $cd->set_config($broken);
        $cd->hup;
        ok(wait_until(5, sub { $failed_reloads->() > $before }), "$broken: reported");
        is($cd->request('GET /healthz')->{status}, 200, "$broken: still serving");
    }

    $cd->set_config($config);
    $cd->hup;
    ok(wait_until(5, sub { (json_of($cd->request('GET /healthz')) || {})->{checks}{nginx}{fake} }), 'the new instance is scraped');
    like($cd->request('GET /metrics')->{body}, qr/^levqor_fake_total\{instance="fake"\} 3$/m, 'its metrics are merged');
    is(json_of($cd->request('GET /ops/flags', token => 'admin'))->{RATELIMIT_ENABLED}, 'off',
       'runtime flags are not reset by a reload');
    ok($cd->wait_log(sub { $_[0]{msg} =~ /the configured flags changed; runtime flags are not reset/ }), 'and it says so');
    like($cd->request('GET /metrics')->{body}, qr/^levqor_config_reloads_total\{result="failure"\} [1-9]/m, 'failures counted');
    $proc->stop;
};

subtest 'SIGTERM lets a request in flight finish, then exits 0' => sub {
    my ($slow, $port) = fake_http_server(delay => 0.6, body => "levqor_slow 1\n");
    $cd->set_config({ nginx_status_urls => ["http://127.0.0.1:$port/s"], scrape_timeout_ms => 2000,
                      http => { max_body_bytes => 4096, read_timeout_ms => 500 } });
    $cd->hup;
    ok($cd->wait_log(sub { $_[0]{msg} eq 'configuration reloaded' && $_[0]{nginx_instances} == 1 }), 'reloaded');
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        my $res = Test::Levqor::HTTP::http_request(port => $cd->port, request => 'GET /metrics', timeout => 5);
        POSIX::_exit(($res->{status} // 0) == 200 && $res->{body} =~ /levqor_slow/ ? 0 : 1);
    }
    sleep 0.2;    # the request is waiting for the slow instance
    my $start = time;
    ok($cd->stop(3), 'exited on SIGTERM');
    my $took = time - $start;
    ok($took < 2, sprintf('within %.2f s', $took));
    is($cd->proc->exit_status >> 8, 0, 'exit status 0');
    waitpid($pid, 0);
    is($? >> 8, 0, 'the request in flight got its 200');
    ok($cd->wait_log(sub { $_[0]{msg} eq 'shutting down' && $_[0]{signal} eq 'SIGTERM' }), 'logged the signal');
    ok($cd->wait_log(sub { $_[0]{msg} eq 'stopped' }), 'logged the stop');
    $slow->stop;
};

subtest 'deeply nested JSON is refused with 400; controld stays up (review H1)' => sub {
    # The review's repro: ~600 KB nested 300,000 deep. The default body limit
    # (1 MiB) lets it through to the JSON reader, which used to crash controld
    # (a recursive copy of the payload, a recursive dump in PUT's error path).
    my $deep = Test::Levqor::Controld->new;
    $deep->start;
    my $pid = $deep->proc->pid;
    my $n = 300000;
    my $nest = ('[' x $n) . (']' x $n);
    my $res = $deep->request('POST /jobs', token => 'producer',
                             body => '{"type":"noop","payload":{"a":' . $nest . '}}');
    is($res->{status}, 400, 'POST /jobs: 400')
        or diag 'controld ' . ($deep->proc->wait_exit(2) ? $deep->proc->exit_text : 'is running');
    is((json_of($res) // {})->{error}, 'invalid_json', 'invalid_json');
    like((json_of($res) // {})->{message}, qr/nesting deeper than 64 levels/, 'says why');
    $res = $deep->request('PUT /ops/flags', token => 'admin', body => '{"RATELIMIT_ENABLED":' . $nest . '}');
    is($res->{status}, 400, 'PUT /ops/flags: 400');
    is((json_of($res) // {})->{error}, 'invalid_json', 'invalid_json');
    like((json_of($res) // {})->{message}, qr/the body is refused: \d+ bytes; the limit is 65536/, 'too large for a flag update');
    $res = $deep->request('PUT /ops/flags', token => 'admin',
                          body => '{"RATELIMIT_ENABLED":' . ('[' x 65) . (']' x 65) . '}');
    is($res->{status}, 400, 'PUT /ops/flags 65 deep: 400');
    like((json_of($res) // {})->{message}, qr/nesting deeper than 64 levels/, 'says why');
    is($deep->request('GET /healthz')->{status}, 200, 'controld still answers');
    ok(kill(0, $pid) && $deep->proc->pid == $pid, 'the same process');
    $res = $deep->request('POST /jobs', token => 'producer', body => '{"type":"noop","payload":{"a":[[[[1]]]]}}');
    is($res->{status}, 200, 'a shallow job is still accepted');
    $deep->stop;
};

# --- start-up errors --------------------------------------------------------

subtest 'bad configuration: exit 2 naming the setting' => sub {
    my @cases = (
        [{ config => { scrape_timout_ms => 100 } }, qr/unknown key \\?"scrape_timout_ms\\?" \(did you mean \\?"scrape_timeout_ms\\?"\?\)/],
        [{ config => { listen => 8089 } }, qr/\\?"listen\\?" = 8089 is invalid: expected a string/],
        [{ config => { flags => { RATELIMIT_ENABLED => 'yes' } } }, qr/flags\.RATELIMIT_ENABLED\\?" = \\?"yes\\?" is invalid/],
        [{ config => '{"listen": ' }, qr/is not valid JSON/],
        [{ env => { RATELIMIT_ENABLED => 'maybe' } }, qr/RATELIMIT_ENABLED=\\?"maybe\\?" is invalid: expected off, shadow or on/],
        [{ env => { LEVQOR_NGINX_STATUS_URLS => 'ftp://x/y' } }, qr/LEVQOR_NGINX_STATUS_URLS=\\?"ftp:\/\/x\/y\\?" is invalid: scheme must be http or https/],
        [{ env => { SENTRY_DSN => 'https://sentry.example.com/1' } }, qr/SENTRY_DSN=.* is invalid: missing the public key/],
        # The Redis URL grammar nginx reads too: its other forms are refused at start.
        [{ env => { REDIS_URL => 'redis://app@127.0.0.1:6379' } }, qr/REDIS_URL=.* is invalid: credentials without ':' in redis url \\?"redis:\/\/\*\*\*\@127\.0\.0\.1:6379\\?"/],
        [{ env => { REDIS_URL => 'redis-sentinel://127.0.0.1:26379/main' } }, qr/REDIS_URL=.* is invalid: redis-sentinel:\/\/ URLs are not supported by levqor-controld yet/],
        [{ config => { redis_url => 'unix:/run/redis.sock' } }, qr/redis_url\\?" = .* is invalid: unix: URLs are not supported by levqor-controld yet/],
    );
    for my $case (@cases) {
        my ($args, $expected) = @$case;
        my $bad = Test::Levqor::Controld->new(%$args);
        my ($code, $out) = $bad->run_once;
        is($code, 2, 'exit 2: ' . ($args->{env} ? join(',', %{ $args->{env} }) : JSON::PP->new->canonical->encode($args->{config} // '')));
        like($out, $expected, 'names it') or diag $out;
    }
    my $bad = Test::Levqor::Controld->new(tokens => 0);
    spew($bad->token_file('admin'), "short\n");
    chmod 0600, $bad->token_file('admin');
    my ($code, $out) = $bad->run_once;
    is($code, 2, 'an unusable token file: exit 2');
    like($out, qr/admin token file .*admin\.token: line 1: the token is shorter than 16 characters/, 'says why');
    unlike($out, qr/short\\n/, 'without echoing it');

    # A token file others can read is refused, not just warned about.
    $bad = Test::Levqor::Controld->new;
    chmod 0644, $bad->token_file('producer');
    ($code, $out) = $bad->run_once;
    is($code, 2, 'a token file readable by others: exit 2');
    like($out, qr/producer token file \S+producer\.token is readable or writable by group or others \(mode 0644\); run: chmod 600 \S+producer\.token/,
         'names the file and the fix') or diag $out;
};

subtest 'an unwritable flags file: exit 1' => sub {
    my $bad = Test::Levqor::Controld->new(env => { LEVQOR_FLAGS_FILE => '/dev/null/flags' });
    my ($code, $out) = $bad->run_once;
    is($code, 1, 'exit 1');
    like($out, qr{cannot .*/dev/null}, 'names the path') or diag $out;
};

subtest 'a missing token file disables its role' => sub {
    my $cd2 = Test::Levqor::Controld->new(tokens => 0);
    $cd2->start;
    my $res = $cd2->request('GET /ops/flags', token => 'admin-0123456789abcdef0123');
    is($res->{status}, 401, 'status 401');
    like(json_of($res)->{message}, qr/no admin token is configured/, 'says so');
    ok((grep { defined && $_->{msg} eq 'bearer tokens' && $_->{role} eq 'admin' && $_->{level} eq 'warn'
                 && $_->{status} =~ /does not exist; the admin role is disabled/ } $cd2->log_lines),
       'warned at start');
    $cd2->stop;
};

sub run_cmd_env {
    my ($env, @cmd) = @_;
    local @ENV{keys %$env} = values %$env;
    delete local $ENV{LEVQOR_TOKEN_FILE} unless exists $env->{LEVQOR_TOKEN_FILE};
    for (keys %$env) { delete $ENV{$_} if !length $env->{$_} }
    return Test::Levqor::Util::run_cmd(@cmd);
}

done_testing();
