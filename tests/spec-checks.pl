#!/usr/bin/perl
# spec-checks.pl — every check doc/spec.md quotes under "Checks" is one the
# cases can still print (tests/cli/spec.t runs it).
#
#     perl tests/spec-checks.pl doc/spec.md suite/cases/*.c
#
# A quoted check is `name`, where <x> stands for a part that varies. The
# cases print names from C string literals, often printf formats: each
# literal (adjacent literals joined) becomes a pattern in which every
# conversion (%s, %llu, %.2f, ...) matches anything and %% is a percent
# sign. A quoted name, with each <x> replaced by "X", must match one of those
# patterns. Literals with fewer than 6 characters besides conversions are
# left out, so "%s: %s" cannot vouch for anything.
#
# Prints one line per quoted check that no literal matches ("doc/spec.md:LINE:
# ID: `name`"), and exits 1 if there is any.
use strict;
use warnings;

my ($doc, @sources) = @ARGV;
die "usage: $0 doc/spec.md suite/cases/*.c\n" unless $doc && @sources;

my $conv = qr/%[-+ #0]*(?:\*|\d+)?(?:\.(?:\*|\d+))?(?:hh|h|ll|l|z|j|t|L)?[diouxXeEfgGcsp]/;

sub unescape {
    my ($s) = @_;
    $s =~ s/\\(["\\'])/$1/g;
    $s =~ s/\\n/\n/g;
    return $s;
}

my @patterns;
for my $file (@sources) {
    open my $fh, '<', $file or die "$file: $!\n";
    local $/;
    my $text = <$fh>;
    close $fh;
    $text =~ s{/\*.*?\*/}{ }gs;    # comments hold prose, not check names
    # One or more string literals separated only by white space or by
    # <inttypes.h> format macros ("%" PRId64 " ..."), which count as
    # conversions.
    while ($text =~ /("(?:[^"\\\n]|\\.)*"(?:\s*(?:PRI[diouxX](?:8|16|32|64|MAX|PTR)\s*)?"(?:[^"\\\n]|\\.)*")*(?:\s*PRI[diouxX](?:8|16|32|64|MAX|PTR))?)/g) {
        my $run = $1;
        my $lit = '';
        while ($run =~ /"((?:[^"\\\n]|\\.)*)"|(PRI[diouxX]\w+)/g) {
            $lit .= defined $1 ? unescape($1) : 'd';
        }
        (my $bare = $lit) =~ s/$conv|%%//g;
        next if length($bare) < 6;
        my $re = '';
        for my $piece (split /($conv|%%)/, $lit) {
            if ($piece eq '%%') { $re .= '%' }
            elsif ($piece =~ /^$conv$/) { $re .= '.*' }
            else { $re .= quotemeta($piece) }
        }
        push @patterns, qr/^$re$/s;
    }
}

open my $dh, '<', $doc or die "$doc: $!\n";
my ($id, $in_checks, $missing, $quoted) = ('', 0, 0, 0);
while (my $line = <$dh>) {
    if ($line =~ /^### ([A-Z]+-\d+)/) { $id = $1; $in_checks = 0; next }
    if ($line =~ /^- \*\*(\w+)\.\*\*/) { $in_checks = $1 eq 'Checks'; next }
    next unless $in_checks && $line =~ /^  - [^`]*`([^`]+)`\s*$/;
    my $name = $1;
    $quoted++;
    (my $sample = $name) =~ s/<[^>]*>/X/g;
    next if grep { $sample =~ $_ } @patterns;
    print "$doc:$.: $id: `$name` is printed by no case in suite/cases/ (renamed or gone?)\n";
    $missing++;
}
close $dh;
die "$doc: no quoted check found\n" unless $quoted;
exit($missing ? 1 : 0);
