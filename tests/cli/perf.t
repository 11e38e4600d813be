# perf.t — every case records perf_event counters of its process as perf.*
# metrics: software events with real readings, hardware events
# either read or "unsupported" with the reason (never a zero); --no-perf
# turns the recording off.
. "$(dirname "$0")/lib.sh"
cd "$T" || exit 1
REF=$MMCERT_BUILD/libmmref.so

run "$MMCERT" run --case SET-1 --impl "$REF" --seed 3 --json "$T/p.json"
check "run with counters: exit 0" status_is 0
check "task clock recorded as a metric" out_has "# metric perf.task-clock = "
check "page faults recorded as a metric" out_has "# metric perf.page-faults = "
hw_read_or_why() {
	grep -q -E "# metric perf.cycles (= [0-9]|unsupported: .+)" "$T/out"
}
check "cycles: a reading or unsupported with a reason" hw_read_or_why
no_zero_hw() { ! grep -q -E "# metric perf.cycles = 0( |$)" "$T/out"; }
check "cycles never reported as a bare zero" no_zero_hw
check "JSON holds the perf metrics" grep -q '"name": "perf.task-clock"' "$T/p.json"

run "$MMCERT" run --case SET-1 --impl "$REF" --seed 3 --no-perf --json "$T/n.json"
check "--no-perf: exit 0" status_is 0
no_perf_lines() { ! grep -q "metric perf\." "$T/out"; }
check "--no-perf: no perf metrics" no_perf_lines
done_testing
exit 0
