# SPDX-License-Identifier: Apache-2.0
# Self-test of the Test::Levqor runner (t/lib/Test/Levqor.pm), using plain
# nginx features only. Passes with and without LEVQOR_TEST_NO_MODULE=1.
use strict;
use warnings;
use lib 't/lib';
use Test::Levqor;
use IO::Socket::INET;
use Test::Levqor::Util qw(temp_dir spew run_cmd);

# --- the programmatic API ------------------------------------------------

# A tiny chunked HTTP backend, started like a suite would start redis.
my $backend_port = free_port();
$ENV{TEST_NGINX_BACKEND_PORT} = $backend_port;    # usable as $TEST_NGINX_BACKEND_PORT below
my $backend = spawn_server(
    name  => 'chunked-backend',
    cmd   => [$^X, '-MIO::Socket::INET', '-e', <<'PERL', $backend_port],
        my $srv = IO::Socket::INET->new(LocalAddr => "127.0.0.1:$ARGV[0]", Listen => 16, ReuseAddr => 1)
            or die "listen: $!";
        while (my $c = $srv->accept) {
            my $req = '';
            while ($req !~ /\r\n\r\n/) { sysread($c, $req, 4096, length $req) or last }
            next unless length $req;
            print {$c} "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Backend: yes\r\nConnection: close\r\n\r\n",
                       "6\r\nhello \r\n", "8\r\nchunked \r\n", "6\r\nworld\n\r\n", "0\r\n\r\n";
            close $c;
        }
PERL
    ready => sub { IO::Socket::INET->new(PeerAddr => "127.0.0.1:$backend_port") },
);
ok($backend->pid, 'spawn_server returns a running server');

my $direct = http_request(port => $backend_port, request => 'GET /direct', timeout => 3);
is($direct->{status}, 200, 'http_request: status from a chunked backend');
is($direct->{body}, "hello chunked world\n", 'http_request: chunked body is decoded');
is($direct->{headers}{'x-backend'}, 'yes', 'http_request: headers are keyed by lower-case name');
is_deeply($direct->{header_list}[1], ['X-Backend', 'yes'], 'http_request: header_list keeps order and case');

my $refused = http_request(port => free_port(), request => 'GET /', timeout => 1);
ok(!defined $refused->{status} && $refused->{error} =~ /connect/, 'http_request: a refused connection is an error, not a die');

my $ng = Test::Levqor::Nginx->new(
    master => 1, workers => 2,
    config => 'location / { return 200 "generation 1\n"; }',
);
$ng->start;
is($ng->request('GET /')->{body}, "generation 1\n", 'Nginx: serves its config');
is($ng->request('GET /', tls => 1)->{body}, "generation 1\n", 'Nginx: serves TLS on ssl_port');
my @workers = $ng->worker_pids;
is(scalar @workers, 2, 'Nginx: master with 2 workers');
ok($ng->reload(config => 'location / { return 200 "generation 2\n"; }'), 'Nginx: reload completes')
    or diag($ng->last_error);
is($ng->request('GET /')->{body}, "generation 2\n", 'Nginx: new config after reload');
ok(!grep({ my $w = $_; grep { $_ == $w } $ng->worker_pids } @workers), 'Nginx: reload replaced the workers');
ok(!$ng->reload(config => 'location / { no_such_directive_in_harness; }'), 'Nginx: a rejected reload returns false');
like($ng->last_error, qr/unknown directive/, 'Nginx: last_error says why the reload failed');
is($ng->request('GET /')->{body}, "generation 2\n", 'Nginx: the old config still serves after a rejected reload');
like($ng->error_log, qr/reconfiguring/, 'Nginx: error_log returns the log text');
my $kept = $ng->request('GET /', more_headers => "Connection: keep-alive\n", keep_open => 1);
is($kept->{body}, "generation 2\n", 'http_request keep_open: the response');
my $conn = $kept->{connection};
print {$conn} "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
my $second = do { local $/; <$conn> };
like($second // '', qr{\AHTTP/1\.1 200 .*generation 2\n\z}s, 'http_request keep_open: the connection serves another request');
ok($ng->stop, 'Nginx: graceful stop');
ok(!$ng->is_running, 'Nginx: not running after stop');

# --- the runner's rule: a block that starts nginx asserts its error log ----

{
    my $suite = temp_dir('rule') . '/block_without_log_check.t';
    spew($suite, <<"SUITE");
use lib '@{[ repo_root() ]}/t/lib';
use Test::Levqor;
run_tests();
__DATA__

=== TEST 1: a block that says nothing about its error log
--- config
location /t { return 204; }
--- request
GET /t
--- error_code: 204
SUITE
    my ($code, $out) = run_cmd($^X, $suite);
    isnt($code, 0, 'runner: a block with neither error_log nor no_error_log fails its suite');
    like($out, qr/^not ok \d+ - TEST 1: a block that says nothing about its error log - asserts its error log\n/m,
         'runner: the failure names the block and the rule') or diag $out;
    like($out, qr/^ok \d+ - TEST 1: .* - status\n/m, 'runner: the block\'s other checks still run') or diag $out;
}

# --- the block format ------------------------------------------------------

master_on();
workers(2);
run_tests();

$backend->stop;

__DATA__

=== TEST 1: empty_gif, status and exact headers
--- config
location /t { empty_gif; }
--- request
GET /t
--- error_code: 200
--- response_headers
Content-Type: image/gif
Content-Length: 43
! X-Frame-Options
--- no_error_log
[error]



=== TEST 2: return with an exact body; headers_like is anchored
--- config
location /hello { return 200 "hello\n"; }
--- request
GET /hello
--- error_code: 200
--- response_body
hello
--- response_headers_like
Server: nginx/[\d.]+
Content-Length: \d
--- no_error_log
[error]



=== TEST 3: add_header, and "! Name" for an absent header
--- config
location /h {
    add_header X-Frame-Options DENY always;
    return 204;
}
--- request
GET /h
--- error_code: 204
--- response_headers
X-Frame-Options: DENY
! Server-Timing
--- response_body eval
""
--- no_error_log
[error]



=== TEST 4: a duplicated header is joined as "a, b"
--- config
location /dup {
    add_header X-Dup a;
    add_header X-Dup b;
    return 200 "dup\n";
}
--- request
GET /dup
--- response_headers
X-Dup: a, b
--- no_error_log
[error]



=== TEST 5: proxy_pass to a second location on the same server
--- config
location /front { proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/back; }
location /back  { return 200 "from back via $http_host\n"; }
--- request
GET /front
--- error_code: 200
--- response_body
from back via 127.0.0.1:$TEST_NGINX_SERVER_PORT
--- no_error_log
[error]



=== TEST 6: chunked response through nginx, backend port from a suite's own TEST_NGINX_* variable
--- config
location /chunked {
    proxy_http_version 1.1;
    proxy_pass http://127.0.0.1:$TEST_NGINX_BACKEND_PORT;
}
--- request
GET /chunked
--- response_headers
Transfer-Encoding: chunked
X-Backend: yes
--- response_body
hello chunked world
--- no_error_log
[error]



=== TEST 7: request eval with one expectation per request
--- config
location = /a { return 200 "a\n"; }
location = /b { return 404; }
--- request eval
["GET /a", "GET /b", "HEAD /a"]
--- error_code eval
[200, 404, 200]
--- response_body_like eval
["^a\n\$", "404 Not Found", "^\$"]
--- response_headers
! X-Nothing
--- no_error_log
[error]



=== TEST 8: TLS on $TEST_NGINX_SERVER_SSL_PORT
--- config
location /tls { return 200 "$scheme $ssl_server_name\n"; }
--- tls
--- request
GET /tls
--- response_body
https localhost
--- no_error_log
[error]



=== TEST 9: user_files and a static file
--- config
location / { root $TEST_NGINX_HTML_DIR; }
--- user_files
>>> index.html
<p>static</p>
>>> sub/dir/data.txt
data
--- request eval
["GET /index.html", "GET /sub/dir/data.txt"]
--- response_body eval
["<p>static</p>\n", "data\n"]
--- response_headers eval
["Content-Type: text/html", "Content-Type: text/plain"]
--- no_error_log
[error]



=== TEST 10: request body, more_headers and Content-Length
--- config
location /echo { return 200 "len=$http_content_length x=$http_x_test host=$host\n"; }
--- request
POST /echo
hello
--- more_headers
X-Test: foo
Host: example.test
--- response_body
len=5 x=foo host=example.test
--- no_error_log
[error]



=== TEST 11: raw_request over HTTP/1.0, read until close
--- config
location /raw { return 200 "raw $server_protocol\n"; }
--- raw_request eval
"GET /raw HTTP/1.0\r\n\r\n"
--- error_code: 200
--- response_body
raw HTTP/1.0
--- no_error_log
[error]



=== TEST 12: error_log and no_error_log, substring and qr//
--- config
location / { root $TEST_NGINX_HTML_DIR; }
--- request
GET /missing.txt
--- error_code: 404
--- wait: 0.1
--- error_log
No such file or directory
qr/open\(\) ".*missing\.txt" failed/
--- no_error_log
[alert]
[emerg]



=== TEST 13: log_level debug
--- log_level: debug
--- config
location /d { return 200; }
--- request
GET /d
--- error_log
http finalize request



=== TEST 14: must_die for an invalid directive
--- config
location / { levqor_harness_no_such_directive on; }
--- must_die
unknown directive "levqor_harness_no_such_directive"



=== TEST 15: main_config and http_config
--- main_config
env LEVQOR_HARNESS;
--- http_config
map $uri $harness_kind { default other; /m mapped; }
--- config
location /m { return 200 "$harness_kind\n"; }
--- request
GET /m
--- response_body
mapped
--- no_error_log
[error]
