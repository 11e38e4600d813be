# bench.t — `mmcert bench` writes its figures as a results file (mode
# bench) that results/compare read: every figure, peer and ratio a metric,
# every target a check; a benchmark missing a target is "fail" there.
. "$(dirname "$0")/lib.sh"
cd "$T" || exit 1
REF=$MMCERT_BUILD/libmmref.so

run "$MMCERT" bench access --impl "$REF" --json "$T/b1.json"
check "bench access: exit 0" status_is 0
check "the table is printed" out_has "triad through page() (4 KB)"
check "the results file is named" err_has "results: $T/b1.json"
run "$MMCERT" results show "$T/b1.json"
check "results show reads it" status_is 0
check "mode bench" out_has "^mode=bench$"
check "two targets as checks" out_has "^checks=2$"
check "figure, peer and ratio metrics (+ wall time)" out_has "^metrics=7$"
run grep -c '"name": "triad through page() (4 KB) / triad, raw, same frames"' "$T/b1.json"
check "the ratio is a metric of its own" out_has "^1$"
run grep -c '"name": "Numa.RebalancePeriod"' "$T/b1.json"
check "the implementation's settings are recorded" out_has "^1$"

run "$MMCERT" bench --json "$T/b2.json" access --impl "$REF"
check "options after the name too" status_is 0
run "$MMCERT" compare --report-only "$T/b1.json" "$T/b2.json"
check "compare reads two bench files" status_is 0
check "compare names a bench metric" out_has "bench.access"
run "$MMCERT" results import --db "$T/h.db" "$T/b1.json" "$T/b2.json"
check "history imports bench files" status_is 0
run "$MMCERT" results list --db "$T/h.db" --mode bench
check "history lists them by mode" out_has "bench"

run "$MMCERT" bench access --impl "$IMPLS/novm.so" --json "$T/min.json"
check "--impl is the implementation measured: exit 1 when it cannot" status_is 1
check "... the message names it" err_has "not implemented by test-novm"
run "$MMCERT" results show "$T/min.json"
check "... and its results file says so" out_has "^impl=test-novm$"
run grep -c '"verdict": "broken"' "$T/min.json"
check "... the benchmark broken there" out_has "^[1-9]"

run "$MMCERT" bench access --impl "$REF" --json "$T/no/such/dir/b.json"
check "--json in a missing directory: exit 2" status_is 2
check "... names the directory" err_has "directory $T/no/such/dir does not exist"
run "$MMCERT" bench access --impl "$REF" --json "$T"
check "--json a directory: exit 2" status_is 2
# reclaim: the swap-out rows are medians of rounds, each with its peers
run "$MMCERT" bench reclaim --impl "$REF" --repeat 2 --json "$T/r.json"
check "bench reclaim: exit 0" status_is 0
check "the swap-out's size and rounds are printed" out_has "per reclaim period; median of 2 rounds"
check "the target row beside raw pwrite of as many bytes" out_has "raw sequential pwrite, 256 KB .* >= 0.8"
check "the two-thread raw floor is measured" out_has "2 threads: pwrite || hash+punch"
check "the spread of the rounds is printed" out_has "raw sequential pwrite per round: [0-9.]*\\.\\.[0-9.]*"
run "$MMCERT" results show "$T/r.json"
check "the swap-out target is a check" out_has "^checks=1$"
done_testing
exit 0
