#!/usr/bin/perl
# SPDX-License-Identifier: Apache-2.0
# levqor-controld under systemd's Type=notify, without systemd: the test is
# the NOTIFY_SOCKET listener (an AF_UNIX datagram socket, as systemd's) and
# asserts what the real daemon sends: READY=1 once it serves, WATCHDOG=1
# every half WATCHDOG_USEC, RELOADING=1 then READY=1 around a SIGHUP,
# STOPPING=1 on SIGTERM, in that order.
use strict;
use warnings;

use lib 't/lib';
use Test::Levqor;
use Test::Levqor::Controld;
use Test::Levqor::Util qw(temp_dir);
use IO::Select;
use IO::Socket::UNIX;
use Socket qw(SOCK_DGRAM);
use Time::HiRes qw(time);

# Datagrams received until $until->(all so far) is true or $timeout passes.
sub receive_until {
    my ($sock, $messages, $until, $timeout) = @_;
    my $select = IO::Select->new($sock);
    my $deadline = time + ($timeout // 10);
    until ($until->(@$messages)) {
        my $left = $deadline - time;
        return 0 if $left <= 0;
        next unless $select->can_read($left);
        my $datagram;
        $sock->recv($datagram, 4096) // next;
        push @$messages, $datagram;
    }
    return 1;
}

sub kinds { map { /^(READY|RELOADING|STOPPING|WATCHDOG)=1$/m ? $1 : 'STATUS' } @_ }

subtest 'READY, WATCHDOG, RELOADING/READY, STOPPING in order' => sub {
    my $dir  = temp_dir('notify');
    my $path = "$dir/notify";
    my $sock = IO::Socket::UNIX->new(Type => SOCK_DGRAM, Local => $path) or die "listen on $path: $!";
    my $cd = Test::Levqor::Controld->new(env => { NOTIFY_SOCKET => $path, WATCHDOG_USEC => 200_000 });
    $cd->start;
    my @got;
    ok(receive_until($sock, \@got, sub { grep { /^READY=1$/m } @_ }), 'READY=1') or diag explain \@got;
    like($got[0], qr/^READY=1\nSTATUS=serving on 127\.0\.0\.1:${\ $cd->port }$/, 'first: READY=1 with STATUS')
        or diag explain \@got;
    ok(receive_until($sock, \@got, sub { (grep { $_ eq "WATCHDOG=1" } @_) >= 2 }), 'WATCHDOG=1, repeatedly')
        or diag explain \@got;

    $cd->hup;
    ok(receive_until($sock, \@got, sub { my @k = kinds(@_); "@k" =~ /RELOADING( WATCHDOG)* READY$/ }),
       'SIGHUP: RELOADING=1, then READY=1') or diag explain \@got;
    ok((grep { /^RELOADING=1\nSTATUS=reloading the configuration\nMONOTONIC_USEC=\d+$/ } @got),
       'RELOADING=1 carries STATUS and MONOTONIC_USEC') or diag explain \@got;

    ok($cd->stop(10), 'SIGTERM: exits');
    is($cd->proc->exit_status >> 8, 0, 'exit 0');
    receive_until($sock, \@got, sub { grep { /^STOPPING=1$/m } @_ }, 2);
    my @kinds = kinds(@got);
    is($kinds[-1], 'STOPPING', 'STOPPING=1 is the last message') or diag explain \@got;
    like($got[-1], qr/^STOPPING=1\nSTATUS=stopping: requests and jobs in flight get up to 5000 ms$/, 'its STATUS');
    like("@kinds", qr/^READY (WATCHDOG )+.*RELOADING (WATCHDOG )*READY (WATCHDOG )*STOPPING$/, 'the order')
        or diag "@kinds";
};

subtest 'an abstract socket name; a watchdog meant for another process' => sub {
    my $name = 'levqor-notify-' . $$ . '-' . int(rand 1e9);
    my $sock = IO::Socket::UNIX->new(Type => SOCK_DGRAM, Local => "\0$name") or die "listen on \@$name: $!";
    my $cd = Test::Levqor::Controld->new(
        env => { NOTIFY_SOCKET => "\@$name", WATCHDOG_USEC => 100_000, WATCHDOG_PID => 1 });
    $cd->start;
    my @got;
    ok(receive_until($sock, \@got, sub { grep { /^READY=1$/m } @_ }), 'READY=1 over the abstract socket');
    ok($cd->stop(10), 'SIGTERM: exits');
    receive_until($sock, \@got, sub { grep { /^STOPPING=1$/m } @_ }, 2);
    is_deeply([kinds(@got)], [qw(READY STOPPING)], 'no WATCHDOG=1: WATCHDOG_PID names another process');
};

subtest 'a NOTIFY_SOCKET that cannot be used is a start-up error naming it' => sub {
    my $cd = Test::Levqor::Controld->new(env => { NOTIFY_SOCKET => 'relative/path' });
    my ($code, $out) = $cd->run_once;
    is($code, 2, 'exit 2');
    like($out, qr/NOTIFY_SOCKET=\\"relative\/path\\" is invalid: expected an absolute socket path/, 'the message');
};

done_testing();
