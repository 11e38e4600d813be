# twin.t — compare catches a known slowdown with the documented number of
# runs (issue 19; doc/results-schema.md "A slowed twin"). `mmcert bench move`
# measures the engine's move_range per CPU-second at nanosecond resolution.
# Three builds run in turns, TWIN_RUNS times each, one round a run: the
# reference, its unchanged twin (the same code in another shared object),
# and the slowed twin (that object with MMCERT_TEST_SLOW_COPY_NS, the
# reference's busy delay in every page copy, set to 10 % of a page's CPU
# cost as the first reference run measured it: its rate drops to 1/1.1).
# Runs, not rounds within one run, are the samples: on a loaded machine a
# run's level drifts (a few per cent, up to 10 % seen) while rounds within
# it agree to 1 %, so only runs show the noise a comparison must beat; in
# turns, a drift of the machine falls on all three alike. The runs are
# pooled through the history (db:file=PREFIX). The unchanged twin compares
# "no change", the slowed twin "regressed" (compare exits 1).
. "$(dirname "$0")/lib.sh"
cd "$T" || exit 1
REF=$MMCERT_BUILD/libmmref.so
TWIN_RUNS=8 # doc/results-schema.md: the runs a side that catch this slowdown here
cp "$REF" "$T/twin.so" # the unchanged twin: the same code, another object
FIG="bench.move/move_range per CPU-second \[pages/s\]"

bench() { # NAME IMPL [slow ns]
	MMCERT_TEST_SLOW_COPY_NS=${3:-} "$MMCERT" bench move --impl "$2" --repeat 1 \
		--json "$T/$1.json" >"$T/$1.out" 2>&1
}

rate_of() {
	sed -n 's/^  move_range per CPU-second  *\([0-9.]*\) .*/\1/p' "$T/$1.out"
}

bench ref-0 "$REF"
rc=$?
check "reference: bench move measured" status_is 0
rate=$(rate_of ref-0)
slow=$(awk -v r="$rate" 'BEGIN { if (r > 0) printf "%d", 0.10 * 1e9 / r }')
check "a page's CPU cost is known (${rate:-?} pages/s: +${slow:-?} ns is 10 %)" [ "${slow:-0}" -gt 0 ]

failed=0
i=1
while [ $i -le $TWIN_RUNS ]; do
	bench "ref-$i" "$REF" || failed=$((failed + 1))
	bench "twin-$i" "$T/twin.so" || failed=$((failed + 1))
	bench "slow-$i" "$T/twin.so" "$slow" || failed=$((failed + 1))
	i=$((i + 1))
done
rc=$failed
check "$TWIN_RUNS runs of each, in turns, all measured (contents intact)" status_is 0
for g in ref twin slow; do # the figures, for whoever reads a failure
	i=1 line=
	while [ $i -le $TWIN_RUNS ]; do line="$line $(rate_of "$g-$i")" i=$((i + 1)); done
	echo "# $g: move_range pages per CPU-second:$line"
done
run "$MMCERT" results import --db "$T/h.db" "$T"/ref-[1-9]*.json "$T"/twin-*.json "$T"/slow-*.json
check "the runs imported" status_is 0

run "$MMCERT" compare --db "$T/h.db" "db:file=$T/ref-" "db:file=$T/twin-"
check "unchanged twin: compare exits 0" status_is 0
check "unchanged twin: no change on the engine's figure" out_has "^$FIG .*(n=$TWIN_RUNS) .* no change ("
run "$MMCERT" compare --db "$T/h.db" "db:file=$T/ref-" "db:file=$T/slow-"
check "slowed twin: compare exits 1" status_is 1
check "slowed twin: the engine's figure regressed" out_has "^$FIG .* 0\.[89][0-9]*  regressed (p="
done_testing
