# SPDX-License-Identifier: Apache-2.0
package Test::Levqor::Filter;

# Test::Base filters for Test::Levqor. Test::Base finds this class by name
# (<default class>::Filter). The only change: `eval` dies on a Perl error
# instead of silently using the error text as the section's value.

use strict;
use warnings;

use Test::Base::Filter ();
our @ISA = ('Test::Base::Filter');

sub eval {
    my ($self, @values) = @_;
    $self->assert_scalar(@values);
    my @result = CORE::eval("package main; no strict; no warnings; $values[0]");
    if ($@) {
        my $block = $self->current_block;
        my $name = $block ? $block->name : 'a block';
        die "eval filter failed in $name: $@";
    }
    return @result;
}

1;
