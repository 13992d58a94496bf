# SPDX-License-Identifier: Apache-2.0
# Security headers: every directive, profiles, inheritance, statuses,
# upstream keep/replace, nonces, HSTS only over TLS, and config errors.
use strict;
use warnings;
use lib 't/lib';
use Test::Levqor;

# ---- the nonce: fresh per request, identical in header and body -----------
{
    my $ng = Test::Levqor::Nginx->new(config => <<'CONF');
levqor_headers on;
location /page {
    default_type text/html;
    return 200 "<script nonce=\"$levqor_csp_nonce\">1</script><script nonce=\"$levqor_csp_nonce\">2</script>";
}
CONF
    $ng->start;
    my %seen;
    for my $i (1 .. 20) {
        my $res = $ng->request('GET /page');
        my ($in_header) = ($res->{headers}{'content-security-policy'} // '') =~ /'nonce-([^']+)'/;
        my @in_body = $res->{body} =~ /nonce="([^"]+)"/g;
        ok(defined $in_header && $in_header =~ m{^[A-Za-z0-9+/]{22}==$}, "nonce $i is base64 of 128 bits");
        is_deeply(\@in_body, [$in_header, $in_header], "nonce $i: same value in header and both uses in the body");
        $seen{$in_header // ''}++;
    }
    is(scalar(keys %seen), 20, 'every request got a different nonce');
    $ng->stop;
    unlike($ng->error_log, qr/\[(alert|crit|emerg|error)\]/, 'no errors logged');
}

# ---- the shipped demo: the application renders the nonce, injected markup never gets it ----
#
# conf/nginx/demo.conf.in as scripts/run.sh fills it in, with one addition to
# its application server: a page that reflects a request header, as an
# application with an HTML-injection bug would. The edge must hand the nonce
# to the application (which writes it into its own template), and must never
# stamp it into a response body: an injected placeholder or SSI command comes
# back inert.

sub csp_nonce { (($_[0]{headers}{'content-security-policy'} // '') =~ /'nonce-([^']+)'/)[0] }

{
    my $run = Test::Levqor::Util::temp_dir('demo');
    mkdir "$run/$_" for qw(logs tmp);
    # The headers flag on (make run also turns the rate limit and webhook
    # flags on; off here: this block is about the headers alone).
    Test::Levqor::Util::spew("$run/flags", join "", map { "$_\n" } "SECURITY_HEADERS_ENABLED=on",
        map { "$_=off" } qw(RATELIMIT_ENABLED WEBHOOK_VERIFY_ALL ABUSE_GUARDS_ENABLED NEW_QUEUE_ENABLED));
    my ($edge, $app) = (free_port(), free_port());
    my $conf = Test::Levqor::Util::slurp(repo_root() . '/conf/nginx/demo.conf.in');
    # run.sh's two folders are one here (the temp dir is 0755); the pages are
    # copied in as run.sh does; the webhook location needs its secret file.
    system('cp', '-R', repo_root() . '/conf/demo', "$run/html") == 0 or die "cp conf/demo: $?";
    Test::Levqor::Util::spew("$run/webhook.secret", "demo-secret\n");
    chmod 0600, "$run/webhook.secret";
    my %fill = (MODULE => build_dir() . '/ngx_http_levqor_module.so', RUN => $run, WWW => $run, USER => '',
                HTTP_PORT => $edge, UPSTREAM_PORT => $app);
    $conf =~ s/@([A-Z_]+)@/$fill{$1} \/\/ "\@$1\@"/ge;
    unlike(join('', grep { !/^\s*#/ } split /^/, $conf), qr/@[A-Z_]+@/, 'demo: every placeholder filled in');
    ok($conf =~ s{^(\s*location /api/ \{ default_type application/json;.*\n)}
                 {$1        location /echo { default_type text/html; return 200 "<p>\$http_x_q</p>"; }\n}m,
       'demo: a reflecting page added to the application server');
    Test::Levqor::Util::spew("$run/nginx.conf", $conf);
    my $nginx = spawn_server(
        name  => 'demo-nginx',
        cmd   => ['/usr/sbin/nginx', '-p', "$run/", '-c', "$run/nginx.conf", '-e', "$run/logs/error.log"],
        ready => sub { http_request(port => $edge, request => 'GET /api/x', timeout => 1)->{status} },
    );
    my $page = http_request(port => $edge, request => 'GET /');
    my $nonce = csp_nonce($page);
    ok(defined $nonce && $nonce =~ m{^[A-Za-z0-9+/]{22}==$}, 'demo: the page has a CSP nonce') or diag($page->{raw});
    my @body_nonces = ($page->{body} // '') =~ /<script nonce="([^"]*)">/g;
    is_deeply(\@body_nonces, [$nonce], "demo: the application wrote the header's nonce into its inline script");
    like($page->{body}, qr/<script>\s*document\.body\.append/, 'demo: the second inline script has no nonce');

    my $forged = http_request(port => $edge, request => 'GET /', more_headers => "X-CSP-Nonce: forged\n");
    my ($forged_body_nonce) = ($forged->{body} // '') =~ /<script nonce="([^"]*)">/;
    is($forged_body_nonce, csp_nonce($forged), "demo: a client's own X-CSP-Nonce never reaches the application");

    my $injected = '<script nonce="__CSP_NONCE__">alert(1)</script>'
        . '<!--# echo var="levqor_csp_nonce" --><!--# echo var="http_x_csp_nonce" -->';
    my $echo = http_request(port => $edge, request => 'GET /echo', more_headers => "X-Q: $injected\n");
    my $echo_nonce = csp_nonce($echo);
    ok(defined $echo_nonce, 'demo: the reflecting page is under the strict CSP');
    is($echo->{body}, "<p>$injected</p>", 'demo: injected placeholders come back verbatim, never carrying the nonce');
    $nginx->stop(signal => 'QUIT');
    unlike(Test::Levqor::Util::slurp("$run/logs/error.log") // '', qr/\[(alert|crit|emerg)\]/,
           'demo: nothing alarming logged');
}

# ---- the shipped TLS example: SSI stamps the nonce into the docroot's own pages ----------

{
    my $dir = Test::Levqor::Util::temp_dir('tls-strict');
    mkdir "$dir/www";
    Test::Levqor::Util::spew("$dir/www/index.html",
        qq(<!doctype html><title>t</title><script nonce="<!--# echo var="levqor_csp_nonce" -->">1</script>\n));
    my $ng = Test::Levqor::Nginx->new(config => 'location /unused { return 204; }');
    my %fill = (SERVER_NAME => 'localhost', HTTP_LISTEN => '127.0.0.1:' . $ng->port2,
                HTTPS_LISTEN => '127.0.0.1:' . $ng->port3, TLS_CERT => $ng->cert_file,
                TLS_KEY => $ng->cert_key_file, DOCROOT => "$dir/www");
    my $conf = Test::Levqor::Util::slurp(repo_root() . '/conf/nginx/tls-strict.conf');
    $conf =~ s/@([A-Z_]+)@/$fill{$1} \/\/ "\@$1\@"/ge;
    unlike(join('', grep { !/^\s*#/ } split /^/, $conf), qr/@[A-Z_]+@/, 'tls-strict: every placeholder filled in');
    Test::Levqor::Util::spew("$dir/tls-strict.conf", $conf);
    $ng->configure(http_config => "include /etc/nginx/mime.types;\ninclude $dir/tls-strict.conf;");
    $ng->start;
    my @nonces;
    for (1 .. 2) {
        my $res = http_request(port => $ng->port3, tls => 1, request => 'GET /');
        is($res->{status}, 200, 'tls-strict: the page over HTTPS') or diag($res->{raw});
        my ($in_body) = ($res->{body} // '') =~ /<script nonce="([^"]*)">/;
        is($in_body, csp_nonce($res), "tls-strict: SSI wrote the header's nonce into the page");
        is($res->{headers}{'cache-control'}, 'no-store', 'tls-strict: the page is not cached');
        push @nonces, $in_body // '';
    }
    isnt($nonces[0], $nonces[1], 'tls-strict: a fresh nonce per request');
    $ng->stop;
    unlike($ng->error_log, qr/\[(alert|crit|emerg|error)\]/, 'tls-strict: no errors logged');
}

run_tests();

__DATA__

=== TEST 1: strict profile over plain HTTP: every header but HSTS
--- config
levqor_headers on;
location /t { empty_gif; }
--- request
GET /t
--- error_code: 200
--- response_headers
X-Frame-Options: DENY
X-Content-Type-Options: nosniff
Referrer-Policy: no-referrer
Cross-Origin-Opener-Policy: same-origin
Cross-Origin-Resource-Policy: same-origin
! Strict-Transport-Security
! Content-Security-Policy-Report-Only
--- response_headers_like
Content-Security-Policy: default-src 'none'; script-src 'nonce-[A-Za-z0-9+/]{22}==' 'strict-dynamic'; style-src 'self'; img-src 'self'; font-src 'self'; connect-src 'self'; manifest-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'
Permissions-Policy: accelerometer=\(\), autoplay=\(\), camera=\(\), .*usb=\(\), xr-spatial-tracking=\(\)
--- no_error_log
[error]

=== TEST 2: HSTS is sent over TLS only
--- config
levqor_headers on;
location /t { empty_gif; }
--- tls
--- request
GET /t
--- response_headers
Strict-Transport-Security: max-age=63072000; includeSubDomains
X-Frame-Options: DENY
--- no_error_log
[error]

=== TEST 3: off by default
--- config
location /t { empty_gif; }
--- request
GET /t
--- response_headers
! Content-Security-Policy
! X-Frame-Options
! X-Content-Type-Options
--- no_error_log
[error]

=== TEST 4: api profile: no nonce, no document-only headers
--- config
levqor_headers on;
levqor_headers_profile api;
location /t { empty_gif; }
--- tls
--- request
GET /t
--- response_headers
Content-Security-Policy: default-src 'none'; frame-ancestors 'none'
Strict-Transport-Security: max-age=63072000; includeSubDomains
X-Frame-Options: DENY
X-Content-Type-Options: nosniff
Referrer-Policy: no-referrer
Cross-Origin-Resource-Policy: same-origin
! Permissions-Policy
! Cross-Origin-Opener-Policy
--- no_error_log
[error]

=== TEST 5: relaxed profile reports CSP violations without enforcing
--- config
levqor_headers on;
levqor_headers_profile relaxed;
location /t { empty_gif; }
--- tls
--- request
GET /t
--- response_headers
Content-Security-Policy-Report-Only: default-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'self'
! Content-Security-Policy
Strict-Transport-Security: max-age=31536000
X-Frame-Options: SAMEORIGIN
Referrer-Policy: strict-origin-when-cross-origin
Permissions-Policy: camera=(), microphone=(), geolocation=(), payment=(), usb=()
! Cross-Origin-Opener-Policy
! Cross-Origin-Resource-Policy
--- no_error_log
[error]

=== TEST 6: inheritance: http enables, server picks a profile, location overrides one header
--- http_config
levqor_headers on;
levqor_frame_options SAMEORIGIN;
--- config
levqor_headers_profile api;
location /t {
    levqor_referrer_policy same-origin;
    empty_gif;
}
--- request
GET /t
--- response_headers
Content-Security-Policy: default-src 'none'; frame-ancestors 'none'
X-Frame-Options: SAMEORIGIN
Referrer-Policy: same-origin
--- no_error_log
[error]

=== TEST 7: a location turns headers off inside an enabled server
--- config
levqor_headers on;
location /t { levqor_headers off; empty_gif; }
--- request
GET /t
--- response_headers
! Content-Security-Policy
! X-Frame-Options
--- no_error_log
[error]

=== TEST 8: a location turns headers on inside a disabled server
--- http_config
levqor_headers off;
--- config
location /t { levqor_headers on; levqor_headers_profile api; empty_gif; }
location /u { empty_gif; }
--- request eval
["GET /t", "GET /u"]
--- response_headers eval
["X-Frame-Options: DENY", "! X-Frame-Options"]
--- no_error_log
[error]

=== TEST 9: redirects are decorated (301)
--- config
levqor_headers on;
levqor_headers_profile api;
location /old { return 301 /new; }
--- request
GET /old
--- error_code: 301
--- response_headers
X-Frame-Options: DENY
X-Content-Type-Options: nosniff
Location: http://localhost:$TEST_NGINX_SERVER_PORT/new
--- no_error_log
[error]

=== TEST 10: 404 from the static module is decorated
--- config
levqor_headers on;
levqor_headers_profile api;
location / { root $TEST_NGINX_HTML_DIR; }
--- request
GET /missing.html
--- error_code: 404
--- response_headers
X-Frame-Options: DENY
Content-Security-Policy: default-src 'none'; frame-ancestors 'none'
--- error_log
No such file or directory

=== TEST 11: 500 is decorated
--- config
levqor_headers on;
levqor_headers_profile api;
location /t { return 500; }
--- request
GET /t
--- error_code: 500
--- response_headers
X-Frame-Options: DENY
--- no_error_log
[error]

=== TEST 12: error_page internal redirect: headers once, from the final location
--- config
levqor_headers on;
levqor_headers_profile api;
error_page 404 = /fallback;
location /t { return 404; }
location /fallback { levqor_frame_options SAMEORIGIN; empty_gif; }
--- request
GET /t
--- error_code: 200
--- response_headers
X-Frame-Options: SAMEORIGIN
X-Content-Type-Options: nosniff
Content-Security-Policy: default-src 'none'; frame-ancestors 'none'
--- no_error_log
[error]

=== TEST 13: a malformed request gets a decorated 400 from nginx itself
--- config
levqor_headers on;
levqor_headers_profile api;
location / { empty_gif; }
--- raw_request eval
"GET /t HTTP/1.1\r\nHost: localhost\r\nBad Header\r\n\r\n"
--- error_code: 400
--- response_headers
X-Frame-Options: DENY
X-Content-Type-Options: nosniff
--- error_log
client sent invalid header line
--- no_error_log
[error]

=== TEST 14: HEAD responses carry the headers too
--- config
levqor_headers on;
levqor_headers_profile api;
location /t { empty_gif; }
--- request
HEAD /t
--- error_code: 200
--- response_headers
X-Frame-Options: DENY
--- no_error_log
[error]

=== TEST 15: upstream copies are replaced by default: one copy, levqor's
--- config
levqor_headers on;
levqor_headers_profile api;
location /t { proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend; }
location /backend {
    levqor_headers off;
    add_header X-Frame-Options SAMEORIGIN;
    add_header Content-Security-Policy "default-src *";
    add_header x-content-type-options nosniff;
    add_header X-App yes;
    empty_gif;
}
--- request
GET /t
--- response_headers
X-Frame-Options: DENY
Content-Security-Policy: default-src 'none'; frame-ancestors 'none'
X-Content-Type-Options: nosniff
X-App: yes
--- no_error_log
[error]

=== TEST 16: levqor_headers_upstream keep: the upstream's copy wins, still one copy
--- config
levqor_headers on;
levqor_headers_profile api;
levqor_headers_upstream keep;
location /t { proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend; }
location /backend {
    levqor_headers off;
    add_header X-Frame-Options SAMEORIGIN;
    add_header Content-Security-Policy "default-src *";
    empty_gif;
}
--- request
GET /t
--- response_headers
X-Frame-Options: SAMEORIGIN
Content-Security-Policy: default-src *
Referrer-Policy: no-referrer
--- no_error_log
[error]

=== TEST 17: an upstream 5xx is decorated
--- config
levqor_headers on;
levqor_headers_profile api;
location /t { proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend; }
location /backend { levqor_headers off; return 502; }
--- request
GET /t
--- error_code: 502
--- response_headers
X-Frame-Options: DENY
--- no_error_log
[error]

=== TEST 18: levqor_csp with the nonce, twice in one policy
--- config
levqor_headers on;
levqor_csp "script-src 'nonce-$levqor_csp_nonce'; style-src 'nonce-${levqor_csp_nonce}'";
location /t { empty_gif; }
--- request
GET /t
--- response_headers_like
Content-Security-Policy: script-src 'nonce-([A-Za-z0-9+/]{22}==)'; style-src 'nonce-\1'
--- no_error_log
[error]

=== TEST 19: levqor_csp report_only
--- config
levqor_headers on;
levqor_csp "default-src 'self'; report-uri /csp" report_only;
location /t { empty_gif; }
--- request
GET /t
--- response_headers
Content-Security-Policy-Report-Only: default-src 'self'; report-uri /csp
! Content-Security-Policy
--- no_error_log
[error]

=== TEST 20: levqor_csp off
--- config
levqor_headers on;
levqor_csp off;
location /t { empty_gif; }
--- request
GET /t
--- response_headers
! Content-Security-Policy
! Content-Security-Policy-Report-Only
X-Frame-Options: DENY
--- no_error_log
[error]

=== TEST 21: levqor_hsts with preload, and off
--- config
levqor_headers on;
levqor_hsts max_age=31536000 include_subdomains preload;
location /t { empty_gif; }
location /nohsts { levqor_hsts off; empty_gif; }
--- tls
--- request eval
["GET /t", "GET /nohsts"]
--- response_headers eval
["Strict-Transport-Security: max-age=31536000; includeSubDomains; preload", "! Strict-Transport-Security"]
--- no_error_log
[error]

=== TEST 22: frame options, referrer and permissions overrides and off
--- config
levqor_headers on;
location /t {
    levqor_frame_options off;
    levqor_referrer_policy "no-referrer, strict-origin-when-cross-origin";
    levqor_permissions_policy "camera=(), geolocation=(self \"https://maps.example\")";
    empty_gif;
}
location /u {
    levqor_referrer_policy off;
    levqor_permissions_policy off;
    empty_gif;
}
--- request eval
["GET /t", "GET /u"]
--- response_headers eval
["! X-Frame-Options\nReferrer-Policy: no-referrer, strict-origin-when-cross-origin\nPermissions-Policy: camera=(), geolocation=(self \"https://maps.example\")",
 "! Referrer-Policy\n! Permissions-Policy\nX-Frame-Options: DENY"]
--- no_error_log
[error]

=== TEST 23: subrequests are not decorated (counted once per request)
--- config
levqor_headers on;
levqor_headers_profile api;
location /page { ssi on; default_type text/html; root $TEST_NGINX_HTML_DIR; }
location /part { return 200 "part"; }
location /metrics { levqor_headers off; levqor_status; }
--- user_files
>>> page/index.html
a<!--# include virtual="/part" -->b<!--# include virtual="/part" -->c
--- request eval
["GET /page/index.html", "GET /metrics"]
--- response_body_like eval
["^apartbpartc\$", "levqor_headers_responses_total\\{profile=\"api\"\\} 1\\n"]
--- no_error_log
[error]

=== TEST 24: subrequests share the main request's nonce
--- config
levqor_headers on;
location /page { ssi on; default_type text/html; root $TEST_NGINX_HTML_DIR; }
location /part { levqor_headers off; return 200 "[$levqor_csp_nonce]"; }
--- user_files
>>> page/index.html
<!--# include virtual="/part" -->
--- request
GET /page/index.html
--- response_body_like
^\[[A-Za-z0-9+/]{22}==\]$
--- no_error_log
[error]

=== TEST 25: no nonce work when nothing uses it
--- config
levqor_headers on;
levqor_headers_profile api;
location /t { empty_gif; }
location /metrics { levqor_headers off; levqor_status; }
--- request eval
["GET /t", "GET /t", "GET /metrics"]
--- response_body_like eval
["", "", "levqor_csp_nonces_total 0\\n"]
--- no_error_log
[error]

=== TEST 27: unknown profile fails nginx -t naming the value
--- config
levqor_headers_profile paranoid;
--- must_die
"levqor_headers_profile" directive unknown profile "paranoid", expected strict, api or relaxed

=== TEST 28: empty CSP fails nginx -t
--- config
levqor_csp "";
--- must_die
"levqor_csp" directive empty policy ""

=== TEST 29: other variables in a CSP are refused
--- config
levqor_csp "default-src $host";
--- must_die
"levqor_csp" directive only $levqor_csp_nonce may be used in a policy, found "$host"

=== TEST 30: bad max_age
--- config
levqor_hsts max_age=two_years;
--- must_die
"levqor_hsts" directive invalid max_age "max_age=two_years"

=== TEST 31: preload without include_subdomains
--- config
levqor_hsts max_age=63072000 preload;
--- must_die
"levqor_hsts" directive "preload" needs include_subdomains

=== TEST 32: bad frame options
--- config
levqor_frame_options ALLOW-FROM;
--- must_die
"levqor_frame_options" directive invalid value "ALLOW-FROM", expected DENY, SAMEORIGIN or off

=== TEST 33: bad referrer policy
--- config
levqor_referrer_policy never;
--- must_die
"levqor_referrer_policy" directive invalid value "never"

=== TEST 34: Feature-Policy syntax in levqor_permissions_policy
--- config
levqor_permissions_policy "camera 'none'";
--- must_die
"levqor_permissions_policy" directive invalid member "camera 'none'"

=== TEST 35: levqor_headers takes on or off
--- config
levqor_headers yes;
--- must_die
"levqor_headers" directive invalid value "yes", expected on or off

=== TEST 36: levqor_headers_upstream value
--- config
levqor_headers_upstream merge;
--- must_die
"levqor_headers_upstream" directive invalid value "merge", expected keep or replace

=== TEST 37: a directive given twice at one level
--- config
levqor_headers on;
levqor_headers off;
--- must_die
"levqor_headers" directive is duplicate

=== TEST 38: a directive in the wrong context
--- main_config
levqor_headers on;
--- must_die
"levqor_headers" directive is not allowed here

=== TEST 40: levqor_csp second parameter must be report_only
--- config
levqor_csp "default-src 'self'" enforce;
--- must_die
"levqor_csp" directive invalid parameter "enforce", expected report_only
