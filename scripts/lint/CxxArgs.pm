# SPDX-License-Identifier: Apache-2.0
# What the C++ lints share: the top-level arguments of a call, read from the
# source text (string, character and raw string literals kept whole, so
# commas and brackets inside them do not count).
package CxxArgs;
use strict;
use warnings;
use Exporter 'import';
our @EXPORT_OK = qw(split_args);

# The top-level arguments of the call whose "(" ends just before $at, each
# with its surrounding white space removed; () when the call does not close.
sub split_args {
    my ($text, $at) = @_;
    my ($depth, $cur, @args) = (0, '');
    my $len = length $text;
    for (my $i = $at; $i < $len; $i++) {
        my $rest = substr($text, $i, 200);
        if ($rest =~ /^(R"([^(]*)\(.*?\)\2")/s || $rest =~ /^("(?:[^"\\]|\\.)*")/s || $rest =~ /^('(?:[^'\\]|\\.)*')/s) {
            $cur .= $1;
            $i += length($1) - 1;
            next;
        }
        my $c = substr($text, $i, 1);
        if ($c =~ /[(\[{]/) { $depth++ }
        elsif ($c =~ /[)\]}]/) {
            if ($depth == 0) { push @args, $cur; return map { s/^\s+|\s+$//gr } @args }
            $depth--;
        }
        elsif ($c eq ',' && $depth == 0) { push @args, $cur; $cur = ''; next }
        $cur .= $c;
    }
    return ();
}

1;
