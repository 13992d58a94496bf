# SPDX-License-Identifier: Apache-2.0
# Webhook signatures: every provider against valid, tampered, wrong-secret,
# stale, future, missing and duplicate-header deliveries and secret rotation
# (one nginx, a matrix); then one behaviour per block: replay, log_only,
# tolerance, temp-file and chunked bodies, empty bodies, GET, Expect:
# 100-continue, HTTP/2, inheritance, metrics, and configuration errors.
#
# The upstream is a small Perl server that answers "len=<n> sha256=<hex>" of
# the body it received, so every accepted delivery is checked byte for byte.
use strict;
use warnings;
use lib 't/lib';
use Test::Levqor;
use Digest::SHA qw(hmac_sha256 hmac_sha256_hex hmac_sha512 sha256_hex);
use File::Temp qw(tempdir);
use IO::Socket::INET;
use MIME::Base64 qw(encode_base64 decode_base64);

# ---- secrets --------------------------------------------------------------------

my $SECRETS = tempdir('levqor-wh-XXXXXX', TMPDIR => 1, CLEANUP => 1);
$ENV{TEST_NGINX_SECRETS} = $SECRETS;

sub write_file {
    my ($path, $content) = @_;
    open(my $fh, '>:raw', $path) or die "$path: $!";
    print {$fh} $content;
    close $fh;
}

sub random_text { join '', map { ('a' .. 'z', 'A' .. 'Z', '0' .. '9')[rand 62] } 1 .. $_[0] }

sub openssl_out {
    my (@cmd) = @_;
    open(my $p, '-|', 'openssl', @cmd) or die "openssl: $!";
    binmode $p;
    local $/;
    my $out = <$p>;
    close $p or die "openssl @cmd failed";
    return $out;
}

# Ed25519 key pairs for Discord, made with the openssl command.
sub ed25519_key {
    my ($name) = @_;
    my $pem = "$SECRETS/$name.pem";
    system('openssl', 'genpkey', '-algorithm', 'ed25519', '-out', $pem) == 0 or die 'openssl genpkey failed';
    my $der = openssl_out('pkey', '-in', $pem, '-pubout', '-outform', 'DER');
    return { pem => $pem, public_hex => unpack('H*', substr($der, -32)) };
}

sub ed25519_sign_hex {
    my ($pem, $message) = @_;
    my $msg = "$SECRETS/message.bin";
    write_file($msg, $message);
    return unpack('H*', openssl_out('pkeyutl', '-sign', '-inkey', $pem, '-rawin', '-in', $msg));
}

my @PROVIDERS = qw(stripe slack github notion shopify standard paddle discord telegram generic);
my %HAS_TIMESTAMP = map { $_ => 1 } qw(stripe slack standard paddle discord);
my %SIGNATURE_HEADER = (
    stripe => 'Stripe-Signature', slack => 'X-Slack-Signature', github => 'X-Hub-Signature-256',
    notion => 'X-Notion-Signature', shopify => 'X-Shopify-Hmac-Sha256', standard => 'webhook-signature',
    paddle => 'Paddle-Signature', discord => 'X-Signature-Ed25519', telegram => 'X-Telegram-Bot-Api-Secret-Token',
    generic => 'X-Signature',
);

# %KEY{provider}{current|old|wrong}: what the signer uses; the first two are
# configured (rotation), the third never is.
my %KEY;
for my $p (@PROVIDERS) {
    for my $which (qw(current old wrong)) {
        my $key;
        if ($p eq 'stripe') { $key = 'whsec_' . random_text(32) }
        elsif ($p eq 'standard') { $key = 'whsec_' . encode_base64(random_text(24), '') }
        elsif ($p eq 'discord') { $key = ed25519_key("discord-$which") }
        elsif ($p eq 'paddle') { $key = 'pdl_ntfset_01' . random_text(24) . '_' . random_text(32) }
        else { $key = random_text(32) }
        $KEY{$p}{$which} = $key;
        my $text = $p eq 'discord' ? $key->{public_hex} : $key;
        write_file("$SECRETS/$p.$which", "$text\n");
    }
}

# The headers of a delivery, as more_headers text. Options: body, key (one of
# %KEY's values), t (timestamp), id.
sub sign {
    my ($p, %o) = @_;
    my $body = $o{body} // '';
    my $key = $o{key} // $KEY{$p}{current};
    my $t = $o{t} // time;
    my $id = $o{id} // 'msg_' . random_text(12);
    return "Stripe-Signature: t=$t,v1=" . hmac_sha256_hex("$t.$body", $key) if $p eq 'stripe';
    return "X-Slack-Request-Timestamp: $t\nX-Slack-Signature: v0=" . hmac_sha256_hex("v0:$t:$body", $key)
        if $p eq 'slack';
    return "X-GitHub-Delivery: $id\nX-Hub-Signature-256: sha256=" . hmac_sha256_hex($body, $key) if $p eq 'github';
    return "X-Notion-Signature: sha256=" . hmac_sha256_hex($body, $key) if $p eq 'notion';
    return "X-Shopify-Webhook-Id: $id\nX-Shopify-Hmac-Sha256: " . encode_base64(hmac_sha256($body, $key), '')
        if $p eq 'shopify';
    if ($p eq 'standard') {
        my $raw = decode_base64(substr($key, 6));
        return "webhook-id: $id\nwebhook-timestamp: $t\nwebhook-signature: v1,"
            . encode_base64(hmac_sha256("$id.$t.$body", $raw), '');
    }
    return "Paddle-Signature: ts=$t;h1=" . hmac_sha256_hex("$t:$body", $key) if $p eq 'paddle';
    return "X-Signature-Timestamp: $t\nX-Signature-Ed25519: " . ed25519_sign_hex($key->{pem}, "$t$body")
        if $p eq 'discord';
    return "X-Telegram-Bot-Api-Secret-Token: $key" if $p eq 'telegram';
    return "X-Signature: sha512=" . encode_base64(hmac_sha512($body, $key), '') if $p eq 'generic';
    die "unknown provider $p";
}

sub without_header { my ($headers, $name) = @_; join "\n", grep { !/^\Q$name\E:/i } split /\n/, $headers }
sub doubled_header {
    my ($headers, $name) = @_;
    my ($line) = grep { /^\Q$name\E:/i } split /\n/, $headers;
    return "$headers\n$line";
}

# 1 MB of printable bytes (made once).
my $BIG;
sub big_body { $BIG //= join('', map { chr(33 + $_ % 90) } 1 .. 1048576) }

# What the echo upstream answers for a body.
sub echoed { my ($body) = @_; 'len=' . length($body) . ' sha256=' . sha256_hex($body) . "\n" }

# ---- the echo upstream ----------------------------------------------------------------

my $echo_port = free_port();
$ENV{TEST_NGINX_ECHO_PORT} = $echo_port;
my $echo = spawn_server(
    name  => 'echo-upstream',
    cmd   => [$^X, '-MIO::Socket::INET', '-MDigest::SHA=sha256_hex', '-e', <<'PERL', $echo_port],
        my $srv = IO::Socket::INET->new(LocalAddr => "127.0.0.1:$ARGV[0]", Listen => 64, ReuseAddr => 1)
            or die "listen: $!";
        while (my $c = $srv->accept) {
            my $buf = '';
            while ($buf !~ /\r\n\r\n/) { sysread($c, $buf, 65536, length $buf) or last }
            my ($head, $body) = split /\r\n\r\n/, $buf, 2;
            next unless defined $head;
            $body //= '';
            my ($len) = $head =~ /^Content-Length:\s*(\d+)/mi;
            while (length $body < ($len // 0)) { sysread($c, $body, 65536, length $body) or last }
            my ($status) = $head =~ m{^\S+ /status/(\d{3})};
            my $out = 'len=' . length($body) . ' sha256=' . sha256_hex($body) . "\n";
            print {$c} 'HTTP/1.1 ' . ($status // 200) . " X\r\nContent-Type: text/plain\r\nContent-Length: "
                . length($out) . "\r\nConnection: close\r\n\r\n$out";
            close $c;
        }
PERL
    ready => sub { IO::Socket::INET->new(PeerAddr => "127.0.0.1:$echo_port") },
);

# One location per provider, each with its current and old secret.
sub provider_locations {
    my (%extra) = @_;
    my $conf = '';
    for my $p (@PROVIDERS) {
        my $secrets = "secret_file=$SECRETS/$p.current secret_file=$SECRETS/$p.old";
        my $directive = $p eq 'generic'
            ? "levqor_webhook_generic header=X-Signature algorithm=sha512 encoding=base64 prefix=sha512= $secrets"
            : "levqor_webhook $p $secrets";
        $conf .= "location /p/$p { $directive" . ($extra{$p} // '') . "; "
            . "add_header X-Webhook-Status \$levqor_webhook_status always; proxy_pass http://echo; }\n";
    }
    return $conf;
}
our $HTTP = "upstream echo { server 127.0.0.1:$echo_port; }\nlevqor_webhook_replay_zone replay:1m;\n";
our $LOCATIONS = provider_locations(github => ' replay=replay');

# ---- the matrix: every provider, every case -------------------------------------------

{
    my $ng = Test::Levqor::Nginx->new(http_config => $HTTP, config => $LOCATIONS);
    $ng->start;
    my $all_log = '';
    my $body = qq({"type":"ping","text":"h\xc3\xa9llo\\n","n":1}\n);
    for my $p (@PROVIDERS) {
        my $sig = $SIGNATURE_HEADER{$p};
        my $now = time;
        my @cases = (
            ['valid', sign($p, body => $body), 200, 'VALID'],
            ['rotation: the old secret', sign($p, body => $body, key => $KEY{$p}{old}), 200, 'VALID'],
            ['wrong secret', sign($p, body => $body, key => $KEY{$p}{wrong}), 401, 'INVALID', 'signature mismatch'],
            ["missing $sig", without_header(sign($p, body => $body), $sig), 401, 'MISSING',
             qq(missing header "$sig")],
            ["duplicate $sig", doubled_header(sign($p, body => $body), $sig), 401, 'INVALID',
             qq(duplicate header "$sig")],
        );
        if ($p ne 'telegram') {  # Telegram's token does not cover the body
            push @cases, ['tampered body', sign($p, body => $body), 401, 'INVALID', 'signature mismatch',
                          $body =~ s/ping/pong/r];
        }
        if ($HAS_TIMESTAMP{$p}) {
            push @cases, ['stale timestamp', sign($p, body => $body, t => $now - 400), 401, 'STALE',
                          qr/stale timestamp \d+ \(\d+ s old, tolerance 300 s\)/];
            push @cases, ['future timestamp', sign($p, body => $body, t => $now + 400), 401, 'STALE',
                          qr/timestamp \d+ is \d+ s in the future \(tolerance 300 s\)/];
        }
        for my $case (@cases) {
            my ($name, $headers, $code, $status, $log, $sent) = @$case;
            $sent //= $body;
            $ng->truncate_error_log;
            my $res = $ng->request("POST /p/$p", body => $sent, more_headers => $headers);
            is($res->{status}, $code, "$p, $name: status $code") or diag($res->{raw});
            is($res->{headers}{'x-webhook-status'}, $status, "$p, $name: \$levqor_webhook_status $status");
            if ($code == 200) {
                is($res->{body}, echoed($sent), "$p, $name: the upstream got the body byte for byte");
            } else {
                is($res->{body}, qq({"error":"invalid_signature","provider":"$p"}), "$p, $name: JSON body");
                is($res->{headers}{'content-type'}, 'application/json', "$p, $name: Content-Type");
            }
            my $text = $ng->error_log;
            $all_log .= $text;
            if (defined $log) {
                my $re = ref $log ? $log : qr/\Q$log\E/;
                like($text, qr/\[error\].*levqor_webhook: $p delivery refused: .*$re/, "$p, $name: the log says why");
            } else {
                unlike($text, qr/\[(error|warn)\]/, "$p, $name: nothing logged");
            }
        }
    }
    $ng->stop;
    # Never a secret, never the signature the delivery should have carried.
    my @never;
    for my $p (@PROVIDERS) {
        for my $which (qw(current old wrong)) {
            my $k = $KEY{$p}{$which};
            push @never, ref $k ? $k->{public_hex} : $k;
        }
        push @never, grep { length > 20 } map { (split /[:=,\s]+/)[-1] } split /\n/,
            sign($p, body => $body =~ s/ping/pong/r);
    }
    my @leaked = grep { index($all_log, $_) >= 0 } @never;
    is_deeply(\@leaked, [], 'the error log never holds a secret or an expected signature');
}

# ---- replay protection across a reload (master + 2 workers) ------------------------------

{
    my $ng = Test::Levqor::Nginx->new(master => 1, workers => 2, http_config => $HTTP, config => $LOCATIONS);
    $ng->start;
    my $headers = sign('github', body => '{}', id => 'delivery-reload');
    is($ng->request('POST /p/github', body => '{}', more_headers => $headers)->{status}, 200, 'replay: first delivery');
    ok($ng->reload, 'reload with the same replay zone') or diag($ng->last_error);
    my $res = $ng->request('POST /p/github', body => '{}', more_headers => $headers);
    is($res->{status}, 401, 'replay: still refused after the reload');
    is($res->{headers}{'x-webhook-status'}, 'REPLAY', 'replay: $levqor_webhook_status');
    $ng->stop;
}

# ---- how long a delivery stays a replay (one sleep for all three) ------------------------
#
# /fresh: Standard Webhooks, tolerance=2, stamped 2 s ahead: it stays acceptable
# until its timestamp + 2 s, so 3 s later (still fresh) the copy must find its
# entry. /github: no timestamp, a short tolerance (which has no effect there):
# the default 24 h window still holds it. /window: replay_window=1s lapses.

{
    my $dir = $SECRETS;
    my $ng = Test::Levqor::Nginx->new(http_config => $HTTP, config => <<"CONF");
location /fresh { levqor_webhook standard secret_file=$dir/standard.current tolerance=2 replay=replay;
  add_header X-Webhook-Status \$levqor_webhook_status always; proxy_pass http://echo; }
location /github { levqor_webhook github secret_file=$dir/github.current tolerance=1 replay=replay;
  add_header X-Webhook-Status \$levqor_webhook_status always; proxy_pass http://echo; }
location /window { levqor_webhook github secret_file=$dir/github.current replay=replay replay_window=1s;
  add_header X-Webhook-Status \$levqor_webhook_status always; proxy_pass http://echo; }
location /archive { levqor_webhook stripe secret_file=$dir/stripe.current tolerance=off replay=replay;
  proxy_pass http://echo; }
CONF
    $ng->start;
    like($ng->error_log, qr/\[warn\].*levqor_webhook: github deliveries carry no timestamp: tolerance= has no effect \(a delivery is remembered for replay_window=, 86400 s\)/,
         'tolerance= on a scheme without timestamps: nginx warns that it has no effect');
    like($ng->error_log, qr/\[notice\].*levqor_webhook: stripe with tolerance=off: a delivery is remembered for replay_window=, 86400 s/,
         'tolerance=off with replay=: nginx notes how long deliveries are remembered');
    my %sent = (
        '/fresh'  => sign('standard', body => '{"f":1}', t => time + 2),
        '/github' => sign('github', body => '{"g":1}', id => 'd-window-default'),
        '/window' => sign('github', body => '{"w":1}', id => 'd-window-1s'),
    );
    my %body = ('/fresh' => '{"f":1}', '/github' => '{"g":1}', '/window' => '{"w":1}');
    for my $path (sort keys %sent) {
        my $res = $ng->request("POST $path", body => $body{$path}, more_headers => $sent{$path});
        is($res->{status}, 200, "$path: the first delivery passes") or diag($res->{raw});
    }
    sleep 3;
    my $fresh = $ng->request('POST /fresh', body => $body{'/fresh'}, more_headers => $sent{'/fresh'});
    is($fresh->{status}, 401, 'a delivery stamped in the future is still a replay while it is fresh');
    is($fresh->{headers}{'x-webhook-status'}, 'REPLAY', '... refused as REPLAY (not STALE)');
    my $github = $ng->request('POST /github', body => $body{'/github'}, more_headers => $sent{'/github'});
    is($github->{status}, 401, 'GitHub: a copy resent after its tolerance lapsed is still a replay (24 h window)');
    is($github->{headers}{'x-webhook-status'}, 'REPLAY', '... refused as REPLAY');
    my $window = $ng->request('POST /window', body => $body{'/window'}, more_headers => $sent{'/window'});
    is($window->{status}, 200, 'replay_window=1s: after the window a copy passes again');
    $ng->stop;
}

# ---- a refused replay never evicts a live entry (a full zone) -----------------------------
#
# The smallest zone (32k, about 1,400 entries) is filled twice over with valid
# GitHub deliveries (an id and a signature entry each), so every set is full.
# A captured delivery resent under fresh ids is a replay by its signature; its
# new id must not take a slot on the way to the 401.

# Sends requests ([path, headers, body], ...) over keep-alive connections;
# returns their status codes.
sub keepalive_statuses {
    my ($port, @requests) = @_;
    my @statuses;
    while (my @batch = splice(@requests, 0, 500)) {
        my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port", Timeout => 10) or die "connect: $!";
        binmode $s;
        for my $req (@batch) {
            my ($path, $headers, $body) = @$req;
            my $h = join '', map { "$_\r\n" } split /\n/, $headers;
            print {$s} "POST $path HTTP/1.1\r\nHost: localhost\r\n${h}Content-Length: " . length($body) . "\r\n\r\n$body";
            my $head = '';
            while ($head !~ /\r\n\r\n/) { sysread($s, $head, 1, length $head) or die 'connection closed' }
            my ($status) = $head =~ m{^HTTP/1\.1 (\d+)};
            my ($len) = $head =~ /^Content-Length:\s*(\d+)/mi;
            my $got = '';
            while (length $got < ($len // 0)) { sysread($s, $got, $len - length $got, length $got) or die 'short body' }
            push @statuses, $status;
        }
        close $s;
    }
    return @statuses;
}

{
    my $ng = Test::Levqor::Nginx->new(http_config => "levqor_webhook_replay_zone small:32k;", config => <<"CONF");
location /hook { levqor_webhook github secret_file=$SECRETS/github.current replay=small;
  proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/ok; }
location /ok { return 200 "ok\\n"; }
location /metrics { levqor_status; }
CONF
    $ng->start;
    my $metric = sub {
        my ($name) = @_;
        my ($v) = $ng->request('GET /metrics')->{body} =~ /^\Q$name\E\{zone="small"\} (\d+)$/m;
        return $v;
    };
    my $capacity = $metric->('levqor_webhook_replay_capacity');
    ok($capacity && $capacity < 2000, "a 32k zone holds $capacity entries");
    my @fill = map { my $b = qq({"n":$_}); ['/hook', sign('github', body => $b, id => "fill-$_"), $b] } 1 .. $capacity;
    my @filled = keepalive_statuses($ng->port, @fill);
    is(scalar(grep { $_ == 200 } @filled), $capacity, "$capacity valid deliveries accepted");
    my $evicted = $metric->('levqor_webhook_replay_evictions_total');
    ok($evicted > 0, "the zone is full: $evicted live entries evicted while filling it");
    my ($captured_body, $captured) = ($fill[-1][2], $fill[-1][1]);
    my @replays = map { ['/hook', $captured =~ s/fill-\d+/fresh-$_/r, $captured_body] } 1 .. 40;
    my @refused = keepalive_statuses($ng->port, @replays);
    is(scalar(grep { $_ == 401 } @refused), 40, 'the captured delivery under 40 fresh ids: 40 replays refused');
    is($metric->('levqor_webhook_replay_evictions_total'), $evicted, '... and not one live entry evicted by them');
    $ng->stop;
    unlike($ng->error_log, qr/\[(alert|crit|emerg)\]/, 'nothing alarming logged');
}

# ---- HTTP/2 (h2c, curl) ------------------------------------------------------------------

SKIP: {
    skip 'curl without HTTP/2', 4 unless `curl -V 2>/dev/null` =~ /HTTP2/;
    my $ng = Test::Levqor::Nginx->new(http_config => $HTTP . <<"CONF", config => '');
server {
    listen 127.0.0.1:\$TEST_NGINX_PORT3 http2;
    client_body_buffer_size 4k;
    $LOCATIONS
}
CONF
    $ng->start;
    my $file = "$SECRETS/h2-body.bin";
    my $body = 'x' x 100_000;
    write_file($file, $body);
    my $curl = sub {
        my ($headers) = @_;
        my @h = map { ('-H', $_) } split /\n/, $headers;
        my $out = `curl -s --http2-prior-knowledge -o - -w '\n%{http_code} %{http_version}' @{[join ' ', map { "'$_'" } @h]} --data-binary \@$file http://127.0.0.1:${\ $ng->port3}/p/stripe`;
        my ($resp, $meta) = $out =~ /\A(.*)\n(\d+ [\d.]+)\z/s;
        return ($resp // '', $meta // $out);
    };
    my ($resp, $meta) = $curl->(sign('stripe', body => $body));
    is($meta, '200 2', 'HTTP/2: a valid delivery with a 100 KB body passes');
    is($resp, echoed($body), 'HTTP/2: the upstream got the body byte for byte');
    ($resp, $meta) = $curl->(sign('stripe', body => "$body!"));
    is($meta, '401 2', 'HTTP/2: a tampered body is refused');
    is($resp, '{"error":"invalid_signature","provider":"stripe"}', 'HTTP/2: JSON body');
    $ng->stop;
}

# ---- Expect: 100-continue ------------------------------------------------------------------

sub raw_exchange {
    my ($port, $head, $body) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port", Timeout => 5) or die "connect: $!";
    print $s $head;
    my $first = '';
    # A client that waits for 100 Continue before sending the body.
    my $rin = '';
    vec($rin, fileno($s), 1) = 1;
    select(my $rout = $rin, undef, undef, 2) and sysread($s, $first, 4096);
    return $first unless $first =~ m{^HTTP/1\.1 100 };
    print $s $body;
    local $/;
    my $rest = <$s> // '';
    return $first . $rest;
}

{
    my $ng = Test::Levqor::Nginx->new(http_config => $HTTP, config => $LOCATIONS);
    $ng->start;
    my $body = '{"expect":true}';
    my $headers = join "\r\n", split /\n/, sign('slack', body => $body);
    my $head = "POST /p/slack HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nExpect: 100-continue\r\n"
        . "Content-Length: " . length($body) . "\r\n";
    my $ok = raw_exchange($ng->port, "$head$headers\r\n\r\n", $body);
    like($ok, qr{\AHTTP/1\.1 100 Continue\r\n\r\nHTTP/1\.1 200 }, 'Expect: a valid delivery gets 100 Continue, then 200');
    like($ok, qr/\Q${\ echoed($body)}\E\z/, 'Expect: the upstream got the body');
    my $bad = raw_exchange($ng->port, "${head}X-Slack-Request-Timestamp: 1\r\nX-Slack-Signature: v0=00\r\n\r\n", $body);
    like($bad, qr{\AHTTP/1\.1 401 }, 'Expect: a delivery refused on its headers gets 401 at once, never 100 Continue');
    $ng->stop;
}

run_tests();

$echo->stop;

__DATA__

=== TEST 1: log_only passes an invalid delivery to the upstream, logs a warning and counts it
--- http_config eval: $::HTTP
--- config eval
$::LOCATIONS . 'levqor_webhook_mode log_only; location /metrics { levqor_status; }'
--- request eval
["POST /p/github\n{\"a\":1}", "GET /metrics"]
--- more_headers eval
[main::sign('github', body => '{"a":2}'), '']
--- error_code eval
[200, 200]
--- response_headers eval
["X-Webhook-Status: LOG_ONLY_INVALID", ""]
--- response_body_like eval
['^len=7 sha256=', 'levqor_webhook_verifications_total\{provider="github",result="log_only_invalid"\} 1\n']
--- error_log
levqor_webhook: github delivery would be refused (log_only): signature mismatch
--- no_error_log
[error]

=== TEST 2: log_only still lets valid deliveries through as VALID
--- http_config eval: $::HTTP
--- config eval
$::LOCATIONS . 'levqor_webhook_mode log_only;'
--- request
POST /p/stripe
{"ok":true}
--- more_headers eval
main::sign('stripe', body => '{"ok":true}')
--- error_code: 200
--- response_headers
X-Webhook-Status: VALID
--- no_error_log
[warn]

=== TEST 3: tolerance=off accepts an archived delivery
--- http_config eval: $::HTTP
--- config eval
"location /old { levqor_webhook stripe secret_file=$ENV{TEST_NGINX_SECRETS}/stripe.current tolerance=off; proxy_pass http://echo; }"
--- request
POST /old
{"archived":true}
--- more_headers eval
main::sign('stripe', body => '{"archived":true}', t => 1500000000)
--- error_code: 200
--- no_error_log
[error]

=== TEST 4: tolerance=60 refuses a delivery 100 s old
--- http_config eval: $::HTTP
--- config eval
"location /t { levqor_webhook slack secret_file=$ENV{TEST_NGINX_SECRETS}/slack.current tolerance=60; proxy_pass http://echo; }"
--- request
POST /t
a=1
--- more_headers eval
main::sign('slack', body => 'a=1', t => time - 100)
--- error_code: 401
--- error_log eval
qr/slack delivery refused: stale timestamp \d+ \(10\d s old, tolerance 60 s\)/

=== TEST 5: replay by delivery id (GitHub's X-GitHub-Delivery): the second copy is refused
--- http_config eval: $::HTTP
--- config eval
"location /gh { levqor_webhook github secret_file=$ENV{TEST_NGINX_SECRETS}/github.current replay=replay;
  add_header X-Webhook-Status \$levqor_webhook_status always; proxy_pass http://echo; }"
--- request eval
["POST /gh\n{}", "POST /gh\n{}", "POST /gh\n{\"n\":2}"]
--- more_headers eval
my $h = main::sign('github', body => '{}', id => 'd-1');
[$h, $h, main::sign('github', body => '{"n":2}', id => 'd-2')]
--- error_code eval
[200, 401, 200]
--- response_headers eval
["X-Webhook-Status: VALID", "X-Webhook-Status: REPLAY", "X-Webhook-Status: VALID"]
--- error_log
levqor_webhook: github delivery refused: replay of delivery "d-1"

=== TEST 6: GitHub's delivery id is not signed: a captured delivery resent under a new id is still a replay
--- http_config eval: $::HTTP
--- config eval
"location /gh { levqor_webhook github secret_file=$ENV{TEST_NGINX_SECRETS}/github.current replay=replay;
  proxy_pass http://echo; }"
--- request eval
["POST /gh\n{}", "POST /gh\n{}"]
--- more_headers eval
my $h = main::sign('github', body => '{}', id => 'd-1');
[$h, $h =~ s/d-1/d-forged/r]
--- error_code eval
[200, 401]
--- error_log
levqor_webhook: github delivery refused: replay of an earlier delivery (same signature)

=== TEST 7: replay by signature where there is no id (Stripe): same t and v1 refused, a retry with a new t passes
--- http_config eval: $::HTTP
--- config eval
"location /s { levqor_webhook stripe secret_file=$ENV{TEST_NGINX_SECRETS}/stripe.current replay=replay; proxy_pass http://echo; }"
--- request eval
["POST /s\n{}", "POST /s\n{}", "POST /s\n{}"]
--- more_headers eval
my $h = main::sign('stripe', body => '{}', t => time - 5);
[$h, $h, main::sign('stripe', body => '{}')]
--- error_code eval
[200, 401, 200]
--- error_log
levqor_webhook: stripe delivery refused: replay of an earlier delivery (same signature)

=== TEST 8: a delivery the upstream failed is forgotten, so the provider's retry passes (Standard Webhooks id)
--- http_config eval: $::HTTP
--- config eval
"location /status/ { levqor_webhook standard secret_file=$ENV{TEST_NGINX_SECRETS}/standard.current replay=replay;
  proxy_pass http://echo; }"
--- request eval
["POST /status/500\n{}", "POST /status/200\n{}", "POST /status/200\n{}"]
--- more_headers eval
my $h = main::sign('standard', body => '{}', id => 'msg_retry');
[$h, $h, $h]
--- error_code eval
[500, 200, 401]
--- error_log
replay of delivery "msg_retry"

=== TEST 9: a 1 MB body spilled to a temp file (client_body_buffer_size 8k) verifies and reaches the upstream intact
--- http_config eval: $::HTTP
--- config eval
"client_max_body_size 2m; client_body_buffer_size 8k;
location /big { levqor_webhook github secret_file=$ENV{TEST_NGINX_SECRETS}/github.current; proxy_pass http://echo; }"
--- request eval
"POST /big\n" . main::big_body()
--- more_headers eval
main::sign('github', body => main::big_body())
--- error_code: 200
--- response_body eval
main::echoed(main::big_body())
--- error_log
a client request body is buffered to a temporary file
--- no_error_log
[error]

=== TEST 10: a tampered 1 MB temp-file body is refused
--- http_config eval: $::HTTP
--- config eval
"client_max_body_size 2m; client_body_buffer_size 8k;
location /big { levqor_webhook github secret_file=$ENV{TEST_NGINX_SECRETS}/github.current; proxy_pass http://echo; }"
--- request eval
"POST /big\n" . ('a' x 1048575) . 'b'
--- more_headers eval
main::sign('github', body => 'a' x 1048576)
--- error_code: 401
--- error_log
github delivery refused: signature mismatch

=== TEST 11: a chunked upload verifies and the upstream gets the dechunked body
--- http_config eval: $::HTTP
--- config eval
"client_body_buffer_size 16;
location /c { levqor_webhook shopify secret_file=$ENV{TEST_NGINX_SECRETS}/shopify.current; proxy_pass http://echo; }"
--- raw_request eval
my $h = join "\r\n", split /\n/, main::sign('shopify', body => '{"chunked":"yes, in three parts"}');
"POST /c HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n$h\r\n\r\n"
. join('', map { sprintf("%x\r\n%s\r\n", length, $_) } '{"chunked":', '"yes, in thre', 'e parts"}') . "0\r\n\r\n"
--- error_code: 200
--- response_body eval
main::echoed('{"chunked":"yes, in three parts"}')
--- no_error_log
[error]

=== TEST 12: an empty body (Content-Length: 0) is signed and verified as empty
--- http_config eval: $::HTTP
--- config eval
"location /e { levqor_webhook paddle secret_file=$ENV{TEST_NGINX_SECRETS}/paddle.current; proxy_pass http://echo; }"
--- raw_request eval
my $h = join "\r\n", split /\n/, main::sign('paddle', body => '');
"POST /e HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: 0\r\n$h\r\n\r\n"
--- error_code: 200
--- response_body eval
main::echoed('')
--- no_error_log
[error]

=== TEST 13: GET: without a signature it is refused, with one over the empty body it passes
--- http_config eval: $::HTTP
--- config eval
"location /g { levqor_webhook notion secret_file=$ENV{TEST_NGINX_SECRETS}/notion.current; proxy_pass http://echo; }"
--- request eval
["GET /g", "GET /g"]
--- more_headers eval
["", main::sign('notion', body => '')]
--- error_code eval
[401, 200]
--- error_log
notion delivery refused: missing header "X-Notion-Signature"

=== TEST 14: Standard Webhooks under Svix's header names (svix-id, svix-timestamp, svix-signature)
--- http_config eval: $::HTTP
--- config eval: $::LOCATIONS
--- request
POST /p/standard
{"svix":1}
--- more_headers eval
main::sign('standard', body => '{"svix":1}') =~ s/^webhook-/svix-/mgr
--- error_code: 200
--- no_error_log
[error]

=== TEST 15: Standard Webhooks: unknown versions and extra signatures are skipped
--- http_config eval: $::HTTP
--- config eval: $::LOCATIONS
--- request
POST /p/standard
{"multi":1}
--- more_headers eval
main::sign('standard', body => '{"multi":1}') =~ s/^webhook-signature: (.*)$/webhook-signature: v1a,abc v2,Ceo5qEr07ixe2NLpvHk3FH9bwy\/WavXrAFQ\/9tdO6mc= $1 v1,Ceo5qEr07ixe2NLpvHk3FH9bwy\/WavXrAFQ\/9tdO6mc=/mr
--- error_code: 200
--- no_error_log
[error]

=== TEST 16: Stripe: v0 and unknown versions are skipped; a malformed header is refused as such
--- http_config eval: $::HTTP
--- config eval: $::LOCATIONS
--- request eval
["POST /p/stripe\n{}", "POST /p/stripe\n{}"]
--- more_headers eval
[main::sign('stripe', body => '{}') =~ s/,v1=/,v0=abc,v9=zz,v1=/r, "Stripe-Signature: v1=" . ('0' x 64)]
--- error_code eval
[200, 401]
--- error_log
stripe delivery refused: malformed header "Stripe-Signature" (no timestamp)

=== TEST 17: a server-level levqor_webhook is inherited; levqor_webhook off turns it off below
--- http_config eval: $::HTTP
--- config eval
"levqor_webhook github secret_file=$ENV{TEST_NGINX_SECRETS}/github.current;
location /hooks { proxy_pass http://echo; }
location /health { levqor_webhook off; proxy_pass http://echo; }"
--- request eval
["POST /hooks\n{}", "POST /health\n{}"]
--- error_code eval
[401, 200]
--- error_log
levqor_webhook: github delivery refused: missing header
--- no_error_log
[warn]

=== TEST 18: the 401 is decorated by the security headers like any response
--- http_config eval: $::HTTP
--- config eval
"levqor_headers on; levqor_headers_profile api;
location /t { levqor_webhook telegram secret_file=$ENV{TEST_NGINX_SECRETS}/telegram.current; proxy_pass http://echo; }"
--- request
POST /t
{}
--- more_headers
X-Telegram-Bot-Api-Secret-Token: not-the-token
--- error_code: 401
--- response_headers
Content-Type: application/json
X-Content-Type-Options: nosniff
--- response_body: {"error":"invalid_signature","provider":"telegram"}
--- error_log
levqor_webhook: telegram delivery refused: signature mismatch
--- no_error_log
[warn]

=== TEST 19: a valid signature satisfies "satisfy any"; an invalid one is refused even when another check allows
--- http_config eval: $::HTTP
--- config eval
"satisfy any;
location /deny { deny all; levqor_webhook notion secret_file=$ENV{TEST_NGINX_SECRETS}/notion.current; proxy_pass http://echo; }
location /allow { allow all; levqor_webhook notion secret_file=$ENV{TEST_NGINX_SECRETS}/notion.current; proxy_pass http://echo; }"
--- request eval
["POST /deny\n{}", "POST /allow\n{}"]
--- more_headers eval
[main::sign('notion', body => '{}'), main::sign('notion', body => '{"x":1}')]
--- error_code eval
[200, 401]
--- error_log
levqor_webhook: notion delivery refused: signature mismatch
--- no_error_log
[warn]

=== TEST 20: a relative secret_file is relative to the configuration directory
--- http_config eval: $::HTTP
--- config eval
"location /r { levqor_webhook github secret_file=../html/gh.key; proxy_pass http://echo; }"
--- user_files
>>> gh.key
relative-secret
--- request
POST /r
{}
--- more_headers eval
main::sign('github', body => '{}', key => 'relative-secret')
--- error_code: 200
--- no_error_log
[error]

=== TEST 21: levqor_status counts per provider and result; the exposition passes promtool
--- http_config eval: $::HTTP
--- config eval
$::LOCATIONS . 'location /metrics { levqor_status; }'
--- request eval
["POST /p/slack\n{}", "POST /p/slack\n{}", "POST /p/slack\n{}", "GET /metrics"]
--- more_headers eval
[main::sign('slack', body => '{}'), '', main::sign('slack', body => '{}', t => time - 1000), '']
--- error_code eval
[200, 401, 401, 200]
--- response_body_like eval
["", "", "",
 'levqor_webhook_verifications_total\{provider="slack",result="valid"\} 1\n'
 . 'levqor_webhook_verifications_total\{provider="slack",result="invalid"\} 2\n.*'
 . 'levqor_webhook_failures_total\{provider="slack",reason="missing_header"\} 1\n.*'
 . 'levqor_webhook_failures_total\{provider="slack",reason="stale_timestamp"\} 1\n.*'
 . 'levqor_webhook_replay_capacity\{zone="replay"\} \d+\n']
--- error_log
levqor_webhook: slack delivery refused: missing header
levqor_webhook: slack delivery refused: stale timestamp
--- no_error_log
signature mismatch
[warn]

=== TEST 22: unknown provider
--- config
location /t { levqor_webhook acme secret_file=/dev/null; }
--- must_die
"levqor_webhook" directive unknown provider "acme", expected stripe, slack, github, telegram, notion, shopify, standard, paddle, discord (or levqor_webhook_generic)

=== TEST 23: a secret file is required
--- config
location /t { levqor_webhook github tolerance=300; }
--- must_die
"levqor_webhook" directive needs secret_file=<path>

=== TEST 24: an empty secret file fails nginx -t with its path
--- config eval
"location /t { levqor_webhook github secret_file=$ENV{TEST_NGINX_HTML_DIR}/empty.key; }"
--- user_files eval
[['empty.key', "\n"]]
--- must_die eval
"secret_file \"$ENV{TEST_NGINX_HTML_DIR}/empty.key\" is empty"

=== TEST 25: an unreadable secret file fails nginx -t with its path
--- config
location /t { levqor_webhook stripe secret_file=/nonexistent/stripe.key; }
--- must_die
secret_file "/nonexistent/stripe.key" cannot be read: No such file or directory

=== TEST 26: a whsec_ secret with invalid base64 fails for Standard Webhooks, without printing it
--- config eval
"location /t { levqor_webhook standard secret_file=$ENV{TEST_NGINX_HTML_DIR}/bad.key; }"
--- user_files
>>> bad.key
whsec_not*base64*TOPSECRET
--- must_die eval
"secret_file \"$ENV{TEST_NGINX_HTML_DIR}/bad.key\" is not a Standard Webhooks secret (whsec_ followed by base64)"

=== TEST 27: a Discord public key must be 64 hex digits
--- config eval
"location /t { levqor_webhook discord secret_file=$ENV{TEST_NGINX_HTML_DIR}/d.key; }"
--- user_files
>>> d.key
abcdef
--- must_die: is not an Ed25519 public key (64 hex digits)

=== TEST 28: replay= cannot protect Telegram deliveries
--- http_config
levqor_webhook_replay_zone r:1m;
--- config eval
"location /t { levqor_webhook telegram secret_file=$ENV{TEST_NGINX_SECRETS}/telegram.current replay=r; }"
--- must_die
replay= cannot be used with telegram: its deliveries carry neither an id nor a per-delivery signature

=== TEST 29: a replay zone must be defined
--- config eval
"location /t { levqor_webhook github secret_file=$ENV{TEST_NGINX_SECRETS}/github.current replay=nope; }"
--- must_die
levqor_webhook: replay zone "nope" is used but not defined by levqor_webhook_replay_zone

=== TEST 30: tolerance must be seconds or off
--- config eval
"location /t { levqor_webhook slack secret_file=$ENV{TEST_NGINX_SECRETS}/slack.current tolerance=soon; }"
--- must_die
invalid tolerance "tolerance=soon", expected seconds (1 to 30d) or off

=== TEST 31: levqor_webhook_generic checks its algorithm and needs its parameters
--- config eval
"location /t { levqor_webhook_generic header=X-Sig algorithm=md5 encoding=hex secret_file=$ENV{TEST_NGINX_SECRETS}/generic.current; }"
--- must_die
invalid algorithm "md5", expected sha1, sha256 or sha512

=== TEST 32: levqor_webhook_generic without a header
--- config eval
"location /t { levqor_webhook_generic algorithm=sha256 encoding=hex secret_file=$ENV{TEST_NGINX_SECRETS}/generic.current; }"
--- must_die
needs header=<name> algorithm=<sha1|sha256|sha512> encoding=<hex|base64> secret_file=<path>

=== TEST 33: one levqor_webhook per level
--- config eval
"location /t { levqor_webhook github secret_file=$ENV{TEST_NGINX_SECRETS}/github.current;
  levqor_webhook notion secret_file=$ENV{TEST_NGINX_SECRETS}/notion.current; }"
--- must_die
"levqor_webhook" directive is duplicate

=== TEST 34: levqor_webhook_mode values
--- config
levqor_webhook_mode audit;
--- must_die
"levqor_webhook_mode" directive invalid value "audit", expected enforce or log_only

=== TEST 35: a Telegram secret token must use Telegram's characters
--- config eval
"location /t { levqor_webhook telegram secret_file=$ENV{TEST_NGINX_HTML_DIR}/t.key; }"
--- user_files
>>> t.key
has spaces in it
--- must_die: is not a Telegram secret token (A-Z, a-z, 0-9, _ and -)

=== TEST 36: an internal redirect (error_page) from a GitHub location to a Stripe location checks Stripe's signature
--- http_config eval: $::HTTP
--- config eval
"location /a { levqor_webhook github secret_file=$ENV{TEST_NGINX_SECRETS}/github.current;
  proxy_intercept_errors on; error_page 404 = /b; proxy_pass http://echo/status/404; }
location /b { levqor_webhook stripe secret_file=$ENV{TEST_NGINX_SECRETS}/stripe.current;
  add_header X-Webhook-Status \$levqor_webhook_status always; proxy_pass http://echo; }"
--- request eval
["POST /a\n{\"via\":\"a\"}", "POST /a\n{\"via\":\"a\"}"]
--- more_headers eval
[main::sign('github', body => '{"via":"a"}'),
 main::sign('github', body => '{"via":"a"}') . "\n" . main::sign('stripe', body => '{"via":"a"}')]
--- error_code eval
[401, 200]
--- response_headers eval
["X-Webhook-Status: MISSING", "X-Webhook-Status: VALID"]
--- response_body eval
['{"error":"invalid_signature","provider":"stripe"}', main::echoed('{"via":"a"}')]
--- error_log
stripe delivery refused: missing header "Stripe-Signature"
--- no_error_log
[alert]

=== TEST 37: try_files into a named location with another rule checks that rule, also from a temp-file body
--- http_config eval: $::HTTP
--- config eval
"client_body_buffer_size 16;
location /c { levqor_webhook github secret_file=$ENV{TEST_NGINX_SECRETS}/github.current; try_files /nonexistent \@d; }
location \@d { levqor_webhook stripe secret_file=$ENV{TEST_NGINX_SECRETS}/stripe.current; proxy_pass http://echo; }"
--- request eval
["POST /c\n" . ('x' x 1000), "POST /c\n" . ('x' x 1000)]
--- more_headers eval
[main::sign('github', body => 'x' x 1000),
 main::sign('github', body => 'x' x 1000) . "\n" . main::sign('stripe', body => 'x' x 1000)]
--- error_code eval
[401, 200]
--- response_body eval
['{"error":"invalid_signature","provider":"stripe"}', main::echoed('x' x 1000)]
--- error_log
stripe delivery refused: missing header "Stripe-Signature"

=== TEST 38: a redirect into a location with the same (inherited) rule and mode reuses the decision: checked once
--- http_config eval: $::HTTP
--- config eval
"levqor_webhook github secret_file=$ENV{TEST_NGINX_SECRETS}/github.current;
location /a { proxy_intercept_errors on; error_page 404 = /b; proxy_pass http://echo/status/404; }
location /b { proxy_pass http://echo; }
location /metrics { levqor_webhook off; levqor_status; }"
--- request eval
["POST /a\n{}", "GET /metrics"]
--- more_headers eval
[main::sign('github', body => '{}'), '']
--- error_code eval
[200, 200]
--- response_body_like eval
['^len=2 sha256=', 'levqor_webhook_verifications_total\{provider="github",result="valid"\} 1\n']
--- no_error_log
[error]

=== TEST 39: a log_only decision is not reused by an enforcing location after a redirect
--- http_config eval: $::HTTP
--- config eval
"levqor_webhook github secret_file=$ENV{TEST_NGINX_SECRETS}/github.current;
location /a { levqor_webhook_mode log_only; proxy_intercept_errors on; error_page 404 = /b; proxy_pass http://echo/status/404; }
location /b { add_header X-Webhook-Status \$levqor_webhook_status always; proxy_pass http://echo; }"
--- request
POST /a
{"tampered":true}
--- more_headers eval
main::sign('github', body => '{}')
--- error_code: 401
--- response_headers
X-Webhook-Status: INVALID
--- error_log
github delivery would be refused (log_only): signature mismatch
github delivery refused: signature mismatch

=== TEST 40: a small-order Ed25519 public key (the identity) fails nginx -t: with it anyone could forge Discord deliveries
--- config eval
"location /t { levqor_webhook discord secret_file=$ENV{TEST_NGINX_HTML_DIR}/identity.key; }"
--- user_files
>>> identity.key
0100000000000000000000000000000000000000000000000000000000000000
--- must_die eval
"\"levqor_webhook\" directive secret_file \"$ENV{TEST_NGINX_HTML_DIR}/identity.key\" is a small-order Ed25519 point, not a public key: with it anyone could forge signatures"

=== TEST 41: a non-canonical Ed25519 public key (y >= 2^255-19) fails nginx -t
--- config eval
"location /t { levqor_webhook discord secret_file=$ENV{TEST_NGINX_HTML_DIR}/noncanonical.key; }"
--- user_files
>>> noncanonical.key
eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f
--- must_die eval
"\"levqor_webhook\" directive secret_file \"$ENV{TEST_NGINX_HTML_DIR}/noncanonical.key\" is not a canonical Ed25519 public key (its y coordinate is not below 2^255-19)"

=== TEST 42: replay_window= is a time from 1s to 30d and needs replay=
--- http_config
levqor_webhook_replay_zone r:1m;
--- config eval
"location /t { levqor_webhook github secret_file=$ENV{TEST_NGINX_SECRETS}/github.current replay=r replay_window=31d; }"
--- must_die
"levqor_webhook" directive invalid replay_window "replay_window=31d", expected a time from 1s to 30d

=== TEST 43: replay_window= without replay= is refused
--- config eval
"location /t { levqor_webhook_generic header=X-Sig algorithm=sha256 encoding=hex secret_file=$ENV{TEST_NGINX_SECRETS}/generic.current replay_window=1h; }"
--- must_die
"levqor_webhook_generic" directive replay_window= needs replay=<zone>
