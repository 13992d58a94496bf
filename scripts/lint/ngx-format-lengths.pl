#!/usr/bin/perl
# SPDX-License-Identifier: Apache-2.0
# The length nginx's "%*s" (and any "%*" conversion) reads is a size_t
# (va_arg(args, size_t) in ngx_vslprintf); passing an int is undefined
# behaviour (review L4). This check finds every nginx formatting call in the
# given files or directories (ngx_log_error, ngx_conf_log_error,
# ngx_log_debugN, ngx_sprintf, ngx_snprintf, ngx_slprintf) and requires the
# argument that a "*" consumes to be visibly a size_t: a static_cast to
# size_t, x.size(), x.length(), x.len / x->len (ngx_str_t, redisReply),
# sizeof, or std::min/std::max of those. Exit 1 with file:line for each
# offender. Run by ctest (ngx_format_lengths).
use strict;
use warnings;
use File::Find;
use FindBin;
use lib $FindBin::Bin;
use CxxArgs qw(split_args);

my @files;
for my $arg (@ARGV) {
    if (-d $arg) { find(sub { push @files, $File::Find::name if /\.(cpp|h)$/ }, $arg) }
    else { push @files, $arg }
}
die "usage: $0 <file or directory>...\n" unless @files;

my $calls = qr/\b(?:ngx_log_error|ngx_conf_log_error|ngx_log_debug\d|ngx_sprintf|ngx_snprintf|ngx_slprintf)\s*\(/;
my ($checked, @problems) = (0);

for my $file (sort @files) {
    open(my $fh, '<', $file) or die "$file: $!";
    my $text = do { local $/; <$fh> };
    while ($text =~ /$calls/g) {
        my $start = pos($text);
        my $line = 1 + (() = substr($text, 0, $start) =~ /\n/g);
        my @args = split_args($text, $start) or next;
        my ($fmt_at) = grep { $args[$_] =~ /^\s*"/ } 0 .. $#args;
        next unless defined $fmt_at;
        my $format = join '', $args[$fmt_at] =~ /"((?:[^"\\]|\\.)*)"/g;
        my $next = $fmt_at + 1;
        for my $conv (conversions($format)) {
            if ($conv->{star}) {
                my $len = $args[$next] // '';
                $checked++;
                push @problems, "$file:$line: the length for \"$conv->{text}\" is not visibly a size_t: $len"
                    unless size_t_like($len);
                $next++;
            }
            $next++ if $conv->{consumes};
        }
    }
}

print "$_\n" for @problems;
print "ngx-format-lengths: $checked \"%*\" length(s) checked, " . scalar(@problems) . " problem(s)\n";
exit(@problems ? 1 : 0);

# nginx's conversions: %[0][width][u][m][x|X][.frac][*]<type>; %Z %N %% take no argument.
sub conversions {
    my ($format) = @_;
    my @out;
    while ($format =~ /%([0-9.umxX*]*)([A-Za-z%])/g) {
        my ($flags, $type) = ($1, $2);
        push @out, { text => "%$flags$type", star => ($flags =~ /\*/ ? 1 : 0), consumes => ($type =~ /^[ZN%]$/ ? 0 : 1) };
    }
    return @out;
}

sub size_t_like {
    my ($e) = @_;
    return 1 if $e =~ /^static_cast<\s*(?:std::)?size_t\s*>\s*\(/;
    return 1 if $e =~ /(?:\.|->)(?:size|length)\(\)$/;
    return 1 if $e =~ /(?:\.|->)len$/;
    return 1 if $e =~ /^sizeof\b/;
    if ($e =~ /^std::(?:min|max)(?:<\s*(?:std::)?size_t\s*>)?\s*\((.*)\)$/s) {
        my @parts = split_args($1 . ')', 0);
        return !grep { !size_t_like($_) && !/^k[A-Z]\w*$/ } @parts;
    }
    return 0;
}
