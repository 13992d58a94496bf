#!/usr/bin/perl
# SPDX-License-Identifier: Apache-2.0
# exec jobs against the real controld (security review M9): the command sees
# only descriptors 0, 1 and 2 whatever controld holds (its listening socket,
# the request's connection, SQLite files, Redis connections), and controld
# opens its own descriptors close-on-exec (the sockets it accepts too); job
# arguments that start with '-' are refused unless the command declares
# options_allowed; a command with "user" runs as that user (when controld
# runs as root), and a controld that is not root refuses a user other than
# its own at start.
use strict;
use warnings;

use lib 't/lib';
use Test::Levqor;
use Test::Levqor::Controld qw(json_of controld_binary);
use Test::Levqor::Redis;
use Test::Levqor::Util qw(temp_dir slurp run_cmd wait_until);
use JSON::PP ();

my $JSON = JSON::PP->new->canonical;
my $root = $> == 0;
my ($no_redis) = run_cmd('/bin/sh', '-c', 'command -v redis-server');
my $redis = $no_redis == 0 ? Test::Levqor::Redis->new : undef;
my $marker = temp_dir('exec-marker') . '/pwned';

my $cd = Test::Levqor::Controld->new(
    env => { ($redis ? (REDIS_URL => 'redis://127.0.0.1:' . $redis->port) : ()) },
    config => {
        queue => {
            workers => 2,
            exec => {
                # ls runs in a child of the shell (": " keeps sh from exec'ing
                # it) and lists the shell's own descriptors.
                fds  => { path => '/bin/sh', args => ['-c', 'ls /proc/$$/fd; :'] },
                find => { path => '/usr/bin/find', args_allowed => JSON::PP::true },
                echo => { path => '/bin/echo', args_allowed => JSON::PP::true,
                          options_allowed => JSON::PP::true },
                ($root ? (whoami => { path => '/bin/sh', args => ['-c', 'id -un; id -u; id -g; id -G'],
                                      user => 'nobody' }) : ()),
            },
        },
    },
);
$cd->start;

sub run_job {
    my ($payload, %args) = @_;
    my $res = $cd->request('POST /jobs', token => 'producer',
                           body => $JSON->encode({ type => 'exec', payload => $payload }));
    return ($res, json_of($res) // {});
}

# controld's descriptors: fd -> { target, cloexec }.
sub controld_fds {
    my $pid = $cd->proc->pid;
    my %fds;
    opendir my $dh, "/proc/$pid/fd" or return {};
    for my $fd (grep { /^\d+$/ } readdir $dh) {
        my $target = readlink("/proc/$pid/fd/$fd") // next;
        my ($flags) = (slurp("/proc/$pid/fdinfo/$fd") // '') =~ /^flags:\s+([0-7]+)/m;
        next unless defined $flags;
        $fds{$fd} = { target => $target, cloexec => oct($flags) & 02000000 ? 1 : 0 };
    }
    return \%fds;
}

subtest 'the command sees only 0, 1 and 2 while controld holds sockets and databases' => sub {
    # An idle client connection, so controld holds an accepted socket too.
    my $idle = IO::Socket::INET->new(PeerAddr => '127.0.0.1:' . $cd->port) or die "connect: $!";
    my $fds = controld_fds();
    ok((grep { $_->{target} =~ /queue(-spool)?\.sqlite$/ } values %$fds), 'controld holds its SQLite database');
    ok((grep { $_->{target} =~ /^socket:/ } values %$fds) >= 2, 'and sockets');

    # NEW_QUEUE_ENABLED=off (the default): the job runs inside the request,
    # while controld holds that request's connection.
    my ($res, $body) = run_job({ command => 'fds' });
    is($res->{status}, 200, 'ran in the request') or diag $res->{body};
    is($body->{result}{stdout}, "0\n1\n2\n", 'inline: only 0, 1, 2') or diag $body->{result}{stdout};

    my ($code, $out) = $cd->ctl(qw(flags set NEW_QUEUE_ENABLED on));
    is($code, 0, 'queued mode') or diag $out;
    ($res, $body) = run_job({ command => 'fds' });
    is($res->{status}, 202, 'queued');
    my $job;
    ok(wait_until(10, sub { $job = json_of($cd->request("GET /jobs/$body->{id}", token => 'producer'));
                            ($job->{status} // '') eq 'succeeded' }, 0.05), 'a worker ran it');
    is($job->{result}{stdout}, "0\n1\n2\n", 'worker: only 0, 1, 2') or diag explain $job;
    $cd->ctl(qw(flags set NEW_QUEUE_ENABLED off));
    close $idle;
};

# Descriptors controld got from whoever started it (the test runner's own,
# same number and target here): not controld's to open close-on-exec.
sub inherited {
    my ($fd, $target) = @_;
    my $ours = readlink("/proc/$$/fd/$fd");
    return defined $ours && $ours eq $target;
}

subtest "controld's own descriptors are close-on-exec" => sub {
    # A client connection held open, so an accepted socket is among them.
    my $idle = IO::Socket::INET->new(PeerAddr => '127.0.0.1:' . $cd->port) or die "connect: $!";
    is($cd->request('GET /healthz')->{status}, 200, 'controld answers');
    my $fds = controld_fds();
    my @open = grep { $_ > 2 && !inherited($_, $fds->{$_}{target}) } sort { $a <=> $b } keys %$fds;
    ok(@open >= 4, scalar(@open) . ' descriptors above 2 (databases, listening and accepted sockets'
                   . ($redis ? ', redis' : '') . ')');
    my @leaky = grep { !$fds->{$_}{cloexec} } @open;
    is_deeply([map { "$_ $fds->{$_}{target}" } @leaky], [], 'all close-on-exec')
        or diag explain $fds;
    close $idle;
};

subtest 'job arguments that start with "-" are refused unless options_allowed' => sub {
    # The review's repro: find ... -exec runs anything.
    my ($res, $body) = run_job({ command => 'find',
                                 args => ['/tmp', '-maxdepth', '0', '-exec', '/bin/sh', '-c', "id >$marker", '{}', ';'] });
    is($res->{status}, 400, 'refused with 400');
    is($body->{error}, 'invalid_job', 'invalid_job');
    like($body->{message}, qr/^payload\.args\[1\] "-maxdepth" starts with '-': command "find" takes no options from jobs/,
         'names the argument');
    ok(!-e $marker, 'nothing ran');
    ($res, $body) = run_job({ command => 'find', args => ['/nonexistent-levqor'] });
    is($res->{status}, 200, 'operands are fine') or diag $res->{body};
    ($res, $body) = run_job({ command => 'echo', args => ['-n', 'x'] });
    is($res->{status}, 200, 'options_allowed: true lets them through');
    is($body->{result}{stdout}, 'x', 'as options');
};

subtest 'user: nobody runs as nobody' => sub {
    plan skip_all => 'switching users needs controld to run as root' unless $root;
    my ($res, $body) = run_job({ command => 'whoami' });
    is($res->{status}, 200, 'ran') or diag $res->{body};
    is($body->{result}{stdout}, "nobody\n65534\n65534\n65534\n", 'uid, gid and groups of nobody');
};

subtest 'a controld that is not root refuses another user at start' => sub {
    my $bad = Test::Levqor::Controld->new(tokens => 0, config => {
        queue => { exec => { x => { path => '/bin/true', user => 'root' } } } });
    $bad->command;    # writes the config file
    my @cmd = (controld_binary(), '--config', $bad->config_file);
    @cmd = ('runuser', '-u', 'nobody', '--', @cmd) if $root;
    my ($code, $out) = run_cmd(@cmd);
    if ($root || $> != 0) {
        is($code, 2, 'exit 2');
        like($out, qr/queue\.exec\.x\.user\\?" = \\?"root\\?" is invalid: only root can run a command as another user/,
             'names the key and says why') or diag $out;
    }
};

$cd->stop;
$redis->stop if $redis;
done_testing();
