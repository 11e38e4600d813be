#!/usr/bin/perl
# kill-matrix.pl — the suite's power, tested: every broken twin of the
# reference (reference-impl/twin.h) through the cases that name its SPEC id,
# each of which must fail that id. Prints TAP.
#
#     perl tests/twins/kill-matrix.pl --mmcert build/mmcert --twins build/tests/twins \
#         --spec doc/spec.md [--jobs 2] [--only NAME]... [--check-doc doc/kill-matrix.md] \
#         [--write doc/kill-matrix.md] [--keep DIR]
#
# For each twin NAME (twin-list: name, SPEC id, topology, kind, how) it runs
#     mmcert run --impl TWINS/NAME.so --spec ID --topology TOPOLOGY --no-perf --seed 1
# (quick mode, the cases naming ID only; --jobs runs at a time, 2 by default)
# and passes when the run is NOT CERTIFIED (exit 1) with ID *failed* in the
# results file's certificate, and a case that names ID failed one of the
# checks doc/spec.md lists as deciding ID: a crash or a broken set-up proves
# nothing about the checks, a case failing only on another id's checks does
# not show that ID is judged, and a twin the suite certifies is a hole in the
# suite (named in the failure). It also
# fails when a SPEC id of the specification (mmcert list --spec) has no
# twin, or a twin names an id the specification lacks.
# --write generates the kill matrix (doc/kill-matrix.md: twin, id, kind,
# how, the cases that failed it and their first failing check), as
# `make kill-matrix` does; --check-doc checks that file's rows still match
# the twin list (names, ids, kinds and hows; not the runs' outcomes or
# times). --keep keeps every run's TAP and results file in DIR. --seed runs
# with another seed than 1 (every stepped kill should hold for any seed). --lib checks
# that the normal build of the reference (libmmref.so) holds none of the twin
# build's names: no twin, no selector, no table.
use strict;
use warnings;

use File::Temp qw(tempdir);
use Getopt::Long qw(GetOptions);
use JSON::PP ();
use POSIX qw(WNOHANG);
use Time::HiRes qw(time);

my %opt = (jobs => 2, only => [], seed => 1);
GetOptions(\%opt, 'mmcert=s', 'twins=s', 'spec=s', 'jobs=i', 'only=s@', 'check-doc=s', 'write=s',
    'keep=s', 'lib=s', 'seed=i')
  or die "usage: $0 --mmcert PATH --twins DIR --spec doc/spec.md [--jobs N] [--only NAME]... "
  . "[--check-doc DOC] [--write DOC] [--keep DIR] [--lib libmmref.so] [--seed N]\n";
die "$0: --mmcert, --twins and --spec are required\n"
  unless $opt{mmcert} && $opt{twins} && $opt{spec};
die "$0: --jobs must be 1..64\n" unless $opt{jobs} >= 1 && $opt{jobs} <= 64;

my $SEED = $opt{seed}; # 1 for the matrix and its doc: kills reproducible
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

# The checks that decide each SPEC id, by case (doc/spec.md, "Checks"):
# {ID => [[case, qr/name/], ...]}; <x> in a quoted name matches anything.
sub spec_checks {
    my ($path) = @_;
    open(my $fh, '<', $path) or die "$0: $path: $!\n";
    my (%checks, $id, $in);
    while (my $line = <$fh>) {
        if ($line =~ /^### ([A-Z]+-\d+)/) { $id = $1; $in = 0; next }
        if ($line =~ /^- \*\*(\w+)\.\*\*/) { $in = $1 eq 'Checks'; next }
        next unless $in && $line =~ /^  - ([^`]+?): `([^`]+)`\s*$/;
        my ($cases, $name) = ($1, $2);
        my $re = join('', map { /^<[^>]*>$/ ? '.*' : quotemeta } split /(<[^>]*>)/, $name);
        push @{$checks{$id}}, [$_, qr/^$re$/s] for split /,\s*/, $cases;
    }
    return \%checks;
}

# Is check $name of case $case one that decides $id?
sub decides {
    my ($checks, $id, $case, $name) = @_;
    return grep { $_->[0] eq $case && $name =~ $_->[1] } @{$checks->{$id} // []};
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

# The first failing check of $case that decides $id, else its first failing
# check and false.
sub failed_check {
    my ($checks, $id, $case) = @_;
    my @failed = map { $_->{name} } grep { !$_->{ok} } @{$case->{checks} // []};
    for my $name (@failed) {
        # a variant's entry ("NUMA-2/builtin-4") names its case in "case"
        return ($name, 1) if decides($checks, $id, $case->{case} // $case->{id}, $name);
    }
    return ($failed[0] // '?', 0);
}

# What the run of twin $t says: {killed => bool, why => text, kills => [[case, check]]}:
# killed when the run is NOT CERTIFIED with the id failed, and a case naming
# the id failed a check that decides it (doc/spec.md); a failure only of
# checks deciding other ids of the same case is not a kill of this id.
sub judge {
    my ($t, $dir, $status, $checks) = @_;
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
    my @others;
    for my $c (@{$doc->{cases} // []}) {
        next unless names_id($c->{spec_ids}, $t->{spec});
        next unless $c->{verdict} eq 'fail';
        my ($name, $decisive) = failed_check($checks, $t->{spec}, $c);
        push @{$decisive ? $r->{kills} : \@others}, [$c->{id}, $name];
    }
    if ($status != 1) {
        $r->{why} = "exit $status, not 1 (NOT CERTIFIED): the suite "
          . ($status == 0 ? 'certified it' : $status == 4 ? 'left it incomplete' : 'did not run it');
    } elsif (!$cert || $cert->{status} ne 'failed') {
        $r->{why} = "$t->{spec} is '" . ($cert ? $cert->{status} : 'absent') . "' in the certificate";
    } elsif (!@{$r->{kills}} && @others) {
        $r->{why} = "$t->{spec} failed only through checks that decide other SPEC ids ("
          . join('; ', map { "$_->[0]: '$_->[1]'" } @others) . "): none of $t->{spec}'s own "
          . "checks (doc/spec.md) failed";
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
    my ($twins, $dir, $checks) = @_;
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
        $result{$t->{name}} = judge($t, $dir, $status, $checks);
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

and is killed when the certificate fails that id because one of those cases failed one of the
checks doc/spec.md lists for the id (a case failing only on another id's checks does not count).
The last column names each such case and the first of the id's checks it failed.

@{[scalar @$twins]} twins ($liars liars) for @{[scalar keys %per_id]} SPEC ids; this run took @{[sprintf '%.0f', $seconds]} s with $opt{jobs} jobs.

Holes the twins found when they were first run, and what closed them (the suite passed each):

- `numa2-memory-not-committed`: NUMA-2 had no workload where CPU and memory pull apart; it now
  places a CPU-and-memory-apart mix and locates every VM's pages.
- `numa10-margins-dropped`: the churn met no move that only mirrors the imbalance; NUMA-10 adds a
  lone busy VM beside an idle node.
- `numa12-moves-only-reported`: NUMA-12 judged moves by events and `pages_per_node`; the moved
  VMs now write new memory, located by the probe.
- `mig3-moves-at-once-reports-pace`, `mig4-full-rate-reports-ramp`: MIG-3 and MIG-4 counted
  pages by batch events and `pages_migrated`; both count them by the probe now.
- `tps3-burst-reported-paced`: TPS-3 judged pacing by `pages_scanned` and `saved_pages`;
  pointer identity now bounds sharing by the paced scan.
- `tps7-sharing-skipped-when-compressing`: TPS-7 ran only with compression off.
- `salt2-host-starts-at-force-salting-1`: SALT-2 always set the mode; it also runs the default.
- `alloc5-tax-type-ignored`: ALLOC-5 accepted a rate that does not fall; it must rise.
- `wss4-target-grows-5-pct-per-balance-period` replaced a twin WSS-4 rightly passed (a slow
  fast-average gain still meets WSS-4's bound; it is WSS-2's twin now).
- `state1-upward-margin-dropped`: no point of STATE-1's curve sat just above an enter level on
  the way up.
- `swap3-hard-state-swaps-regardless`: SWAP-2's VM with a driver was never above its target while
  the host was hard; it now starts once the host is.

| twin | SPEC id | kind | how it is broken | killed by (case: the id's first failing check) |
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

# Does the file hold any of the twin build's names? Returns those it holds.
sub twin_names_in {
    my ($path, $twins) = @_;
    open(my $fh, '<:raw', $path) or return ("$path: $!");
    local $/;
    my $bytes = <$fh>;
    return grep { index($bytes, $_) >= 0 } ('ref_twin_active', 'libmmref-twins', 'twin:',
        map { $_->{name} } @$twins);
}

# ---- main

my @twins = twin_list();
if ($opt{lib}) {
    my @found = twin_names_in($opt{lib}, \@twins);
    tap(!@found, "$opt{lib} is built without twins (no twin name, selector or table in it)",
        map { "found: $_" } @found);
}
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
my $res = run_all(\@run, $dir, spec_checks($opt{spec}));
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
