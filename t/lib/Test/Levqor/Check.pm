# SPDX-License-Identifier: Apache-2.0
package Test::Levqor::Check;

# Assertions for one block. Every assertion is named "<block name> - <what>",
# failures are reported at the .t file's line (not inside t/lib), and the
# object remembers whether anything failed so the runner can print the
# response and error log once.

use strict;
use warnings;

use Test::More ();

use Test::Levqor::HTTP qw(format_response);

sub new {
    my ($class, $name) = @_;
    return bless { name => $name, failures => 0 }, $class;
}

sub failures { $_[0]{failures} }

# Test::Builder level that points at the first caller outside t/lib/Test/Levqor*.
sub level {
    my $depth = 1;
    while (my @frame = caller($depth)) {
        last if $frame[1] !~ m{Test/Levqor(?:\.pm|/)};
        $depth++;
    }
    return $depth;
}

sub record {
    my ($self, $passed, @diag) = @_;
    return 1 if $passed;
    $self->{failures}++;
    Test::More::diag(@diag) if @diag;
    return 0;
}

sub ok {
    my ($self, $passed, $what, @diag) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + $self->level;
    return $self->record(Test::More::ok($passed, "$self->{name} - $what"), @diag);
}

sub is {
    my ($self, $got, $want, $what, @diag) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + $self->level;
    return $self->record(Test::More::is($got, $want, "$self->{name} - $what"), @diag);
}

sub like {
    my ($self, $got, $re, $what, @diag) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + $self->level;
    return $self->record(Test::More::like($got, $re, "$self->{name} - $what"), @diag);
}

# Checks one response against one request's expectations; prints the
# response once if any check failed.
sub response {
    my ($self, $res, $expect, $label, $ignore_response) = @_;
    return if $ignore_response;
    my $before = $self->{failures};
    $self->ok(defined $res->{status} && !defined $res->{error}, "${label}got a complete response",
        'error: ' . ($res->{error} // ''));
    $self->is($res->{status}, $expect->{error_code}, "${label}status") if defined $expect->{error_code};
    $self->headers($res, $expect, $label);
    $self->is($res->{body}, $expect->{response_body}, "${label}body") if defined $expect->{response_body};
    if (defined $expect->{response_body_like}) {
        my $re = $expect->{response_body_like};
        $self->like($res->{body} // '', ref $re ? $re : qr/$re/s, "${label}body like");
    }
    Test::More::diag("${label}response was:\n" . format_response($res)) if $self->{failures} > $before;
}

sub headers {
    my ($self, $res, $expect, $label) = @_;
    for my $h (@{ $expect->{response_headers} }) {
        my ($name, $want) = @$h;
        my $got = $res->{headers}{lc $name};
        if (defined $want) {
            $self->is($got, $want, "${label}header $name");
        } else {
            $self->ok(!defined $got, "${label}header $name absent",
                "header $name is present: '" . ($got // '') . "'");
        }
    }
    for my $h (@{ $expect->{response_headers_like} }) {
        my ($name, $re) = @$h;
        my $got = $res->{headers}{lc $name};
        $self->like($got // '', qr/^(?:$re)$/, "${label}header $name like",
            defined $got ? () : "header $name is absent");
    }
}

sub pattern_text { my ($p) = @_; return ref $p ? "$p" : "'$p'" }

sub matches {
    my ($text, $p) = @_;
    return ref $p ? $text =~ $p : index($text, $p) >= 0;
}

# error_log: every pattern occurs; no_error_log: none does; and nginx shut
# down on SIGQUIT without [alert], [crit] or [emerg].
sub error_log {
    my ($self, $log, $spec, $stop_problem) = @_;
    my @lines = split /\n/, $log;
    $self->log_asserted($spec);
    for my $p (@{ $spec->{error_log} }) {
        $self->ok(matches($log, $p), 'error_log has ' . pattern_text($p),
            'not found in error.log (its last lines follow the checks)');
    }
    for my $p (@{ $spec->{no_error_log} }) {
        my @found = grep { matches($_, $p) } @lines;
        $self->ok(!@found, 'error_log lacks ' . pattern_text($p),
            "found in error.log:\n" . join("\n", @found[0 .. ($#found < 9 ? $#found : 9)]));
    }
    $self->clean_shutdown(\@lines, $stop_problem);
}

# A block that starts nginx must say what its error log holds: --- error_log
# (the lines it expects) or --- no_error_log (at least [error] when it expects
# none). A block without either fails here, so the rule holds for new blocks.
sub log_asserted {
    my ($self, $spec) = @_;
    return 1 if @{ $spec->{error_log} } || @{ $spec->{no_error_log} };
    return $self->ok(0, 'asserts its error log',
        'the block has neither --- error_log nor --- no_error_log: add --- no_error_log [error], '
      . 'or the --- error_log lines it expects (docs/testing.md)');
}

sub clean_shutdown {
    my ($self, $lines, $stop_problem) = @_;
    my @bad = grep { /\[(?:alert|crit|emerg)\]/ } @$lines;
    my @diag = (@bad ? join("\n", 'alerts in error.log:', @bad) : (),
                defined $stop_problem ? $stop_problem : ());
    $self->ok(!@diag, 'clean shutdown, no [alert], [crit] or [emerg] in error.log', join("\n", @diag));
}

1;
