# SPDX-License-Identifier: Apache-2.0
package Test::Levqor::Process;

# A child process that is guaranteed not to outlive the test:
# - it runs in its own process group (so its own children can be swept too),
# - it gets SIGTERM if the test process dies, even by SIGKILL (PR_SET_PDEATHSIG),
# - every live process is stopped in an END block and on SIGINT/SIGTERM/SIGHUP.
#
#   my $p = Test::Levqor::Process->spawn(name => 'redis', cmd => [...], log => $file);
#   $p->alive; $p->kill('HUP'); $p->stop(signal => 'TERM', timeout => 5);

use strict;
use warnings;

use Carp qw(croak);
use Exporter qw(import);
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep);

use Test::Levqor::Sanitizer qw(nginx_env);
use Test::Levqor::Util qw(temp_dir slurp tail_text wait_until);

our @EXPORT_OK = qw(spawn_server);

my %LIVE;               # pid => process object, in the process that spawned it
my $OWNER_PID = $$;     # forked children must never run the cleanup

# prctl(PR_SET_PDEATHSIG) makes the kernel signal our children when this
# process dies, even by SIGKILL. syscall.ph knows the syscall number; the
# table covers the usual machines when it cannot be loaded.
my $PR_SET_PDEATHSIG = 1;
my $SYS_PRCTL = do {
    local $@;
    no warnings;
    eval { package Test::Levqor::Process::Syscall; require 'syscall.ph'; &SYS_prctl() }
        // { x86_64 => 157, aarch64 => 167 }->{ (POSIX::uname())[4] };
};

sub spawn {
    my ($class, %args) = @_;
    my $cmd = $args{cmd};
    croak 'spawn: cmd => [program, args...] is required' unless ref $cmd eq 'ARRAY' && @$cmd;
    my $name = ($args{name} || $cmd->[0]) =~ s{.*/}{}r =~ s/[^\w.-]+/_/gr;
    my $log  = $args{log}  || temp_dir("$name-log") . "/$name.log";

    # An nginx a suite starts itself (not through Test::Levqor::Nginx) gets the
    # ASan pass's preload too, or the sanitized module could not load.
    $args{env} = { nginx_env(), %{ $args{env} || {} } } if $cmd->[0] =~ m{(?:^|/)nginx$};
    my $pid = fork;
    croak "spawn $name: fork failed: $!" unless defined $pid;
    exec_child($cmd, $log, \%args) if $pid == 0;

    my $self = bless {
        pid => $pid, name => $name, log_file => $log, cmd => [@$cmd], exit_status => undef,
    }, $class;
    $LIVE{$pid} = $self;
    return $self;
}

# In the child: never returns, never runs the parent's END blocks.
sub exec_child {
    my ($cmd, $log, $args) = @_;
    setpgrp(0, 0);
    syscall($SYS_PRCTL, $PR_SET_PDEATHSIG, 15) if defined $SYS_PRCTL;
    $SIG{$_} = 'DEFAULT' for qw(INT TERM HUP PIPE);
    if (open(my $null, '<', '/dev/null')) { open STDIN, '<&', $null }
    if (open(my $out, '>>', $log)) {
        open STDOUT, '>&', $out;
        open STDERR, '>&', $out;
    }
    my $env = $args->{env} || {};
    @ENV{keys %$env} = values %$env;
    chdir $args->{dir} if defined $args->{dir};
    { no warnings 'exec'; exec { $cmd->[0] } @$cmd; }
    print STDERR "cannot exec '$cmd->[0]': $!\n";
    POSIX::_exit(127);
}

sub pid      { $_[0]{pid} }
sub name     { $_[0]{name} }
sub log_file { $_[0]{log_file} }
sub log_text { slurp($_[0]{log_file}) // '' }

# Exit status as from $? (undef while running).
sub exit_status { $_[0]{exit_status} }

# "exited with code 1" / "was killed by signal 11" / "is running".
sub exit_text {
    my ($self) = @_;
    my $status = $self->{exit_status};
    return 'is running' unless defined $status;
    return 'exited with code ' . ($status >> 8) unless $status & 127;
    return 'was killed by signal ' . ($status & 127) . ($status & 128 ? ' (core dumped)' : '');
}

sub alive {
    my ($self) = @_;
    return 0 if defined $self->{exit_status};
    local $?;
    my $r = waitpid($self->{pid}, WNOHANG);
    return 1 if $r == 0;
    $self->{exit_status} = $r == $self->{pid} ? $? : -1;
    delete $LIVE{$self->{pid}};
    return 0;
}

sub kill {
    my ($self, $sig) = @_;
    return 0 unless $self->alive;
    return CORE::kill($sig, $self->{pid});
}

# True once the process has exited (waits at most $timeout seconds).
sub wait_exit {
    my ($self, $timeout) = @_;
    return wait_until($timeout, sub { !$self->alive }, 0.01);
}

# Sends $signal (default TERM), waits, then SIGKILLs the whole process group.
# Returns true if the process exited on the first signal.
sub stop {
    my ($self, %args) = @_;
    my $signal  = $args{signal}  || 'TERM';
    my $timeout = $args{timeout} || 5;
    return 1 unless $self->alive;
    CORE::kill($signal, $self->{pid});
    my $graceful = $self->wait_exit($timeout);
    unless ($graceful) {
        CORE::kill('KILL', -$self->{pid});
        $self->wait_exit(5);
    }
    return $graceful;
}

# Kills what is left of the process group (e.g. nginx workers after the master died).
sub sweep_group {
    my ($self) = @_;
    CORE::kill('KILL', -$self->{pid});
}

sub stop_all {
    return unless $$ == $OWNER_PID;
    local ($?, $!, $@);
    for my $proc (values %LIVE) {
        $proc->stop(signal => 'TERM', timeout => 3);
        $proc->sweep_group;
    }
}

END { stop_all() }

# Ctrl-C or a killed prove must not leave servers behind: exit normally so
# END blocks (ours and Test::Builder's) run.
for my $sig (qw(INT TERM HUP)) {
    next if defined $SIG{$sig} && $SIG{$sig} ne 'DEFAULT' && $SIG{$sig} ne '';
    $SIG{$sig} = sub {
        return unless $$ == $OWNER_PID;
        print STDERR "# caught SIG$sig, stopping test servers\n";
        stop_all();
        exit 1;
    };
}

# Starts a background server and waits until ready->() is true.
#   spawn_server(name => 'redis', cmd => [...], ready => sub { ... },
#                timeout => 10, env => {...}, dir => $cwd, log => $file)
# Dies (with the server's output) if it exits or is not ready in time.
sub spawn_server {
    my (%args) = @_;
    my $ready   = $args{ready} || sub { 1 };
    my $timeout = $args{timeout} || 10;
    my $proc = __PACKAGE__->spawn(%args);
    my $ok = wait_until($timeout, sub { !$proc->alive || $ready->($proc) }, 0.05);
    return $proc if $ok && $proc->alive;

    my $why = $proc->alive ? "was not ready after ${timeout}s" : $proc->exit_text;
    $proc->stop(timeout => 2);
    croak sprintf("spawn_server %s (%s) %s; output (%s):\n%s",
        $proc->name, join(' ', @{ $proc->{cmd} }), $why, $proc->log_file,
        tail_text($proc->log_text, 40));
}

1;
