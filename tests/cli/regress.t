# regress.t — issue 9's gate on a real slowdown: the same live case run
# with the migration copy deliberately slowed (test knob
# MMCERT_TEST_SLOW_COPY_NS, a busy delay per page copy in the reference) is
# reported "regressed" (4 runs a side: the smallest exact Mann-Whitney test
# that can reach alpha 0.05) on INT-1/migration_throughput, and compare exits 1.
. "$(dirname "$0")/lib.sh"
cd "$T" || exit 1
REF=$MMCERT_BUILD/libmmref.so

run "$MMCERT" run --impl "$REF" --case INT-1 --topology builtin:2 --repeat 4 --no-perf \
	--seed 5 --json "$T/fast.json"
check "normal build: INT-1 x4 passes" nothing_failed
MMCERT_TEST_SLOW_COPY_NS=200000 run "$MMCERT" run --impl "$REF" --case INT-1 \
	--topology builtin:2 --repeat 4 --no-perf --seed 5 --json "$T/slow.json"
check "slowed copy: INT-1 x4 still passes (no write lost)" nothing_failed
run "$MMCERT" compare "$T/fast.json" "$T/slow.json"
check "compare exits 1 on the slowed build" status_is 1
check "migration throughput reported regressed" out_has "INT-1/migration_throughput.*regressed"
run "$MMCERT" compare --report-only "$T/fast.json" "$T/slow.json"
check "--report-only: exit 0" status_is 0
done_testing
exit 0
