#!/usr/bin/perl
# SPDX-License-Identifier: Apache-2.0
# The docs check (make docs-check, run by make test): what the code registers
# and what the reference docs list must be the same sets.
#
#  - nginx directives (the ngx_command_t table) and variables
#    (ngx_http_add_variable) in module/ngx: the "### levqor_x" and
#    "### $levqor_x" headings of docs/directives.md;
#  - controld routes (every Router::add in controld/src, "METHOD pattern"):
#    the route table of docs/api.md ("| `METHOD /path` |" rows; a regex group
#    in a pattern matches a "{name}" in the doc);
#  - metric families (every "levqor_*" string literal in module/ and
#    controld/ that is a family name: an argument of a registration or
#    exposition call, or a k...Family constant): the "| `levqor_x` |" rows of
#    docs/metrics.md;
#  - every environment variable controld reads (EnvReader with/optional, the
#    flag names) is in levqor-controld --help and docs/controld.md;
#  - every levqorctl command is in docs/controld.md's levqorctl usage block,
#    and every option of levqorctl and levqor-controld is in docs/controld.md;
#  - every levqor_* metric name in the alert rules, their rule tests and the
#    Grafana dashboard exists (_bucket/_count/_sum of a family included), and
#    so does every metric-looking levqor_* name (ending in _total, _seconds,
#    _bytes, ...) written anywhere in docs/ and README.md.
#
# It reads the sources, not a build: it runs in a second and needs no
# compiler. It prints one line per mismatch, naming the name, the file that
# has it and the file that lacks it, and exits 1; a registration it cannot
# read (a route whose path is computed, a levqor_* literal it cannot
# classify) is a failure too, so nothing new goes unchecked silently.
# Usage: scripts/lint/docs-check.pl [repo root]   (default: the current dir)
use strict;
use warnings;
use File::Find;
use FindBin;
use JSON::PP;
use lib $FindBin::Bin;
use CxxArgs qw(split_args);

$| = 1;

my $root = shift // '.';
chdir $root or die "docs-check: cannot enter $root: $!\n";

my @problems;
sub problem { push @problems, join '', @_ }

# ---------------------------------------------------------------- helpers

sub slurp {
    my ($file) = @_;
    open(my $fh, '<', $file) or die "docs-check: cannot read $file: $!\n";
    local $/;
    return scalar <$fh>;
}

sub sources {
    my (@dirs) = @_;
    my @files;
    find(
        sub {
            $File::Find::prune = 1 if -d && /^(tests|fuzz|build)$/;
            push @files, $File::Find::name if -f && /\.(cpp|h|h\.in)$/;
        },
        @dirs
    );
    return sort @files;
}

sub line_of { my ($text, $at) = @_; return 1 + (() = substr($text, 0, $at) =~ /\n/g) }

# C++ text with comments blanked (same length, newlines kept) so that names in
# comments are not taken for registrations; string literals are kept.
sub strip_comments {
    my ($text) = @_;
    $text =~ s{(R"([^(]*)\(.*?\)\2")|("(?:[^"\\\n]|\\.)*")|('(?:[^'\\\n]|\\.)*')|(//[^\n]*)|(/\*.*?\*/)}
              { defined $5 || defined $6 ? ($&) =~ s/[^\n]/ /gr : $& }gse;
    return $text;
}

# The value of a C++ string literal argument, or undef.
sub literal {
    my ($arg) = @_;
    return $2 if $arg =~ /^R"([^(]*)\((.*)\)\1"$/s;
    return $1 if $arg =~ /^"((?:[^"\\]|\\.)*)"$/s;
    return;
}

# Compares two sets; $what names the kind of thing, e.g. "directive".
sub compare {
    my ($what, $code, $code_where, $doc, $doc_file) = @_;
    for my $name (sort keys %$code) {
        problem("$what $name is registered in code ($code->{$name}) but missing from $doc_file")
            unless exists $doc->{$name};
    }
    for my $name (sort keys %$doc) {
        problem("$what $name is in $doc_file:$doc->{$name} but not registered in $code_where")
            unless exists $code->{$name};
    }
}

# ---------------------------------------------------------------- directives and variables

my (%directives, %variables, %zones);
for my $file (sources('module/ngx')) {
    my $text = strip_comments(slurp($file));
    # ngx_command_t entries: {ngx_string("levqor_x"), <flags>, <setter>, ...}
    while ($text =~ /\{\s*ngx_string\("([^"]+)"\)\s*,\s*[^,]*NGX_[A-Z_]*CONF/g) {
        $directives{$1} = "$file:" . line_of($text, $-[0]);
    }
    my %str;
    while ($text =~ /ngx_str_t\s+(\w+)\s*=\s*ngx_string\("([^"]+)"\)/g) { $str{$1} = $2 }
    while ($text =~ /ngx_http_add_variable\(\s*\w+\s*,\s*&(\w+)/g) {
        my $name = $str{$1};
        if (defined $name) { $variables{$name} = "$file:" . line_of($text, $-[0]) }
        else { problem("$file:", line_of($text, $-[0]), ": cannot tell which variable ngx_http_add_variable adds (&$1)") }
    }
    while ($text =~ /ngx_shared_memory_add\(\s*\w+\s*,\s*&(\w+)/g) { $zones{$str{$1}} = 1 if defined $str{$1} }
}
problem("module/ngx: no directive found in an ngx_command_t table (has its form changed?)") unless %directives;

my (%doc_directives, %doc_variables);
{
    my $file = 'docs/directives.md';
    my $n = 0;
    for my $line (split /\n/, slurp($file)) {
        $n++;
        $doc_directives{$1} = $n if $line =~ /^###\s+(levqor_\w+)\s*$/;
        $doc_variables{$1} = $n if $line =~ /^###\s+\$(levqor_\w+)\s*$/;
    }
}
compare('directive', \%directives, 'module/ngx (ngx_command_t)', \%doc_directives, 'docs/directives.md ("### name")');
compare('variable', \%variables, 'module/ngx (ngx_http_add_variable)', \%doc_variables,
    'docs/directives.md ("### $name")');

# ---------------------------------------------------------------- routes

my %method_names = (get => 'GET', post => 'POST', put => 'PUT', patch => 'PATCH', del => 'DELETE');

# A regex route pattern in the docs' form: every group is one "{}" segment.
sub route_key {
    my ($pattern) = @_;
    1 while $pattern =~ s/\((?:[^()]|\([^()]*\))*\)/{}/;
    return $pattern;
}

my %routes;
for my $file (sources('controld/src')) {
    my $text = strip_comments(slurp($file));
    while ($text =~ /\b\w+\s*(?:\.|->)\s*add\s*\(/g) {
        my $at = pos($text);
        my $line = line_of($text, $at);
        my @args = split_args($text, $at) or next;
        next unless @args >= 2 && $args[0] =~ /\bMethod::/;
        my @methods = map { $method_names{$_} // uc $_ } $args[0] =~ /Method::(\w+)/g;
        my @paths;
        if (defined(my $path = literal($args[1]))) { @paths = ($path) }
        elsif ($args[1] =~ /^\w+$/) { @paths = resolve_parameter($text, $at, $args[1]) }
        unless (@paths) {
            problem("$file:$line: cannot read the route's path ($args[1]): use a string literal, or a parameter "
                    . "of the enclosing function that its callers pass as one");
            next;
        }
        for my $method (@methods) {
            $routes{"$method " . route_key($_)} = "$file:$line" for @paths;
        }
    }
}
problem("controld/src: no route registration found (Router::add; has its form changed?)") unless %routes;

# $param is a parameter of the function that encloses $at: the string literals
# its callers in the same file pass for it.
sub resolve_parameter {
    my ($text, $at, $param) = @_;
    my $before = substr($text, 0, $at);
    my ($name, $params);
    while ($before =~ /\b(\w+)\s*\(([^;{}()]*(?:\([^()]*\)[^;{}()]*)*)\)\s*(?:const\s*)?(?:noexcept\s*)?\{/g) {
        my ($n, $p) = ($1, $2);
        next if $n =~ /^(if|for|while|switch|catch|return)$/;
        ($name, $params) = ($n, $p) if $p =~ /\b\Q$param\E\s*$/m || $p =~ /\b\Q$param\E\s*,/;
    }
    return unless defined $name;
    my @names = map { /(\w+)\s*$/ ? $1 : '' } split_args("$params)", 0);
    my ($index) = grep { $names[$_] eq $param } 0 .. $#names;
    return unless defined $index;
    my @found;
    while ($text =~ /\b\Q$name\E\s*(?:<[^<>;]*>)?\s*\(/g) {
        my @args = split_args($text, pos($text)) or next;
        my $value = @args > $index ? literal($args[$index]) : undef;
        push @found, $value if defined $value;
    }
    return @found;
}

my %doc_routes;
{
    my $file = 'docs/api.md';
    my $n = 0;
    for my $line (split /\n/, slurp($file)) {
        $n++;
        next unless $line =~ /^\|\s*`(GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS) (\/[^`\s]*)`\s*\|/;
        my ($method, $path) = ($1, $2);
        $path =~ s/\{[^}]*\}/{}/g;
        $doc_routes{"$method $path"} = $n;
    }
}
compare('route', \%routes, 'controld/src (Router::add)', \%doc_routes, 'docs/api.md (the route table)');

# ---------------------------------------------------------------- controld's environment

# Every variable controld's settings read (EnvReader::with/optional, and the
# five flag names) is in `levqor-controld --help` (the CLI text in
# controld/src/main.cpp) and in docs/controld.md.
{
    my %env;
    for my $file (sources('controld/src')) {
        my $text = strip_comments(slurp($file));
        while ($text =~ /\.\s*(?:with|optional)\s*\(\s*"([A-Z][A-Z0-9_]+)"/g) {
            $env{$1} //= "$file:" . line_of($text, $-[0]);
        }
        # e.with(std::string(flag_name(flag)), ...) over every flag
        if ($text =~ /\.\s*with\s*\(\s*std::string\s*\(\s*flag_name\b/) {
            # the names' table in module/core/src/common/flags.cpp
            my $flags = strip_comments(slurp('module/core/src/common/flags.cpp'));
            my @names = $flags =~ /"([A-Z][A-Z0-9_]+)"/g;
            problem("module/core/src/common/flags.cpp: no flag names found") unless @names;
            $env{$_} //= $file for @names;
        }
    }
    problem("controld/src: no environment variable read through EnvReader found (has its form changed?)") unless %env;
    my $help = join '', strip_comments(slurp('controld/src/main.cpp')) =~ /"((?:[^"\\]|\\.)*)"/g;
    my $doc = slurp('docs/controld.md');
    for my $name (sort keys %env) {
        problem("environment variable $name (read at $env{$name}) is missing from levqor-controld --help ",
                "(controld/src/main.cpp)") unless $help =~ /\b\Q$name\E\b/;
        problem("environment variable $name (read at $env{$name}) is missing from docs/controld.md")
            unless $doc =~ /\b\Q$name\E\b/;
    }
}

# ---------------------------------------------------------------- command lines

# Every levqorctl command (CLI11 add_subcommand in controld/src/ctl/main.cpp,
# nested ones as "parent sub") is a line of the usage block under
# "## levqorctl" in docs/controld.md, and every option of levqorctl and of
# levqor-controld (add_option/add_flag "--x") is in that section or in
# docs/controld.md respectively.
{
    my $doc = slurp('docs/controld.md');
    my ($ctl_section) = $doc =~ /^## levqorctl\s*\n(.*?)(?=^## )/ms;
    $ctl_section //= '';
    problem('docs/controld.md: no "## levqorctl" section') unless length $ctl_section;
    my $ctl = strip_comments(slurp('controld/src/ctl/main.cpp'));
    my %path = (cli => '');
    my $commands = 0;
    while ($ctl =~ /(?:\bauto\s*\*\s*(\w+)\s*=\s*)?\b(\w+)\s*(?:->|\.)\s*add_subcommand\s*\(\s*"([^"]+)"/g) {
        my ($var, $parent, $name) = ($1, $2, $3);
        my $where = 'controld/src/ctl/main.cpp:' . line_of($ctl, $-[0]);
        unless (exists $path{$parent}) { problem("$where: cannot tell whose subcommand \"$name\" is ($parent)"); next }
        my $cmd = length $path{$parent} ? "$path{$parent} $name" : $name;
        $path{$var} = $cmd if defined $var;
        $commands++;
        problem("levqorctl $cmd ($where) is not a line of docs/controld.md's levqorctl usage block")
            unless $ctl_section =~ /^\s+\Q$cmd\E(?:\s|$)/m;
    }
    problem("controld/src/ctl/main.cpp: no add_subcommand found (has its form changed?)") unless $commands;
    # ... and every command of the usage block (its first code block: lines
    # indented by exactly two spaces) exists.
    my %known;
    while ($ctl =~ /\b(\w+)\s*(?:->|\.)\s*add_subcommand\s*\(\s*"([^"]+)"/g) {
        $known{length $path{$1} ? "$path{$1} $2" : $2} = 1 if exists $path{$1};
    }
    if ($ctl_section =~ /^```[^\n]*\n(.*?)^```/ms) {
        for my $line (split /\n/, $1) {
            next unless $line =~ /^  ([a-z][a-z-]*(?: [a-z][a-z-]*)*)/;
            problem("docs/controld.md's levqorctl usage block lists \"$1\", which levqorctl does not have")
                unless $known{$1};
        }
    }
    while ($ctl =~ /\b(\w+)\s*(?:->|\.)\s*add_(?:option|flag)\s*\(\s*"(--[\w-]+)/g) {
        my ($var, $opt) = ($1, $2);
        my $cmd = exists $path{$var} && length $path{$var} ? "levqorctl $path{$var}" : 'levqorctl';
        problem("$cmd $opt (controld/src/ctl/main.cpp:", line_of($ctl, $-[0]),
                ") is missing from docs/controld.md's levqorctl section") unless $ctl_section =~ /\Q$opt\E\b/;
    }
    my $daemon = strip_comments(slurp('controld/src/main.cpp'));
    while ($daemon =~ /\badd_(?:option|flag)\s*\(\s*"(--[\w-]+)/g) {
        my $opt = $1;
        problem("levqor-controld $opt (controld/src/main.cpp:", line_of($daemon, $-[0]),
                ") is missing from docs/controld.md") unless $doc =~ /\Q$opt\E\b/;
    }
}

# ---------------------------------------------------------------- metric families

# Calls whose string-literal arguments name a metric family.
my $family_call = qr/\b(?:counter|gauge|histogram|family|write_family_header|append_family_header|write_sample)\s*\(/;
# Literals that are levqor_* but never a family.
my %not_metrics = (levqor_version => 'a backup manifest key');

my (%metrics, @unclassified);
for my $file (sources('module', 'controld/src', 'controld/include')) {
    my $text = strip_comments(slurp($file));
    my %seen;    # offsets of literals already classified
    while ($text =~ /$family_call/g) {
        my $at = pos($text);
        my @args = split_args($text, $at) or next;
        my $arg = $args[0] // '';
        # write_family_header(out, name, ...) / write_sample(out, name, ...)
        $arg = $args[1] // '' if $arg !~ /"/ && @args > 1;
        next unless defined(my $name = literal($arg));
        next unless $name =~ /^levqor_/;
        $metrics{$name} //= "$file:" . line_of($text, $at);
    }
    # MetricFamily x{"levqor_y", ...}, constexpr ... kXFamily = "levqor_y",
    # constexpr ... kMetricName = "levqor_y" (build_info.h.in)
    while ($text =~ /\bMetricFamily\s*\w*\s*\{\s*"(levqor_\w+)"|\bk\w*(?:Family|MetricName)\s*=\s*"(levqor_\w+)"/g) {
        $metrics{$1 // $2} //= "$file:" . line_of($text, $-[0]);
    }
    # Exposition text written by hand: "# HELP levqor_y ...", "# TYPE levqor_y
    # ...", or a sample line "levqor_y{..." / "levqor_y 1".
    # (A directive's name followed by a space starts a message, not a sample.)
    while ($text =~ /"(# (?:HELP|TYPE) )?(levqor_[a-z0-9_]*[a-z0-9])[{ ]/g) {
        my ($header, $name) = ($1, $2);
        next if !$header && (exists $directives{$name} || exists $variables{$name} || exists $zones{$name});
        $metrics{$name} //= "$file:" . line_of($text, $-[0]);
    }
    while ($text =~ /"(levqor_[a-z0-9_]*[a-z0-9])"/g) {
        push @unclassified, [$1, "$file:" . line_of($text, $-[0])];
    }
}
for (@unclassified) {
    my ($name, $where) = @$_;
    next if exists $metrics{$name} || exists $directives{$name} || exists $variables{$name};
    next if exists $zones{$name} || exists $not_metrics{$name};
    problem("$where: \"$name\" is neither a registered metric family (an argument of counter/gauge/histogram/",
            "family/write_family_header/write_sample, a MetricFamily or a k...Family constant), a directive, a ",
            "variable nor a shared zone: register it the usual way, or add it to %not_metrics in $0");
}

my %doc_metrics;
{
    my $file = 'docs/metrics.md';
    my $n = 0;
    for my $line (split /\n/, slurp($file)) {
        $n++;
        $doc_metrics{$1} //= $n if $line =~ /^\|\s*`(levqor_\w+)`\s*\|/;
    }
}
compare('metric', \%metrics, 'module/ or controld/', \%doc_metrics, 'docs/metrics.md (a table row)');

# ---------------------------------------------------------------- metric names elsewhere

# A series name: a family, or a histogram's _bucket/_count/_sum.
sub known_metric {
    my ($name) = @_;
    return 1 if exists $metrics{$name};
    return $name =~ /^(\w+)_(?:bucket|count|sum)$/ && exists $metrics{$1};
}

my %recorded;    # names defined by recording rules
my @rule_files = grep { -f } glob('conf/prometheus/*.yml');
for my $file (@rule_files) {
    my $text = slurp($file);
    $recorded{$1} = 1 while $text =~ /^\s*-?\s*record:\s*["']?([a-zA-Z_:][\w:]*)/mg;
}
for my $file (@rule_files) {
    my @lines = split /\n/, slurp($file);
    for (my $i = 0; $i < @lines; $i++) {
        # expr: (rules, rule tests) and series: (rule tests), inline or a block
        next unless $lines[$i] =~ /^(\s*)-?\s*(expr|series):\s*(.*)$/;
        my ($indent, $key, $text) = (length $1, $2, $3);
        if ($text =~ /^[>|][-+]?\s*$/) {
            $text = '';
            $text .= "$lines[++$i]\n" while $i + 1 < @lines && ($lines[$i + 1] =~ /^\s*$/
                || ($lines[$i + 1] =~ /^(\s*)/ && length $1 > $indent));
        }
        my $where = "$file:" . ($i + 1);
        $text =~ s/"(?:[^"\\]|\\.)*"//g if $key eq 'expr';    # label values, not names
        for my $name ($text =~ /\b(levqor_[a-z0-9_]+)/g) {
            problem("$where: $name is not a metric the code registers (docs/metrics.md)")
                unless known_metric($name) || exists $recorded{$name};
        }
    }
}

for my $file (grep { -f } glob('conf/grafana/*.json')) {
    my $json = eval { JSON::PP->new->decode(slurp($file)) };
    unless ($json) { problem("$file: not valid JSON: $@"); next }
    my @exprs;
    my $walk;
    $walk = sub {
        my ($node) = @_;
        if (ref $node eq 'HASH') {
            for my $k (sort keys %$node) {
                if ($k eq 'expr' && !ref $node->{$k}) { push @exprs, $node->{$k} }
                else { $walk->($node->{$k}) }
            }
        }
        elsif (ref $node eq 'ARRAY') { $walk->($_) for @$node }
    };
    $walk->($json);
    for my $expr (@exprs) {
        (my $names = $expr) =~ s/"(?:[^"\\]|\\.)*"//g;
        for my $name ($names =~ /\b(levqor_[a-z0-9_]+)/g) {
            problem("$file: $name (in \"$expr\") is not a metric the code registers")
                unless known_metric($name) || exists $recorded{$name};
        }
    }
}

# Metric-looking names in prose: a typo or a renamed family there misleads.
# Former names the docs mention as such (e.g. "it was levqor_x before ...").
my %former_names = map { $_ => 1 } qw(levqor_api_latency_p95_ms);
my $metric_suffix = qr/_(?:total|seconds|bytes|ratio|ms|usd|info|depth|up|bucket|count|sum)$/;
my @prose;
find(sub { push @prose, $File::Find::name if -f && /\.md$/ }, 'docs');
push @prose, 'README.md' if -f 'README.md';
for my $file (sort @prose) {
    my $n = 0;
    for my $line (split /\n/, slurp($file)) {
        $n++;
        for my $name ($line =~ /(?<![\w\$\/.-])(levqor_[a-z0-9_]+)\b/g) {
            next unless $name =~ $metric_suffix;
            next if known_metric($name) || exists $directives{$name} || exists $recorded{$name};
            next if exists $former_names{$name};
            problem("$file:$n: $name looks like a metric but no code registers it");
        }
    }
}

# ---------------------------------------------------------------- result

print STDERR "docs-check: $_\n" for @problems;
printf "docs-check: %d directives, %d variables, %d routes, %d metric families checked; %d problem(s)\n",
    scalar(keys %directives), scalar(keys %variables), scalar(keys %routes), scalar(keys %metrics), scalar(@problems);
exit(@problems ? 1 : 0);
