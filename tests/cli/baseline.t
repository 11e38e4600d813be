# baseline.t — baselines: tests/baseline.sh writes
# <dir>/<machine class>/reference-<version>[-emulated-4-nodes].json, and
# tests/run-suite.sh (`make suite`) compares each run against the baseline
# of its machine class, printing the comparison as TAP comments without
# changing its exit status; without a baseline it says how to make one.
# A run takes its baseline's seed unless given one, so the stepped-clock
# figures of WSS-2 and WSS-3 (which depend on the seed) compare like with
# like; under another seed their single samples are not judged. Only a few
# quick cases, so the test stays fast as the suite grows.
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$T" || exit 1
export MMCERT_BASELINE_DIR=$T/baselines MMCERT_RESULTS_DIR=$T/runs
CASES="--case SET-1 --case WSS-2 --case WSS-3"

run "$ROOT/tests/run-suite.sh" "$MMCERT" --impl "$MMCERT_BUILD/libmmref.so" $CASES
check "no baseline: suite exit 0" status_is 0
check "no baseline: says how to make one" out_has "^# no baseline for machine class .*make baseline writes one"

BASELINE_REPEAT=2 run "$ROOT/tests/baseline.sh" "$MMCERT" --impl "$MMCERT_BUILD/libmmref.so" $CASES
check "baseline.sh: exit 0" status_is 0
check "baseline.sh: wrote reference-<version>.json under the machine class" \
	sh -c "ls '$T'/baselines/*c-*g-*n-*/reference-*[0-9].json >/dev/null"
class=$("$MMCERT" results show "$(ls "$T"/baselines/*/reference-*[0-9].json | head -n 1)" | sed -n 's/^machine_class=//p')
check "baseline.sh: 2 repetitions recorded" grep -q '"repeat": 2' "$(ls "$T"/baselines/*/reference-*[0-9].json | head -n 1)"

run "$ROOT/tests/run-suite.sh" "$MMCERT" --impl "$MMCERT_BUILD/libmmref.so" $CASES
check "with a baseline: suite exit 0" status_is 0
check "with a baseline: comparison printed" out_has "^# ---- this-machine against the baseline .*$class/reference-.*(report only) ----$"
check "with a baseline: the comparison's verdict as a comment" out_has "^# verdict: "
check "with a baseline: nothing of it outside comments" sh -c "! grep -q '^verdict:' '$T/out'"
check "with a baseline: the run takes the baseline's seed and says so" out_has "^# seed [0-9]*: the baseline's (.*reference-.*json), so figures the seed determines compare like with like$"
check "with a baseline: seeds said in the comparison" out_has "^# seeds: both [0-9]*: figures the seed determines compare like with like"
check "with a baseline: no regression that is not there" sh -c "grep -q '^# verdict: no change: 0 regressed, 0 newly failing' '$T/out' && ! grep -q 'REGRESSED' '$T/out'"

run "$ROOT/tests/run-suite.sh" "$MMCERT" --impl "$MMCERT_BUILD/libmmref.so" $CASES --seed 12345
check "a seed given: kept, the baseline's not taken" sh -c "[ $rc -eq 0 ] && ! grep -q '^# seed [0-9]*: the baseline' '$T/out'"
check "a seed given: the comparison judges no single sample, says why" out_has "^# seeds: old [0-9]*, new 12345: a metric with one sample on a side is not judged"
check "a seed given: no regression that is not there" sh -c "! grep -q 'REGRESSED' '$T/out'"
done_testing
