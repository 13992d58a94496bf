# SPDX-License-Identifier: Apache-2.0
package Test::Levqor::Util;

# Small helpers shared by the Test::Levqor runner: paths, ports, files,
# commands and $TEST_NGINX_* substitution. No Test::Builder output here.

use strict;
use warnings;

use Carp qw(croak);
use Cwd qw(abs_path);
use Exporter qw(import);
use File::Basename qw(dirname basename);
use File::Path qw(make_path);
use File::Spec;
use Fcntl qw(O_WRONLY O_CREAT O_EXCL LOCK_SH);
use File::Temp ();
use IO::Socket::INET;
use IPC::Open3 qw(open3);
use Symbol qw(gensym);
use Time::HiRes qw(time sleep);

our @EXPORT_OK = qw(
    repo_root build_dir free_port temp_dir keep_temp
    slurp slurp_locked spew run_cmd wait_until tail_text
    expand_vars env_test_vars
);

my $REPO_ROOT = abs_path(File::Spec->catdir(dirname(__FILE__), ('..') x 4));

sub repo_root { return $REPO_ROOT }

sub build_dir {
    return $ENV{LEVQOR_BUILD} if defined $ENV{LEVQOR_BUILD} && length $ENV{LEVQOR_BUILD};
    return "$REPO_ROOT/build";
}

sub keep_temp { return $ENV{LEVQOR_TEST_KEEP} ? 1 : 0 }

# A fresh directory, removed at exit unless LEVQOR_TEST_KEEP=1.
# Mode 0755 so that helper servers running as other users can read it.
sub temp_dir {
    my ($label) = @_;
    my $template = join('-', 'levqor', map { s/[^\w.]+/_/gr } grep { defined && length } basename($0), $label)
        . '-XXXXXX';
    my $dir = File::Temp::tempdir($template, TMPDIR => 1, CLEANUP => !keep_temp());
    chmod 0755, $dir;
    return $dir;
}

# Ports handed out by this process, so two calls never return the same one.
my %issued_ports;

# A free TCP port on 127.0.0.1. nginx is restarted on the same ports for
# every block, so ports come from just below the kernel's ephemeral range:
# an outgoing connection (or another test's bind to port 0) can never take
# them while nginx is briefly down. A port is also claimed for the life of
# this process in a directory shared by every test process on the machine
# (prove -j, several checkouts), so two suites never get the same one.
# Falls back to binding port 0.
sub free_port {
    my ($low, $high) = port_range();
    for (1 .. 200) {
        my $port = $high ? $low + int rand($high - $low + 1) : 0;
        my $sock = IO::Socket::INET->new(
            LocalAddr => '127.0.0.1',
            LocalPort => $port,
            Proto     => 'tcp',
            Listen    => 1,
        ) or next;
        $port = $sock->sockport;
        close $sock;
        next if $issued_ports{$port}++;
        next unless claim_port($port);
        return $port;
    }
    croak 'free_port: no free port on 127.0.0.1 after 200 attempts';
}

my $PORT_CLAIMS = ($ENV{TMPDIR} || '/tmp') . '/levqor-test-ports';
my $CLAIM_OWNER = $$;
my @claimed;

# Creates <claims>/<port> holding our pid; false if a live process holds it.
sub claim_port {
    my ($port) = @_;
    unless (-d $PORT_CLAIMS) {
        mkdir $PORT_CLAIMS;
        chmod 01777, $PORT_CLAIMS;
    }
    my $file = "$PORT_CLAIMS/$port";
    for (1 .. 2) {
        if (sysopen(my $fh, $file, O_WRONLY | O_CREAT | O_EXCL, 0644)) {
            print {$fh} $$;
            close $fh;
            push @claimed, $file;
            return 1;
        }
        my ($holder) = (slurp($file) // '') =~ /^(\d+)/;
        return 0 if $holder && (kill(0, $holder) || $!{EPERM});
        unlink $file;    # its process is gone
    }
    return 0;
}

END { unlink @claimed if $$ == $CLAIM_OWNER }

sub port_range {
    my ($ephemeral_low) = (slurp('/proc/sys/net/ipv4/ip_local_port_range') // '') =~ /^(\d+)/;
    return (0, 0) unless $ephemeral_low && $ephemeral_low > 4096;
    my $low = $ephemeral_low - 12000;
    $low = 2048 if $low < 2048;
    return ($low, $ephemeral_low - 1);
}

sub slurp {
    my ($path) = @_;
    open my $fh, '<:raw', $path or return undef;
    local $/;
    my $text = <$fh>;
    close $fh;
    return defined $text ? $text : '';
}

# slurp() under a shared flock: for files another process appends to under
# an exclusive one (job_target.pl's delivery records), so a line being
# written is never read half done.
sub slurp_locked {
    my ($path) = @_;
    open my $fh, '<:raw', $path or return undef;
    flock($fh, LOCK_SH) or croak "flock $path: $!";
    local $/;
    my $text = <$fh>;
    close $fh;
    return defined $text ? $text : '';
}

sub spew {
    my ($path, $content) = @_;
    make_path(dirname($path));
    open my $fh, '>:raw', $path or croak "cannot write $path: $!";
    print {$fh} $content;
    close $fh or croak "cannot close $path: $!";
    return $path;
}

# Runs a command (list form, no shell), returns (exit_code, stdout+stderr).
sub run_cmd {
    my (@cmd) = @_;
    my $out = gensym;
    my $pid = eval { open3(my $in, $out, undef, @cmd) };
    return (127, "cannot run '$cmd[0]': $@") unless $pid;
    local $/;
    my $output = <$out>;
    waitpid($pid, 0);
    my $code = $? >> 8;
    $code = 128 + ($? & 127) if $? & 127;
    return ($code, defined $output ? $output : '');
}

# Polls $cond every $step seconds until it returns true or $timeout passes.
# Returns the condition's last value.
sub wait_until {
    my ($timeout, $cond, $step) = @_;
    $step ||= 0.02;
    my $deadline = time + $timeout;
    while (1) {
        my $value = $cond->();
        return $value if $value;
        return $value if time >= $deadline;
        sleep $step;
    }
}

# The last $n lines of $text, for diagnostics.
sub tail_text {
    my ($text, $n) = @_;
    return '' unless defined $text && length $text;
    my @lines = split /\n/, $text;
    $n ||= 30;
    my @tail = @lines > $n ? ('...', @lines[-$n .. -1]) : @lines;
    return join("\n", @tail) . "\n";
}

# TEST_NGINX_* variables from the environment (a suite can export its own).
sub env_test_vars {
    return map { $_ => $ENV{$_} } grep { /^TEST_NGINX_[A-Z0-9_]+$/ } keys %ENV;
}

# Replaces $TEST_NGINX_NAME and ${TEST_NGINX_NAME} with values from
# %$vars; an unknown name is an error that says where it was used.
sub expand_vars {
    my ($text, $vars, $where) = @_;
    return $text unless defined $text && !ref $text;
    $text =~ s{\$(?:\{(TEST_NGINX_[A-Z0-9_]+)\}|(TEST_NGINX_[A-Z0-9_]+))}{
        my $name = defined $1 ? $1 : $2;
        defined $vars->{$name} ? $vars->{$name}
          : croak "unknown variable \$$name in $where (export it as an environment variable "
                . "or use one of: " . join(', ', sort keys %$vars) . ")\n";
    }ge;
    return $text;
}

1;
