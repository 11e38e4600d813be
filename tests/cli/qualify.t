# qualify.t — `mmcert qualify` on this machine: a quick run exits 0
# and reports the node count it really has, every unsupported perf event says
# why, the JSON is complete and plots render (or are skipped with a note when
# there is no gnuplot); bad options exit 2 naming what was wrong; a run
# interrupted by SIGINT leaves a report marked incomplete and exits non-zero.
. "$(dirname "$0")/lib.sh"

nodes=0
for d in /sys/devices/system/node/node[0-9]*; do
	[ -d "$d" ] && nodes=$((nodes + 1))
done
[ "$nodes" -ge 1 ] || nodes=1

run "$MMCERT" qualify --quick -o "$T/q" --json "$T/q.json"
check "qualify --quick exits 0" status_is 0
check "the report states the node count ($nodes)" out_has "^NUMA nodes: $nodes"
if [ "$nodes" -eq 1 ]; then
	check "one node: the report says the matrix has one entry" out_has "ONE node: every matrix below has one entry"
	check "one node: migration is not applicable, with the reason" \
		out_has "not applicable: page migration needs at least 2 nodes with memory"
	check "one node: node-comparing checks are N/A with the reason" \
		out_has "N/A  latency is symmetric: needs at least 2 NUMA nodes"
fi
check "a latency was measured (ns per load)" grep -q '"ns_per_load"' "$T/q.json"
check "the JSON says complete" grep -q '"complete": true' "$T/q.json"
check "software perf events give readings" out_has "minor-faults .*available (read [1-9][0-9]* faults)"
# Every unsupported event carries an errno reason, never a bare "unsupported".
unsup_ok() {
	! grep 'unsupported' "$T/out" | grep -v -e 'unsupported: E[A-Z]* (' -e '^  raw NUMA events' | grep -q .
}
check "every unsupported event says why (errno and reason)" unsup_ok
check "raw NUMA events: the events found, or why there are none" \
	out_has "^  raw NUMA events (libpfm4): \(pfm:\|unsupported: .*need libpfm4\|libpfm4 knows none\)"
if [ ! -e /sys/bus/event_source/devices/cpu ]; then
	check "no PMU here: cycles is unsupported, not zero" out_has "cycles .*unsupported: .*no hardware PMU"
fi
check "the virtual-machine verdict is stated" out_has "^machine: "
if [ -x /usr/bin/gnuplot ] || [ -n "${MMCERT_GNUPLOT:-}" ]; then
	png_ok() {
		for f in distance latency copy triad; do
			[ "$(head -c 8 "$T/q/$f.png" | od -An -c | tr -d ' \n')" = '211PNG\r\n032\n' ] || return 1
		done
	}
	check "heatmaps are PNG files" png_ok
fi

run env MMCERT_GNUPLOT=/nonexistent/gnuplot "$MMCERT" qualify --quick -o "$T/np"
check "without gnuplot: still exits 0" status_is 0
check "without gnuplot: plots skipped with a note" out_has "plots: skipped: gnuplot is not available"
check "without gnuplot: the default JSON is in the output directory" test -s "$T/np/qualify.json"

run "$MMCERT" qualify --quick -o "$T/eng" --impl "$MMCERT_BUILD/libmmref.so"
check "--impl: exits 0" status_is 0
if [ "$nodes" -eq 1 ]; then
	check "--impl on one node: the engine's migration is not applicable, with the reason" \
		out_has "by mmcert's engine (move_range): not applicable: page migration needs at least 2 nodes"
else
	check "--impl: the engine's migration was measured" out_has "by mmcert's engine (move_range): measured"
fi
run "$MMCERT" qualify --impl /no/such/impl.so
check "--impl of a missing file: exit 2, named" sh -c "[ $rc -eq 2 ] && grep -q /no/such/impl.so '$T/err'"
run "$MMCERT" qualify --host-memory 1G
check "--host-memory: exit 2, not meaningful" sh -c "[ $rc -eq 2 ] && grep -q 'not meaningful' '$T/err'"

run "$MMCERT" qualify --topology builtin:4
check "--topology: exit 2" status_is 2
check "--topology: says it is not meaningful for qualify" err_has "not meaningful for qualify"
run "$MMCERT" qualify --bogus
check "unknown option: exit 2" status_is 2
check "unknown option: named" err_has "unknown option '--bogus'"
check "unknown option: nothing on stdout" out_empty
run "$MMCERT" qualify --events cycles,cyclez
check "unknown event: exit 2" status_is 2
check "unknown event: named, built-ins listed" err_has "unknown event 'cyclez': built-in events are"
run "$MMCERT" qualify --events pfm:MEM_LOAD_L3_MISS_RETIRED
check "raw event without libpfm4 (or unknown to it): exit 2" status_is 2
run "$MMCERT" qualify --json /no/such/dir/q.json
check "--json in a missing directory: exit 2" status_is 2
run "$MMCERT" qualify --json
check "--json without a value: exit 2" status_is 2
run "$MMCERT" qualify stray
check "stray argument: exit 2" status_is 2
run "$MMCERT" qualify --help
check "--help exits 0 and shows the options" out_has "--quick"

# SIGINT while measuring: wait (with a deadline) for the first phase to start,
# interrupt, and expect a partial report.
"$MMCERT" qualify -o "$T/int" >"$T/int.out" 2>"$T/int.err" &
pid=$!
i=0
while ! grep -q "measuring latency" "$T/int.err" 2>/dev/null && [ $i -lt 600 ]; do
	i=$((i + 1))
	sleep 0.05 # polling a condition with a 30 s deadline, not a synchronisation by time
done
kill -INT "$pid"
wait "$pid"
rc=$?
cp "$T/int.out" "$T/out"
cp "$T/int.err" "$T/err"
check "SIGINT: exit status is non-zero (130)" status_is 130
check "SIGINT: stdout says INCOMPLETE" out_has "^status: INCOMPLETE"
check "SIGINT: the JSON is written and marked incomplete" grep -q '"complete": false' "$T/int/qualify.json"
check "SIGINT: the JSON names the signal" grep -q '"interrupted_by": "SIGINT"' "$T/int/qualify.json"
check "SIGINT: no temporary file is left" sh -c "! ls -a '$T/int' | grep -q '^\.mmcert-results'"
done_testing
