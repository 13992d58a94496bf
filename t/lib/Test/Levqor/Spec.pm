# SPDX-License-Identifier: Apache-2.0
package Test::Levqor::Spec;

# Turns one filtered Test::Base block into a plain hash that the runner
# executes: config sections with $TEST_NGINX_* expanded, the raw bytes of
# every request, and per-request expectations. Every mistake in a block
# (unknown section value, wrong number of eval entries) dies here with the
# block's name, before nginx is started.

use strict;
use warnings;

use Carp qw(croak);
use Exporter qw(import);

use Test::Levqor::HTTP qw(build_request);

our @EXPORT_OK = qw(block_spec log_patterns parse_header_lines);

# Sections whose value may be an eval arrayref with one entry per request.
my @PER_REQUEST = qw(
    more_headers error_code response_headers response_headers_like
    response_body response_body_like
);

sub block_spec {
    my ($block, $nginx, $defaults) = @_;
    my $name = $block->name;
    my $ctx  = { block => $block, nginx => $nginx, name => $name };
    my %spec = (name => $name);

    $spec{$_} = expanded($ctx, $_) // '' for qw(main_config http_config config);
    $spec{log_level}       = trimmed($ctx, 'log_level') // $defaults->{log_level} // 'info';
    $spec{timeout}         = number($ctx, 'timeout') // 5;
    $spec{wait}            = number($ctx, 'wait') // 0;
    $spec{tls}             = has($ctx, 'tls');
    $spec{ignore_response} = has($ctx, 'ignore_response');
    $spec{must_die}        = has($ctx, 'must_die') ? (trimmed($ctx, 'must_die') // '') : undef;
    $spec{user_files}      = user_files($ctx);
    $spec{error_log}       = [log_patterns(expanded($ctx, 'error_log'))];
    $spec{no_error_log}    = [log_patterns(expanded($ctx, 'no_error_log'))];
    $spec{requests}        = requests($ctx);
    $spec{expect}          = expectations($ctx, scalar @{ $spec{requests} });
    return \%spec;
}

sub has { exists $_[0]{block}{$_[1]} }

# The section's (first) value after filters, or undef when absent.
sub value {
    my ($ctx, $section) = @_;
    return undef unless has($ctx, $section);
    my @values = @{ $ctx->{block}{$section} || [] };
    return $values[0];
}

sub trimmed {
    my ($ctx, $section) = @_;
    my $v = value($ctx, $section);
    return undef unless defined $v && !ref $v;
    $v =~ s/^\s+|\s+$//g;
    return length $v ? $v : undef;
}

sub number {
    my ($ctx, $section) = @_;
    my $v = trimmed($ctx, $section);
    return undef unless defined $v;
    croak "--- $section in $ctx->{name} must be a number of seconds, not '$v'"
        unless $v =~ /^\d+(?:\.\d+)?$/;
    return $v;
}

# Expands $TEST_NGINX_* in strings, recursively in array refs; leaves qr// alone.
sub expand_value {
    my ($ctx, $v, $section) = @_;
    return $v unless defined $v;
    return [map { expand_value($ctx, $_, $section) } @$v] if ref $v eq 'ARRAY';
    return $v if ref $v;
    return $ctx->{nginx}->expand($v, "--- $section of $ctx->{name}");
}

sub expanded {
    my ($ctx, $section) = @_;
    return expand_value($ctx, value($ctx, $section), $section);
}

sub as_list { my ($v) = @_; return ref $v eq 'ARRAY' ? @$v : defined $v ? ($v) : () }

sub requests {
    my ($ctx) = @_;
    if (has($ctx, 'raw_request')) {
        return [map { { raw => $_ } } as_list(expanded($ctx, 'raw_request'))];
    }
    my @simple = as_list(expanded($ctx, 'request'));
    my $n = @simple;
    my @raw;
    for my $i (0 .. $#simple) {
        my $headers = per_request($ctx, 'more_headers', $i, $n);
        my $raw = eval { build_request($simple[$i], more_headers => $headers) };
        croak "--- request #" . ($i + 1) . " of $ctx->{name}: $@" unless defined $raw;
        push @raw, { raw => $raw };
    }
    return \@raw;
}

# The value of a per-request section for request $i of $n: an eval arrayref
# gives one entry per request, a plain value applies to all of them.
sub per_request {
    my ($ctx, $section, $i, $n) = @_;
    my $v = expanded($ctx, $section);
    return $v unless ref $v eq 'ARRAY';
    croak sprintf('--- %s of %s has %d entries for %d requests', $section, $ctx->{name}, scalar @$v, $n)
        unless @$v == $n;
    return $v->[$i];
}

sub expectations {
    my ($ctx, $n) = @_;
    my @expect;
    for my $i (0 .. $n - 1) {
        my %e = map { $_ => per_request($ctx, $_, $i, $n) } @PER_REQUEST;
        delete $e{more_headers};
        $e{error_code} =~ s/^\s+|\s+$//g if defined $e{error_code} && !ref $e{error_code};
        $e{response_headers}      = [parse_header_lines($e{response_headers}, 'response_headers', $ctx->{name})];
        $e{response_headers_like} = [parse_header_lines($e{response_headers_like}, 'response_headers_like', $ctx->{name})];
        $e{response_body_like}    =~ s/\n\z// if defined $e{response_body_like} && !ref $e{response_body_like};
        push @expect, \%e;
    }
    return \@expect;
}

# "Name: value" -> [Name, value]; "! Name" -> [Name, undef] (must be absent).
sub parse_header_lines {
    my ($text, $section, $name) = @_;
    my @headers;
    for my $line (grep { /\S/ } split /\n/, $text // '') {
        $line =~ s/^\s+|\s+$//g;
        if ($line =~ /^!\s*([^\s:]+)$/) {
            push @headers, [$1, undef];
        } elsif ($line =~ /^([^\s:]+)\s*:\s*(.*)$/) {
            push @headers, [$1, $2];
        } else {
            croak "--- $section of $name: bad line '$line' (want 'Name: value' or '! Name')";
        }
    }
    return @headers;
}

# Error-log patterns: each non-blank line is a substring, a line written as
# qr/.../flags is a regex; eval may give qr// objects or an array of both.
sub log_patterns {
    my ($v) = @_;
    return () unless defined $v;
    return map { log_patterns($_) } @$v if ref $v eq 'ARRAY';
    return ($v) if ref $v eq 'Regexp';
    my @patterns;
    for my $line (grep { /\S/ } split /\n/, $v) {
        if ($line =~ m{^\s*qr/(.*)/([imsx]*)\s*$}) {
            my ($re, $flags) = ($1, $2);
            push @patterns, $flags ? qr/(?$flags)$re/ : qr/$re/;
        } else {
            push @patterns, $line;
        }
    }
    return @patterns;
}

# user_files: ">>> path" headers followed by content (Test::Nginx format),
# or an eval arrayref of [path, content] pairs.
sub user_files {
    my ($ctx) = @_;
    my $v = expanded($ctx, 'user_files');
    return [] unless defined $v;
    return [map { [@$_] } @$v] if ref $v eq 'ARRAY';
    my @parts = split /^>>>[ \t]*(\S+)[^\n]*\n/m, $v;
    my $preamble = shift @parts;
    croak "--- user_files of $ctx->{name} must start with '>>> path'" if $preamble =~ /\S/;
    my @files;
    push @files, [splice(@parts, 0, 2)] while @parts;
    $_->[1] //= '' for @files;
    return \@files;
}

1;
