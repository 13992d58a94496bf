# SPDX-License-Identifier: Apache-2.0
package Test::Levqor::Nginx;

# One nginx instance under test: its own prefix, ports and self-signed
# certificate; writes nginx.conf from config sections, starts nginx in the
# foreground as our child, reloads, stops, and talks HTTP to it.
#
#   my $ng = Test::Levqor::Nginx->new(config => 'location / { return 204; }',
#                                     master => 1, workers => 2);
#   $ng->start;  my $res = $ng->request('GET /');  $ng->reload(config => ...);  $ng->stop;

use strict;
use warnings;

use Carp qw(croak);
use File::Path qw(make_path remove_tree);

use Test::Levqor::HTTP qw(http_request);
use Test::Levqor::Process;
use Test::Levqor::Sanitizer qw(nginx_env);
use Test::Levqor::Util qw(
    repo_root build_dir free_port temp_dir slurp spew run_cmd wait_until tail_text
    expand_vars env_test_vars
);

my @TEMP_DIRS = qw(client_body proxy fastcgi uwsgi scgi);
my @SECTIONS  = qw(main_config http_config config);
my @SETTINGS  = (@SECTIONS, qw(master workers log_level module));
my @NEW_ARGS  = (@SETTINGS, qw(binary timeout prefix port ssl_port port2 port3));

sub new {
    my ($class, %args) = @_;
    for my $key (keys %args) {
        croak "Test::Levqor::Nginx->new: unknown argument '$key' (known: @NEW_ARGS)"
            unless grep { $key eq $_ } @NEW_ARGS;
    }
    my $self = bless {
        (map { $_ => '' } @SECTIONS),
        master    => 0,
        workers   => 1,
        log_level => 'info',
        module    => !$ENV{LEVQOR_TEST_NO_MODULE},
        binary    => $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx',
        timeout   => 10,
        %args,
        proc => undef,
    }, $class;
    $self->{prefix} //= temp_dir('nginx');
    $self->{$_} //= free_port() for qw(port ssl_port port2 port3);
    $self->init_prefix;
    return $self;
}

sub prefix         { $_[0]{prefix} }
sub port           { $_[0]{port} }
sub ssl_port       { $_[0]{ssl_port} }
sub port2          { $_[0]{port2} }
sub port3          { $_[0]{port3} }
sub html_dir       { "$_[0]{prefix}/html" }
sub conf_file      { "$_[0]{prefix}/conf/nginx.conf" }
sub error_log_file { "$_[0]{prefix}/logs/error.log" }
sub pid_file       { "$_[0]{prefix}/logs/nginx.pid" }
sub stderr_file    { "$_[0]{prefix}/logs/stderr.log" }
sub cert_file      { "$_[0]{prefix}/conf/cert.pem" }
sub cert_key_file  { "$_[0]{prefix}/conf/cert.key" }
sub module_file    { build_dir() . '/ngx_http_levqor_module.so' }
sub loads_module   { $_[0]{module} ? 1 : 0 }
sub error_log      { slurp($_[0]->error_log_file) // '' }
sub pid            { $_[0]{proc} ? $_[0]{proc}->pid : undef }
sub is_running     { $_[0]{proc} && $_[0]{proc}->alive ? 1 : 0 }
sub last_error     { $_[0]{last_error} }

sub init_prefix {
    my ($self) = @_;
    my $p = $self->{prefix};
    make_path("$p/logs", "$p/html", "$p/conf", map { "$p/temp/$_" } @TEMP_DIRS);
    $self->make_certificate unless -s $self->cert_file && -s $self->cert_key_file;
}

sub make_certificate {
    my ($self) = @_;
    my ($code, $out) = run_cmd(
        'openssl', 'req', '-x509', '-nodes', '-newkey', 'ec',
        '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-days', '2',
        '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
        '-keyout', $self->cert_key_file, '-out', $self->cert_file,
    );
    croak "openssl could not make a test certificate:\n$out" if $code;
}

# Values for $TEST_NGINX_* in config sections (the environment's own
# TEST_NGINX_* variables are included; ours take precedence).
sub vars {
    my ($self) = @_;
    return {
        env_test_vars(),
        TEST_NGINX_SERVER_PORT     => $self->{port},
        TEST_NGINX_SERVER_SSL_PORT => $self->{ssl_port},
        TEST_NGINX_PORT2           => $self->{port2},
        TEST_NGINX_PORT3           => $self->{port3},
        TEST_NGINX_PREFIX          => $self->{prefix},
        TEST_NGINX_HTML_DIR        => $self->html_dir,
        TEST_NGINX_REPO            => repo_root(),
        TEST_NGINX_CERT            => $self->cert_file,
        TEST_NGINX_CERT_KEY        => $self->cert_key_file,
    };
}

sub expand {
    my ($self, $text, $where) = @_;
    return expand_vars($text, $self->vars, $where || 'text');
}

# Changes settings for the next start/reload: config sections, master,
# workers, log_level, module.
sub configure {
    my ($self, %args) = @_;
    for my $key (keys %args) {
        croak "configure: unknown setting '$key' (known: @SETTINGS)"
            unless grep { $key eq $_ } @SETTINGS;
        $self->{$key} = $args{$key} // ($key =~ /config/ ? '' : $self->{$key});
    }
    return $self;
}

# "name args;" unless the test's own section already sets that directive.
sub default_directive {
    my ($section, $directive) = @_;
    my ($name) = $directive =~ /^(\w+)/;
    return $section =~ /^\s*\Q$name\E\s/m ? () : ($directive);
}

sub indent {
    my ($depth, @lines) = @_;
    my $pad = '    ' x $depth;
    return map { my $t = $_; $t =~ s/^(?=.)/$pad/mg; $t } @lines;
}

sub render_config {
    my ($self) = @_;
    my %s = map { $_ => $self->expand($self->{$_} // '', $_) } @SECTIONS;
    my ($p, $main, $http) = ($self->{prefix}, $s{main_config}, $s{http_config});
    if ($self->{module} && !-e $self->module_file) {
        croak 'module not found: ' . $self->module_file
            . ' (build it, set LEVQOR_BUILD, or LEVQOR_TEST_NO_MODULE=1)';
    }
    my @main = (
        ($self->{module} ? ('load_module ' . $self->module_file . ';') : ()),
        'daemon off;',    # nginx stays our child: the runner needs its pid and exit status
        default_directive($main, 'master_process ' . ($self->{master} ? 'on' : 'off') . ';'),
        default_directive($main, "worker_processes $self->{workers};"),
        "pid $p/logs/nginx.pid;",    # start() waits for this file
        ($> == 0 ? default_directive($main, 'user root;') : ()),
        "error_log $p/logs/error.log $self->{log_level};",
    );
    my @http = (
        default_directive($http, 'access_log off;'),
        default_directive($http, 'default_type text/plain;'),
        (map { default_directive($http, "${_}_temp_path $p/temp/$_;") } qw(proxy fastcgi uwsgi scgi)),
        default_directive($http, "client_body_temp_path $p/temp/client_body;"),
    );
    my @server = (
        "listen 127.0.0.1:$self->{port};",
        "listen 127.0.0.1:$self->{ssl_port} ssl;",
        'server_name localhost;',
        'ssl_certificate ' . $self->cert_file . ';',
        'ssl_certificate_key ' . $self->cert_key_file . ';',
    );
    return join "\n",
        '# generated by Test::Levqor::Nginx',
        @main, $main,
        'events {', '    worker_connections 1024;', '}',
        'http {', indent(1, @http, $http),
        '    server {', indent(2, @server, $s{config}), '    }',
        '}', '';
}

sub write_config {
    my ($self) = @_;
    spew($self->conf_file, $self->render_config);
}

sub nginx_args {
    my ($self) = @_;
    return ($self->{binary}, '-p', "$self->{prefix}/", '-c', $self->conf_file, '-e', $self->error_log_file);
}

# Runs `nginx -t`; returns (ok, output of nginx -t and the error log).
sub test_config {
    my ($self) = @_;
    $self->write_config;
    my %env = nginx_env();
    local @ENV{keys %env} = values %env;
    my ($code, $out) = run_cmd($self->nginx_args, '-t');
    return ($code == 0, $out);
}

# Writes files under the html dir: write_files([relative_path, content], ...).
sub write_files {
    my ($self, @files) = @_;
    for my $file (@files) {
        my ($path, $content) = @$file;
        croak "user file path must be relative: $path" if $path =~ m{^/|(^|/)\.\.(/|$)};
        spew($self->html_dir . "/$path", $content);
    }
}

sub clear_html {
    my ($self) = @_;
    remove_tree($self->html_dir, { keep_root => 1 });
}

sub truncate_error_log {
    my ($self) = @_;
    spew($self->error_log_file, '');
}

# Starts nginx (dies with the startup errors if it cannot start).
# keep_log => 1 keeps the previous error log instead of starting fresh.
sub start {
    my ($self, %opts) = @_;
    croak 'nginx is already running (pid ' . $self->pid . ')' if $self->is_running;
    $self->write_config;
    unless ($opts{keep_log}) {
        $self->truncate_error_log;
        spew($self->stderr_file, '');
    }
    unlink $self->pid_file;
    $self->{proc} = Test::Levqor::Process->spawn(
        name => 'nginx', cmd => [$self->nginx_args], log => $self->stderr_file, env => { nginx_env() });
    my $proc = $self->{proc};
    # The pid file is written after the listening sockets are open; with a
    # master, the workers are forked after that: wait for all of them, so a
    # test sees the nginx it configured (and worker init has run).
    my $want = $self->{master} ? ($self->{workers} || 1) : 0;
    wait_until($self->{timeout}, sub {
        !$proc->alive || ($self->pid_file_matches && (!$want || (() = $self->worker_pids) >= $want))
    });
    return $self if $proc->alive && $self->pid_file_matches;

    my $why = $proc->alive ? "did not write its pid file within $self->{timeout}s" : $proc->exit_text;
    $proc->stop(timeout => 2);
    croak "nginx $why\n" . $self->startup_diagnostics;
}

sub pid_file_matches {
    my ($self) = @_;
    my $text = slurp($self->pid_file) // '';
    return $text =~ /^(\d+)/ && $1 == $self->{proc}->pid;
}

sub startup_diagnostics {
    my ($self) = @_;
    return join '',
        "--- nginx stderr:\n", tail_text(slurp($self->stderr_file), 20),
        "--- error.log:\n", tail_text($self->error_log, 30),
        '--- conf: ', $self->conf_file, "\n";
}

# Graceful stop (SIGQUIT); SIGKILL to the process group after the timeout.
# Returns true if nginx was still running and exited on SIGQUIT; otherwise
# false, with the reason in $ng->last_error.
sub stop {
    my ($self, %opts) = @_;
    my $proc = $self->{proc} or return 1;
    $self->{proc} = undef;
    $self->{last_error} = undef;
    my $timeout = $opts{timeout} || $self->{timeout};
    if (!$proc->alive) {
        $self->{last_error} = 'nginx ' . $proc->exit_text . ' before the test stopped it';
        $proc->sweep_group;
        return 0;
    }
    my $graceful = $proc->stop(signal => 'QUIT', timeout => $timeout);
    $proc->sweep_group;
    $self->{last_error} = "nginx did not exit within ${timeout}s of SIGQUIT and was killed" unless $graceful;
    return $graceful ? 1 : 0;
}

# Worker pids: children of the master whose title says "worker process"
# (excluding old workers that are shutting down).
sub worker_pids {
    my ($self) = @_;
    my $master = $self->pid or return ();
    my @pids;
    for my $stat (glob '/proc/[0-9]*/stat') {
        my $text = slurp($stat) // next;
        my ($pid, $rest) = $text =~ /^(\d+) \(.*\) (.*)$/s or next;
        my (undef, $ppid) = split ' ', $rest;
        next unless $ppid == $master;
        my $title = slurp("/proc/$pid/cmdline") // '';
        push @pids, $pid if $title =~ /worker process/ && $title !~ /shutting down/;
    }
    return sort { $a <=> $b } @pids;
}

# SIGHUP after rewriting nginx.conf (optionally with new settings); waits
# until a new generation of workers serves and the old one has exited.
# Returns true on success; false if nginx rejected the new config or did not
# finish in time, with the reason and the log lines in $ng->last_error:
#   ok($ng->reload(config => $new), 'reloaded') or diag($ng->last_error);
sub reload {
    my ($self, %settings) = @_;
    croak 'reload needs a running nginx with master => 1' unless $self->is_running && $self->{master};
    $self->configure(%settings) if %settings;
    $self->write_config;
    my %old = map { $_ => 1 } $self->worker_pids;
    my $log_offset = -s $self->error_log_file || 0;
    my $log_since = sub { substr($self->error_log, $log_offset) };
    $self->{proc}->kill('HUP');
    my $done = wait_until($self->{timeout}, sub {
        return 'rejected' if $log_since->() =~ /\[emerg\]/;
        my @now = $self->worker_pids;
        my $new_generation = @now && !grep { $old{$_} } @now;
        my $old_gone = !grep { kill 0, $_ } keys %old;
        return $new_generation && $old_gone ? 'done' : '';
    });
    $self->{last_error} = undef;
    return 1 if $done eq 'done';
    $self->{last_error} = ($done eq 'rejected'
        ? 'nginx rejected the new config and kept the old one'
        : "nginx reload did not complete within $self->{timeout}s")
        . "; error log since the reload:\n" . tail_text($log_since->(), 30);
    return 0;
}

# request($simple_or_raw, %opts): "GET /x" (Test::Nginx simple form) or raw
# bytes (anything containing an empty line "\r\n\r\n", or raw => 1).
# Options as for http_request: more_headers, body, tls, timeout, server_name.
sub request {
    my ($self, $request, %opts) = @_;
    my $raw = exists $opts{raw} ? delete $opts{raw} : $request =~ /\r\n\r\n/;
    my %req = $raw ? (raw_request => $request) : (request => $request);
    my $port = $opts{tls} ? $self->{ssl_port} : $self->{port};
    return http_request(port => $port, %opts, %req);
}

sub DESTROY {
    my ($self) = @_;
    local ($?, $@);
    $self->stop(timeout => 3) if $self->{proc};
}

1;
