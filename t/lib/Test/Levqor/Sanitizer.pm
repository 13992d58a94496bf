# SPDX-License-Identifier: Apache-2.0
package Test::Levqor::Sanitizer;

# The ASan/UBSan pass of the t/ suites (make t-asan, docs/testing.md): the
# module built with -fsanitize=address,undefined (build/asan) is loaded into
# Debian's unsanitized /usr/sbin/nginx, which works only when the ASan runtime
# is the first library of the process: LEVQOR_NGINX_PRELOAD names it (the
# output of `gcc -print-file-name=libasan.so`) and nginx_env() puts it in
# LD_PRELOAD of nginx alone (never of perl or of the other servers).
#
# Every report goes to a file in LEVQOR_SANITIZER_LOG_DIR whose name starts
# with the suite's tag (LEVQOR_SANITIZER_TAG, set by scripts/t-asan-suite),
# e.g. ratelimit_redis.nginx.asan.12345; reports() lists them so the runner
# can fail the block that caused one, and the suite wrapper fails the suite.
#
# Without LEVQOR_NGINX_PRELOAD everything here is a no-op: nginx_env() is
# empty and reports() finds nothing.

use strict;
use warnings;

use Exporter qw(import);
use File::Path qw(make_path);

use Test::Levqor::Util qw(slurp);

our @EXPORT_OK = qw(nginx_env reports report_text);

sub active { return defined $ENV{LEVQOR_NGINX_PRELOAD} && length $ENV{LEVQOR_NGINX_PRELOAD} }

sub log_dir {
    my $dir = $ENV{LEVQOR_SANITIZER_LOG_DIR};
    return undef unless defined $dir && length $dir;
    make_path($dir) unless -d $dir;
    return $dir;
}

sub tag {
    my $tag = $ENV{LEVQOR_SANITIZER_TAG};
    return defined $tag && length $tag ? $tag : ($0 =~ s{.*/}{}r =~ s/\.t$//r);
}

# The environment nginx (and `nginx -t`) runs with in the ASan pass.
# detect_leaks=0: nginx does not free its cycle at exit, so every exit would
# "leak". abort_on_error: a report kills the worker with SIGABRT, which the
# master logs as "exited on signal 6" ([alert]: fails the block on its own).
sub nginx_env {
    return () unless active();
    my $dir = log_dir();
    my $log = defined $dir ? $dir . '/' . tag() . '.nginx' : undef;
    return (
        LD_PRELOAD    => $ENV{LEVQOR_NGINX_PRELOAD},
        ASAN_OPTIONS  => join(':', 'detect_leaks=0', 'abort_on_error=1', 'halt_on_error=1',
                              (defined $log ? "log_path=$log.asan" : ())),
        UBSAN_OPTIONS => join(':', 'halt_on_error=1', 'print_stacktrace=1',
                              (defined $log ? "log_path=$log.ubsan" : ())),
    );
}

# Report files of this suite so far (every sanitized process of the suite:
# nginx, controld, levqorctl), sorted.
sub reports {
    my $dir = log_dir() // return ();
    return sort grep { -s $_ } glob("$dir/" . tag() . '.*');
}

# The text of report files, each under its name, cut to $max_lines lines each.
sub report_text {
    my ($files, $max_lines) = @_;
    $max_lines ||= 80;
    my $text = '';
    for my $file (@$files) {
        my @lines = split /\n/, slurp($file) // '';
        splice(@lines, $max_lines, @lines - $max_lines, '...') if @lines > $max_lines;
        $text .= "--- $file\n" . join("\n", @lines) . "\n";
    }
    return $text;
}

1;
