# SPDX-License-Identifier: Apache-2.0
package Test::Levqor::Controld;

# levqor-controld under test: its own data directory, token files, port and
# log; started as a child that never outlives the test (Test::Levqor::Process).
#
#   my $cd = Test::Levqor::Controld->new(env => { RATELIMIT_ENABLED => 'shadow' },
#                                        config => { scrape_timeout_ms => 500 });
#   $cd->start;                                   # waits for /healthz
#   my $res = $cd->request('PUT /ops/flags', token => 'admin', body => '{...}');
#   my ($code, $out) = $cd->ctl('flags', 'get');  # levqorctl with --url and --token-file
#   $cd->hup; $cd->stop;
#
# Also exported: promtool_check($text) and fake_http_server(...).

use strict;
use warnings;

use Carp qw(croak);
use Exporter qw(import);
use IO::Socket::INET;
use JSON::PP ();
use Time::HiRes qw(time sleep);

use Test::Levqor::HTTP qw(http_request);
use Test::Levqor::Process qw(spawn_server);
use Test::Levqor::Util qw(build_dir repo_root free_port temp_dir slurp spew run_cmd wait_until);

our @EXPORT_OK = qw(promtool_check fake_http_server json_of controld_binary ctl_binary released_together);

my $JSON = JSON::PP->new->canonical;

sub controld_binary { build_dir() . '/levqor-controld' }
sub ctl_binary      { build_dir() . '/levqorctl' }

# new(env => {...}, config => {...} | undef, tokens => 1, port => N, dir => $dir,
#     builtin_schedules => 0)
# The admin and producer token files are written unless tokens => 0.
# The built-in schedules (metrics-daily-reset, abuse-purge, backup:<target>)
# are off (LEVQOR_TEST_BUILTIN_SCHEDULES=off) unless builtin_schedules => 1: started
# between 00:05 and 06:05 UTC, controld would otherwise run a catch-up daily
# reset (or a backup) in the middle of a suite that counts jobs or spend.
sub new {
    my ($class, %args) = @_;
    my $dir = $args{dir} || temp_dir('controld');
    my $self = bless {
        dir    => $dir,
        port   => $args{port} || free_port(),
        env    => $args{env} || {},
        config => $args{config},
        builtin_schedules => $args{builtin_schedules} // 0,
        proc   => undef,
        admin_token    => 'admin-' . random_hex(24),
        producer_token => 'producer-' . random_hex(24),
    }, $class;
    if ($args{tokens} // 1) {
        $self->write_token(admin => $self->{admin_token});
        $self->write_token(producer => $self->{producer_token});
    }
    return $self;
}

sub random_hex { join '', map { sprintf '%02x', int rand 256 } 1 .. $_[0] }

sub dir            { $_[0]{dir} }
sub port           { $_[0]{port} }
sub url            { 'http://127.0.0.1:' . $_[0]{port} }
sub data_dir       { "$_[0]{dir}/data" }
sub flags_file     { "$_[0]{dir}/data/flags" }
sub config_file    { "$_[0]{dir}/controld.json" }
sub log_file       { "$_[0]{dir}/controld.log" }
sub token_file     { "$_[0]{dir}/$_[1].token" }
sub admin_token    { $_[0]{admin_token} }
sub producer_token { $_[0]{producer_token} }
sub proc           { $_[0]{proc} }
sub log_text       { slurp($_[0]->log_file) // '' }

# Token files are created 0600 (controld refuses any other mode).
sub write_token {
    my ($self, $role, $token) = @_;
    $self->{"${role}_token"} = $token;
    my $umask = umask 077;
    spew($self->token_file($role), "$token\n");
    umask $umask;
    chmod 0600, $self->token_file($role);
}

# Log lines as hashes (lines that are not JSON objects come back as undef).
sub log_lines {
    my ($self) = @_;
    return map { my $l = $_; eval { $JSON->decode($l) } } split /\n/, $self->log_text;
}

# The environment controld starts with: its port, data dir, token files,
# flags file, plus the caller's env (which wins).
sub environment {
    my ($self) = @_;
    return {
        LEVQOR_LISTEN              => '127.0.0.1:' . $self->{port},
        LEVQOR_DATA_DIR            => $self->data_dir,
        LEVQOR_ADMIN_TOKEN_FILE    => $self->token_file('admin'),
        LEVQOR_PRODUCER_TOKEN_FILE => $self->token_file('producer'),
        ($self->{builtin_schedules} ? () : (LEVQOR_TEST_BUILTIN_SCHEDULES => 'off')),
        %{ $self->{env} },
    };
}

sub command {
    my ($self) = @_;
    my @cmd = (controld_binary());
    if (defined $self->{config}) {
        spew($self->config_file, ref $self->{config} ? $JSON->encode($self->{config}) : $self->{config});
        push @cmd, '--config', $self->config_file;
    }
    return @cmd;
}

# Rewrites the config file (for a SIGHUP).
sub set_config {
    my ($self, $config) = @_;
    $self->{config} = $config;
    spew($self->config_file, ref $config ? $JSON->encode($config) : $config);
}

sub start {
    my ($self) = @_;
    my $port = $self->{port};
    unlink $self->log_file;
    $self->{proc} = spawn_server(
        name  => 'levqor-controld',
        cmd   => [$self->command],
        env   => $self->environment,
        log   => $self->log_file,
        ready => sub { my $r = http_request(port => $port, request => 'GET /healthz', timeout => 2);
                       ($r->{status} // 0) == 200 },
        timeout => 10,
    );
    return $self;
}

# Runs controld to completion (for start-up errors): (exit code, output).
# run_once(env => {...} (added to its environment), args => [...] (added to
# its command line), timeout => 5 (then SIGKILL and exit code -1))
sub run_once {
    my ($self, %args) = @_;
    my $log = "$self->{dir}/run-" . int(rand 1e9) . '.log';
    my $proc = Test::Levqor::Process->spawn(name => 'levqor-controld',
                                            cmd => [$self->command, @{ $args{args} || [] }],
                                            env => { %{ $self->environment }, %{ $args{env} || {} } },
                                            log => $log);
    unless ($proc->wait_exit($args{timeout} || 5)) {
        $proc->stop(signal => 'KILL');
        return (-1, (slurp($log) // '') . "\n[still running; killed]");
    }
    return ($proc->exit_status >> 8, slurp($log) // '');
}

sub hup { $_[0]{proc}->kill('HUP') }

# SIGTERM; true if it exited within $timeout seconds.
sub stop {
    my ($self, $timeout) = @_;
    return 1 unless $self->{proc};
    return $self->{proc}->stop(signal => 'TERM', timeout => $timeout || 5);
}

# request('GET /ops/flags', token => 'admin' | 'producer' | $literal, body => $text,
#         more_headers => "...", timeout => 5)
sub request {
    my ($self, $request, %args) = @_;
    my $headers = $args{more_headers} // '';
    if (defined $args{token}) {
        my $token = $args{token} eq 'admin' ? $self->{admin_token}
                  : $args{token} eq 'producer' ? $self->{producer_token} : $args{token};
        $headers .= "Authorization: Bearer $token\n";
    }
    $headers .= "Content-Type: application/json\n" if defined $args{body};
    return http_request(port => $self->{port}, request => $request, more_headers => $headers,
                        (defined $args{body} ? (body => $args{body}) : ()),
                        timeout => $args{timeout} || 5);
}

# levqorctl against this controld: (exit code, stdout+stderr).
sub ctl {
    my ($self, @args) = @_;
    return run_cmd(ctl_binary(), '--url', $self->url, '--token-file', $self->token_file('admin'), @args);
}

# Waits up to $timeout s for a log line for which $match->($line) is true.
sub wait_log {
    my ($self, $match, $timeout) = @_;
    return wait_until($timeout || 5, sub { (grep { defined && $match->($_) } $self->log_lines)[0] }, 0.05);
}

sub json_of {
    my ($res) = @_;
    return eval { $JSON->decode($res->{body} // '') };
}

# released_together($n, sub { my ($i) = @_; ...; return $small_int })
# Forks $n children that wait for one signal file and then run the sub
# at once (e.g. a request each); returns the children's results (exit
# codes, 0 - 255) in the order they were forked.
sub released_together {
    my ($n, $work) = @_;
    my $go = temp_dir('released') . '/go';
    my @pids;
    for my $i (1 .. $n) {
        my $pid = fork // die "fork: $!";
        if (!$pid) {
            sleep 0.005 until -e $go;
            my $code = eval { $work->($i) } // 255;
            require POSIX;
            POSIX::_exit($code);
        }
        push @pids, $pid;
    }
    sleep 0.2;  # every child polling
    spew($go, '');
    return map { waitpid($_, 0); $? >> 8 } @pids;
}

# Runs promtool check metrics on $text: (ok, output). The exposition passes
# only when promtool exits 0 with no findings at all (no lint exception).
sub promtool_check {
    my ($text) = @_;
    my $file = temp_dir('promtool') . '/metrics.txt';
    spew($file, $text);
    my ($code, $out) = run_cmd('/bin/sh', '-c', "promtool check metrics < '$file' 2>&1");
    my @findings = grep { /\S/ } split /\n/, $out // '';
    return ($code == 0 && !@findings ? 1 : 0, $out);
}

# A tiny HTTP server for tests, in its own process:
#   fake_http_server(port => N, record => $file)   answers 200 {} to everything and
#                                                  appends each request as a JSON line
#   fake_http_server(port => N, delay => 2, body => $text)   answers after a delay
sub fake_http_server {
    my (%args) = @_;
    my $port = $args{port} || free_port();
    my $script = repo_root() . '/t/lib/Test/Levqor/fake_http_server.pl';
    my $proc = spawn_server(
        name  => 'fake-http',
        cmd   => [$^X, $script, $port, $args{record} // '', $args{delay} // 0, $args{body} // '{}',
                  $args{status} // 200],
        ready => sub { IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port", Timeout => 1) },
    );
    return ($proc, $port);
}

1;
