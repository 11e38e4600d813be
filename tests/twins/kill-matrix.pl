#!/usr/bin/perl
# kill-matrix.pl — the suite's power, tested: every broken twin of the
# reference (reference-impl/twin.h) through the cases that name its SPEC id,
# each of which must fail that id. Prints TAP.
#
#     perl tests/twins/kill-matrix.pl --mmcert build/mmcert --twins build/tests/twins \
#         [--jobs 2] [--only NAME]... [--check-doc doc/kill-matrix.md] \
#         [--write doc/kill-matrix.md] [--keep DIR]
#
# For each twin NAME (twin-list: name, SPEC id, topology, kind, how) it runs
#     mmcert run --impl TWINS/NAME.so --spec ID --topology TOPOLOGY --no-perf --seed 1
# (quick mode, the cases naming ID only; --jobs runs at a time, 2 by default)
# and passes when the run is NOT CERTIFIED (exit 1) with ID *failed* in the
# results file's certificate, and a case that names ID failed a check: a
# crash or a broken set-up proves nothing about the checks, and a twin the
# suite certifies is a hole in the suite (named in the failure). It also
# fails when a SPEC id of the specification (mmcert list --spec) has no
# twin, or a twin names an id the specification lacks.
# --write generates the kill matrix (doc/kill-matrix.md: twin, id, kind,
# how, the cases that failed it and their first failing check), as
# `make kill-matrix` does; --check-doc checks that file's rows still match
# the twin list (names, ids, kinds and hows; not the runs' outcomes or
# times). --keep keeps every run's TAP and results file in DIR.
use strict;
use warnings;

use File::Temp qw(tempdir);
use Getopt::Long qw(GetOptions);
use JSON::PP ();
use POSIX qw(WNOHANG);
use Time::HiRes qw(time);

my %opt = (jobs => 2, only => []);
GetOptions(\%opt, 'mmcert=s', 'twins=s', 'jobs=i', 'only=s@', 'check-doc=s', 'write=s', 'keep=s')
  or die "usage: $0 --mmcert PATH --twins DIR [--jobs N] [--only NAME]... [--check-doc DOC] "
  . "[--write DOC] [--keep DIR]\n";
die "$0: --mmcert and --twins are required\n" unless $opt{mmcert} && $opt{twins};
die "$0: --jobs must be 1..64\n" unless $opt{jobs} >= 1 && $opt{jobs} <= 64;

my $SEED = 1;
my $tap_n = 0;
my $failed = 0;

sub tap {
    my ($ok, $desc, @diag) = @_;
    $tap_n++;
    $failed++ unless $ok;
    print(($ok ? "ok" : "not ok") . " $tap_n - $desc\n");
    print "# $_\n" for map { split /\n/ } @diag;
    return $ok;
}

# ---- inputs: the twins and the specification's ids

sub twin_list {
    my @rows;
    open(my $fh, '-|', "$opt{twins}/twin-list") or die "$0: cannot run $opt{twins}/twin-list: $!\n";
    while (my $line = <$fh>) {
        chomp $line;
        my ($name, $spec, $topo, $kind, $how) = split /\t/, $line;
        die "$0: twin-list: malformed line '$line'\n" unless defined $how;
        die "$0: twin $name: '|' or '`' in its description (they break the table)\n"
          if $how =~ /[|`]/;
        push @rows, {name => $name, spec => $spec, topology => $topo, kind => $kind, how => $how};
    }
    close $fh or die "$0: twin-list failed\n";
    return @rows;
}

sub spec_ids {
    my @ids;
    open(my $fh, '-|', $opt{mmcert}, 'list', '--spec') or die "$0: cannot run mmcert list: $!\n";
    while (my $line = <$fh>) {
        next if $line =~ /^SPEC ID/;
        push @ids, $1 if $line =~ /^(\S+)\s/;
    }
    close $fh or die "$0: mmcert list --spec failed\n";
    return @ids;
}

# ---- one twin's run

sub run_twin {    # in a child: exec mmcert, output to files
    my ($t, $dir) = @_;
    open(STDOUT, '>', "$dir/$t->{name}.tap") or die "$dir/$t->{name}.tap: $!\n";
    open(STDERR, '>', "$dir/$t->{name}.err") or die "$dir/$t->{name}.err: $!\n";
    exec($opt{mmcert}, 'run', '--impl', "$opt{twins}/$t->{name}.so", '--spec', $t->{spec},
        '--topology', $t->{topology}, '--no-perf', '--seed', $SEED, '--json',
        "$dir/$t->{name}.json")
      or die "exec $opt{mmcert}: $!\n";
}

sub names_id {
    my ($spec_ids, $id) = @_;
    return grep { $_ eq $id } split ' ', $spec_ids // '';
}

sub first_failed_check {
    my ($case) = @_;
    for my $k (@{$case->{checks} // []}) {
        return $k->{name} unless $k->{ok};
    }
    return undef;
}

# What the run of twin $t says: {killed => bool, why => text, kills => [[case, check]]}.
sub judge {
    my ($t, $dir, $status) = @_;
    my $file = "$dir/$t->{name}.json";
    my $r = {killed => 0, kills => [], status => $status};
    my $doc = eval {
        local $/;
        open(my $fh, '<', $file) or die "no results file ($!)\n";
        JSON::PP->new->decode(<$fh>);
    };
    unless ($doc) {
        $r->{why} = "exit $status, results file $file unreadable: $@";
        return $r;
    }
    my ($cert) = grep { $_->{id} eq $t->{spec} } @{$doc->{certificate}{ids} // []};
    for my $c (@{$doc->{cases} // []}) {
        next unless names_id($c->{spec_ids}, $t->{spec});
        next unless $c->{verdict} eq 'fail';
        push @{$r->{kills}}, [$c->{id}, first_failed_check($c) // '?'];
    }
    if ($status != 1) {
        $r->{why} = "exit $status, not 1 (NOT CERTIFIED): the suite "
          . ($status == 0 ? 'certified it' : $status == 4 ? 'left it incomplete' : 'did not run it');
    } elsif (!$cert || $cert->{status} ne 'failed') {
        $r->{why} = "$t->{spec} is '" . ($cert ? $cert->{status} : 'absent') . "' in the certificate";
    } elsif (!@{$r->{kills}}) {
        $r->{why} = "$t->{spec} failed only by a broken case ($cert->{reason}): a crash or "
          . 'a broken set-up is not a check failing';
    } else {
        $r->{killed} = 1;
    }
    if (!$r->{killed} && $cert && $cert->{status} ne 'failed') {
        $r->{why} .= "\nSURVIVOR: twin $t->{name} ($t->{how}) passes $t->{spec}: a hole in the suite";
    }
    return $r;
}

# Run every twin, $opt{jobs} at a time; returns {name => judgement}.
sub run_all {
    my ($twins, $dir) = @_;
    my (%pid_of, %result, %started);
    my @queue = @$twins;
    while (@queue || %pid_of) {
        while (@queue && keys(%pid_of) < $opt{jobs}) {
            my $t = shift @queue;
            my $pid = fork() // die "$0: fork: $!\n";
            if ($pid == 0) {
                run_twin($t, $dir);
            }
            $pid_of{$pid} = $t;
            $started{$t->{name}} = time;
        }
        my $pid = waitpid(-1, 0);
        last if $pid <= 0;
        my $t = delete $pid_of{$pid} or next;
        my $status = $? & 127 ? 128 + ($? & 127) : $? >> 8;
        $result{$t->{name}} = judge($t, $dir, $status);
        $result{$t->{name}}{seconds} = time - $started{$t->{name}};
    }
    return \%result;
}

# ---- the document

sub md { my ($s) = @_; $s =~ s/\|/\\|/g; $s =~ s/`/'/g; return $s; }

sub kills_text {
    my ($r) = @_;
    return '**survived**' unless $r->{killed};
    return join('; ', map { "$_->[0]: `" . md($_->[1]) . '`' } @{$r->{kills}});
}

sub write_doc {
    my ($path, $twins, $res, $seconds) = @_;
    my %per_id;
    $per_id{$_->{spec}}++ for @$twins;
    my $liars = grep { $_->{kind} eq 'liar' } @$twins;
    my $tmp = "$path.tmp";
    open(my $fh, '>', $tmp) or die "$0: $tmp: $!\n";
    print $fh <<"EOF";
# Kill matrix: the suite against broken twins of the reference

Generated by `make kill-matrix` (tests/twins/kill-matrix.pl); do not edit. `make check`
runs the same matrix (tests/cli/kill-matrix.t) and fails when a twin survives, when a SPEC
id has no twin, or when the rows below no longer match the twin list.

A twin is the reference implementation with one documented behaviour broken
(reference-impl/twin.h says how twins are built: one extra build of the reference with every
hook compiled in, the twin chosen by the name it is loaded by). Twins of kind *liar* also
report the documented behaviour in their statistics and events while doing otherwise: only an
independent probe catches them. Each twin runs through the cases that name its SPEC id:

    mmcert run --impl build/tests/twins/TWIN.so --spec ID --topology TOPOLOGY --no-perf --seed $SEED

and is killed when the certificate fails that id because one of those cases failed a check.
The last column names each case that failed and its first failing check.

@{[scalar @$twins]} twins ($liars liars) for @{[scalar keys %per_id]} SPEC ids; this run took @{[sprintf '%.0f', $seconds]} s with $opt{jobs} jobs.

| twin | SPEC id | kind | how it is broken | killed by (case: first failing check) |
| --- | --- | --- | --- | --- |
EOF
    for my $t (@$twins) {
        my $r = $res->{$t->{name}};
        printf $fh "| `%s` | %s | %s | %s | %s |\n", $t->{name}, $t->{spec}, $t->{kind}, md($t->{how}),
          $r ? kills_text($r) : 'not run';
    }
    close $fh or die "$0: $tmp: $!\n";
    rename($tmp, $path) or die "$0: rename $tmp: $!\n";
}

sub check_doc {
    my ($path, $twins) = @_;
    open(my $fh, '<', $path) or return (0, "$path: $!: run make kill-matrix");
    my @rows;
    while (my $line = <$fh>) {
        next unless $line =~ /^\| `([^`]+)` \| (\S+) \| (\S+) \| (.*?) \| .* \|$/;
        push @rows, "$1\t$2\t$3\t$4";
    }
    my @want = map { join("\t", $_->{name}, $_->{spec}, $_->{kind}, md($_->{how})) } @$twins;
    my %have = map { $_ => 1 } @rows;
    my %need = map { $_ => 1 } @want;
    my @diff = ((map { "missing or changed: $_" } grep { !$have{$_} } @want),
        (map { "no longer a twin: $_" } grep { !$need{$_} } @rows));
    return (1) unless @diff;
    return (0, "$path is out of date with the twin list (make kill-matrix regenerates it):", @diff);
}

# ---- main

my @twins = twin_list();
my @ids = spec_ids();
my %known = map { $_ => 1 } @ids;
my %has;
$has{$_->{spec}}++ for @twins;
my @bare = grep { !$has{$_} } @ids;
my @alien = grep { !$known{$_->{spec}} } @twins;
tap(!@bare && !@alien, "every SPEC id of the specification has a twin (@{[scalar @ids]} ids, "
      . scalar(@twins) . " twins)",
    (map { "SPEC id $_ has no twin: add one to reference-impl/twin.h" } @bare),
    (map { "twin $_->{name} breaks $_->{spec}, which the specification lacks" } @alien));

my @run = @twins;
if (@{$opt{only}}) {
    my %only = map { $_ => 1 } @{$opt{only}};
    @run = grep { $only{$_->{name}} } @twins;
    die "$0: --only names no twin\n" unless @run;
}
my $dir = $opt{keep} // tempdir('mmcert-kill-XXXXXX', TMPDIR => 1, CLEANUP => 1);
mkdir $dir unless -d $dir;
my $t0 = time;
my $res = run_all(\@run, $dir);
my $seconds = time - $t0;
for my $t (@run) {
    my $r = $res->{$t->{name}};
    if ($r->{killed}) {
        tap(1, "$t->{name} ($t->{spec}) killed by " . join(', ', map { $_->[0] } @{$r->{kills}})
              . sprintf(' (%.1f s)', $r->{seconds}));
        next;
    }
    my @tail;
    if (open(my $fh, '<', "$dir/$t->{name}.tap")) {
        @tail = grep { /^(not ok|# FAILED|# verdict|# shown|# not shown)/ } <$fh>;
        chomp @tail;
    }
    tap(0, "$t->{name} ($t->{spec}) not killed: $t->{how}", $r->{why}, @tail);
}
if ($opt{'check-doc'}) {
    my ($ok, @diag) = check_doc($opt{'check-doc'}, \@twins);
    tap($ok, "$opt{'check-doc'} lists every twin as twin-list does", @diag);
}
write_doc($opt{write}, \@twins, $res, $seconds) if $opt{write};
printf "# kill matrix: %d twins in %.1f s with %d jobs\n", scalar @run, $seconds, $opt{jobs};
print "1..$tap_n\n";
exit($failed ? 1 : 0);
