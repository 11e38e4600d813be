# slowed.t — compare catches a known slowdown with the documented number of
# runs, and does not flag an unchanged build, on a loaded machine too
# (doc/results-schema.md "A slowed build"). Three builds run `mmcert bench
# move` in turns, RUNS times each, one round a run: the reference, an
# unchanged copy of it (the same code in another shared object), and that
# copy slowed by MMCERT_TEST_SLOW_COPY_PCT=20: every batch of move_range is
# timed on the thread's CPU clock and followed by a busy wait on that clock
# for 20 % of it, so a batch costs 1.2 times the CPU the same batch costs at
# that moment (the figure should drop to 1/1.2 = 0.833).
# Why a share of the measured cost and not a fixed delay: a loaded machine
# makes every copy dearer (caches and memory bandwidth shared with other
# work: the engine's pages per CPU-second went from 148 k to 113 k between
# runs minutes apart here), and a delay fixed beforehand is then a smaller
# share of the work, so the regression sank toward compare's 5 % minimum
# effect; a wait on the wall clock also added less CPU when preempted.
# Why this figure: the one the benchmark judges (suite/bench/move.c),
# move_range per CPU-second over the kernel's copy + punch per CPU-second
# measured in the same round. Under load both per-CPU rates swing together
# (in those runs a 10 % slowdown read as 0.97 of the reference on the
# engine's own rate) while their ratio moves a few per cent (the same runs:
# 0.898, p = 0.001). The absolute and wall-clock rates are printed, not
# asserted: they measure the machine's load as much as the engine.
# Why runs, not rounds within one run: a run's level drifts while its rounds
# agree, so only runs show the noise a comparison must beat; in turns, the
# order rotated every cycle, the drift falls on all three alike. Why 20 %
# and 12 runs: the ratio's run-to-run noise under a load of 7 was about 4 %;
# with 8 runs a side a 10 % slowdown read as 0.946 once (5 % from the
# minimum effect) and the unchanged copy as 1.037 (p = 0.1); 12 runs of a
# 20 % slowdown read 0.82-0.85 at p = 7e-7, the unchanged copy 0.985-1.017.
# The runs are pooled through the history (db:file=PREFIX).
. "$(dirname "$0")/lib.sh"
cd "$T" || exit 1
REF=$MMCERT_BUILD/libmmref.so
RUNS=12 # doc/results-schema.md: the runs a side that catch this slowdown
cp "$REF" "$T/libmmref-copy.so" # the unchanged build: the same code, another object
FIG="bench.move/move_range per CPU-second / copy + punch, per CPU-second \[ratio\]"

bench() { # NAME IMPL [slowdown %]
	MMCERT_TEST_SLOW_COPY_PCT=${3:-} "$MMCERT" bench move --impl "$2" --repeat 1 \
		--json "$T/$1.json" >"$T/$1.out" 2>&1
}
one() { # KIND RUN (a number, or "againN" for a repeated comparison's runs)
	case $1 in
	ref) bench "ref-$2" "$REF" ;;
	same) bench "same-$2" "$T/libmmref-copy.so" ;;
	slowed) bench "slowed-$2" "$T/libmmref-copy.so" 20 ;;
	esac
}

rate_of() { # pages per CPU-second:ratio to the peer, from the table
	sed -n 's/^  move_range per CPU-second  *\([0-9.]*\) .*  \([0-9.]*\)  *$/\1:\2/p' "$T/$1.out"
}

# The six orders of the three builds, each twice: every build runs first,
# second and last equally often and follows each of the other two equally
# often (a Williams design), so whatever a run leaves behind for the next
# one (the slowed build's busy waits, the page cache) falls on all alike.
# Plain rotation had the reference follow the slowed build in 2 cycles of 3
# and its copy in 1 of 3. (With either order the copy read 1-4 % below the
# reference in most runs of the test, p down to 0.008: a repeat, below,
# handles what the order does not.)
ORDERS="ref same slowed/same slowed ref/slowed ref same/ref slowed same/slowed same ref/same ref slowed"
order_of() { # CYCLE (1-based): its order of the builds
	echo "$ORDERS" | cut -d/ -f$(((($1 - 1) % 6) + 1))
}
failed=0
i=1
while [ $i -le $RUNS ]; do
	for k in $(order_of $i); do one "$k" $i || failed=$((failed + 1)); done
	i=$((i + 1))
done
rc=$failed
check "$RUNS runs of each, in turns, all measured (contents intact)" status_is 0
for g in ref same slowed; do # the figures, for whoever reads a failure
	i=1 line=
	while [ $i -le $RUNS ]; do line="$line $(rate_of "$g-$i")" i=$((i + 1)); done
	echo "# $g: move_range pages per CPU-second:ratio to the peer:$line"
done
echo "# load: $(cat /proc/loadavg)"
run "$MMCERT" results import --db "$T/h.db" "$T"/ref-*.json "$T"/same-*.json "$T"/slowed-*.json
check "the runs imported" status_is 0

unchanged() { # OLD-PREFIX NEW-PREFIX: compare the two; 0 when "no change" on FIG
	run "$MMCERT" compare --db "$T/h.db" "db:file=$T/$1" "db:file=$T/$2"
	sed -n 's/^/# /p' "$T/out" | grep 'per CPU-second'
	grep -q "^$FIG .*(n=$RUNS) .* no change (" "$T/out"
}
# An unchanged build is flagged at compare's alpha (0.05) whenever the runs
# happen to fall that way: 1 comparison in 20 at best, more when the
# machine drifts during the runs. One flag is then what alpha allows, not a
# finding, and the test would fail 1 CI run in 20 for nothing (it did:
# "no change" failed once in CI with the same code on both sides). So a
# flag is repeated once with new runs of both builds, in turns, and the
# check fails only when the second, independent comparison flags as well
# (about 1 in 400 for exchangeable runs; a real difference between the two
# objects flags both).
unchanged ref- same-
unchanged_verdict=$?
compare_rc=$rc
if [ $unchanged_verdict -ne 0 ]; then
	sed -n "s|^\($FIG .*\)|# first comparison flagged: \1|p" "$T/out"
	echo "# alpha 0.05 allows that 1 time in 20; repeating with $RUNS new runs of each"
	i=1
	while [ $i -le $RUNS ]; do
		if [ $((i % 2)) -eq 1 ]; then order="ref same"; else order="same ref"; fi
		for k in $order; do one "$k" "again$i" || failed=$((failed + 1)); done
		i=$((i + 1))
	done
	# Their own prefixes: db:file=$T/ref- must keep selecting the first 12.
	for f in "$T"/ref-again*.json "$T"/same-again*.json; do
		b=${f##*/}
		mv "$f" "$T/again-$b"
	done
	run "$MMCERT" results import --db "$T/h.db" "$T"/again-*.json
	[ "$rc" -eq 0 ] && unchanged again-ref- again-same- && unchanged_verdict=0
fi
check "unchanged build: compared (exit 0 or 1, never a usage error)" \
	sh -c "[ $compare_rc -eq 0 ] || [ $compare_rc -eq 1 ]"
check "unchanged build: no change on the engine's figure against its peer (once, or on a repeat with new runs)" \
	sh -c "[ $unchanged_verdict -eq 0 ] && [ $failed -eq 0 ]"
run "$MMCERT" compare --db "$T/h.db" "db:file=$T/ref-" "db:file=$T/slowed-"
sed -n 's/^/# /p' "$T/out" | grep 'per CPU-second'
check "slowed build: compare exits 1" status_is 1
check "slowed build: the engine's figure against its peer regressed" out_has "^$FIG .*(n=$RUNS) .*  regressed (p="
ratio=$(sed -n "s|^$FIG .*  \([0-9][0-9.]*\)  regressed (p=.*|\1|p" "$T/out")
check "slowed build: by what was added (ratio ${ratio:-?}, 1/1.2 = 0.833 expected, 0.75-0.90 allowed)" \
	awk -v r="${ratio:-0}" 'BEGIN { exit !(r >= 0.75 && r <= 0.90) }'
done_testing
