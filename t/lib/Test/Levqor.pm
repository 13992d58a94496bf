# SPDX-License-Identifier: Apache-2.0
package Test::Levqor;

# Test::Nginx::Socket-style runner for levqor's integration tests, built on
# Test::Base. See docs/testing.md.
#
#   use lib 't/lib';
#   use Test::Levqor;
#   master_on(); workers(2);     # optional
#   run_tests();
#   __DATA__
#   === TEST 1: ...
#
# Each .t file gets one nginx prefix and set of ports; nginx is started for
# every block with that block's config, and stopped before its error log is
# checked.

use strict;
use warnings;

use Test::Base -base;
use Time::HiRes ();

use Test::Levqor::Check;
use Test::Levqor::Filter;
use Test::Levqor::HTTP qw(http_request);
use Test::Levqor::Nginx;
use Test::Levqor::Process qw(spawn_server);
use Test::Levqor::Sanitizer ();
use Test::Levqor::Spec qw(block_spec);
use Test::Levqor::Util qw(repo_root build_dir free_port tail_text keep_temp);

# Test::More functions that Test::Base does not re-export, so that a suite
# never needs `use Test::More` next to `use Test::Levqor`.
my @MORE_TEST_MORE;
BEGIN {
    @MORE_TEST_MORE = qw(done_testing note explain subtest BAIL_OUT);
    no strict 'refs';
    *{$_} = \&{"Test::More::$_"} for @MORE_TEST_MORE;
}

our @EXPORT = (@Test::Base::EXPORT, @MORE_TEST_MORE, qw(
    run_tests master_on master_off workers log_level
    http_request free_port spawn_server repo_root build_dir
));

# Settings for this .t file's nginx, changed by master_on() etc. before run_tests().
my %FILE_SETTINGS = (master => 0, workers => 1, log_level => 'info');

sub master_on  { $FILE_SETTINGS{master} = 1 }
sub master_off { $FILE_SETTINGS{master} = 0 }
sub workers    { $FILE_SETTINGS{workers} = shift }
sub log_level  { $FILE_SETTINGS{log_level} = shift }

sub run_tests {
    my $tb = Test::Builder->new;
    # An explicit plan keeps Test::Base's END from running its own comparison.
    Test::More::plan('no_plan') unless $tb->has_plan;
    Test::Base::filters_delay();

    my $nginx = Test::Levqor::Nginx->new(%FILE_SETTINGS);
    export_vars($nginx);
    Test::More::diag('keeping nginx prefix ' . $nginx->prefix) if keep_temp();
    check_module($nginx);

    run_block($nginx, $_) for Test::Base::blocks();
    $nginx->stop;
    Test::More::done_testing() unless ($tb->has_plan // '') =~ /^\d+$/;
}

# eval sections and helper servers see the same $TEST_NGINX_* values as configs.
sub export_vars {
    my ($nginx) = @_;
    my $vars = $nginx->vars;
    $ENV{$_} = $vars->{$_} for grep { /^TEST_NGINX_/ } keys %$vars;
}

sub check_module {
    my ($nginx) = @_;
    return unless $nginx->loads_module;
    return if -e $nginx->module_file;
    die 'Test::Levqor: ' . $nginx->module_file . " does not exist.\n"
      . "Build it (make), point LEVQOR_BUILD at the build dir, or set LEVQOR_TEST_NO_MODULE=1.\n";
}

sub run_block {
    my ($nginx, $block) = @_;
    my $check = Test::Levqor::Check->new($block->name);
    my $spec = eval { $block->run_filters unless $block->is_filtered; block_spec($block, $nginx, \%FILE_SETTINGS) };
    return $check->ok(0, 'block is well-formed', error_text($@)) unless $spec;

    $nginx->configure(map { $_ => $spec->{$_} } qw(main_config http_config config log_level));
    $nginx->clear_html;
    $nginx->write_files(@{ $spec->{user_files} });

    my %earlier = map { $_ => 1 } Test::Levqor::Sanitizer::reports();
    if (defined $spec->{must_die}) {
        check_must_die($nginx, $spec, $check);
    } else {
        check_requests($nginx, $spec, $check);
    }
    check_sanitizer($check, \%earlier) if Test::Levqor::Sanitizer::active();
}

# The ASan pass: the block fails with the report of any sanitizer error that
# nginx (or anything else of the suite) wrote while it ran.
sub check_sanitizer {
    my ($check, $earlier) = @_;
    my @new = grep { !$earlier->{$_} } Test::Levqor::Sanitizer::reports();
    $check->ok(!@new, 'no ASan/UBSan report', Test::Levqor::Sanitizer::report_text(\@new));
}

# A die/croak message without the " at t/lib/... line N." that means nothing to a test author.
sub error_text {
    my ($error) = @_;
    $error =~ s/\s+at \S+ line \d+\.?\s*\z/\n/;
    return $error;
}

sub check_must_die {
    my ($nginx, $spec, $check) = @_;
    $nginx->truncate_error_log;
    my ($accepted, $output) = $nginx->test_config;
    $output .= $nginx->error_log;
    $check->ok(!$accepted, 'nginx -t rejects the config',
        "nginx -t accepted " . $nginx->conf_file . ":\n$output");
    return unless length $spec->{must_die};
    $check->ok(index($output, $spec->{must_die}) >= 0, "nginx -t says '$spec->{must_die}'",
        "nginx -t output was:\n$output");
}

sub check_requests {
    my ($nginx, $spec, $check) = @_;
    my $start_error = eval { $nginx->start; 1 } ? undef : error_text($@);
    Test::More::diag("$spec->{name}: $start_error") if defined $start_error;

    my @responses;
    for my $request (@{ $spec->{requests} }) {
        push @responses, defined $start_error
            ? { error => 'nginx did not start (see above)', headers => {}, header_list => [], raw => '' }
            : $nginx->request($request->{raw}, raw => 1, tls => $spec->{tls}, timeout => $spec->{timeout});
    }
    Time::HiRes::sleep($spec->{wait}) if $spec->{wait};
    # The error log is complete once nginx has exited. A worker that ignores
    # SIGQUIT (e.g. a connection or timer that blocks graceful shutdown) is a bug.
    my $stop_problem = $nginx->stop ? undef : $nginx->last_error;

    my $many = @responses > 1;
    for my $i (0 .. $#responses) {
        my $label = $many ? 'req ' . ($i + 1) . ': ' : '';
        $check->response($responses[$i], $spec->{expect}[$i], $label, $spec->{ignore_response});
    }
    my $log = $nginx->error_log;
    $check->error_log($log, $spec, $stop_problem);
    Test::More::diag("error.log of $spec->{name} (last lines):\n" . tail_text($log, 40)
        . 'nginx.conf: ' . $nginx->conf_file . (keep_temp() ? '' : ' (set LEVQOR_TEST_KEEP=1 to keep it)'))
        if $check->failures && length $log;
}

1;
