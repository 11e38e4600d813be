# compare.t — `mmcert compare OLD NEW` — synthetic results drawn
# from one distribution compare "no change" (exit 0); a run whose migration
# throughput was drawn 20 % lower compares "regressed" (exit 1, 0 with
# --report-only), as a build slowed by MMCERT_TEST_SLOW_COPY_PCT must; a
# newly failing check exits 1; one sample a side cannot be tested unless
# beyond the large threshold under the same seed (never under another seed,
# never with --single-effect off) or against a side that never varied under
# the same seed; unsupported metrics are named, never "nan"; different
# topologies or modes are refused
# (exit 2) unless --force; bad files exit 2 with nothing on stdout; two real
# runs of the same code compare "no change"; history selections work.
. "$(dirname "$0")/lib.sh"
F=$(cd "$(dirname "$0")/../fixtures/results" && pwd)
cd "$T" || exit 1

run "$MMCERT" compare "$F/old.json" "$F/same.json"
check "same distribution: exit 0" status_is 0
check "same distribution: throughput no change" out_has "migration_throughput.*no change (p="
check "same distribution: verdict line" out_has "^verdict: no change: 0 regressed, 0 newly failing, 0 improved, 0 newly passing$"
check "metric without direction is info" out_has "pages_scanned.*info"

run "$MMCERT" compare "$F/old.json" "$F/slow.json"
check "slowed copy: exit 1" status_is 1
check "slowed copy: overall verdict" out_has "^verdict: REGRESSED: 1 regressed, 0 newly failing"
check "slowed copy: throughput regressed" out_has "migration_throughput \[MB/s\].* 0\.80[0-9]  regressed (p="
check "slowed copy: latency unchanged" out_has "remote_access_latency.*no change"
run "$MMCERT" compare --report-only "$F/old.json" "$F/slow.json"
check "--report-only: exit 0 with the regression shown" sh -c "[ $rc -eq 0 ] && grep -q regressed '$T/out'"
run "$MMCERT" compare "$F/slow.json" "$F/old.json"
check "the other way round: improved, exit 0" sh -c "[ $rc -eq 0 ] && grep -q 'migration_throughput.*improved' '$T/out'"
run "$MMCERT" compare --min-effect 30% "$F/old.json" "$F/slow.json"
check "--min-effect 30%: a 20 % change is no change" sh -c "[ $rc -eq 0 ] && grep -q 'migration_throughput.*no change.*below 30 % effect' '$T/out'"
run "$MMCERT" compare --alpha 0.0001 "$F/old.json" "$F/slow.json"
check "--alpha 0.0001: 8+8 samples cannot reach it" sh -c "[ $rc -eq 0 ] && grep -q 'migration_throughput.*no change (too few samples: p >= 0.00016 for 8+8)' '$T/out'"

# Detectable changes and repeat guidance.
run "$MMCERT" compare "$F/old.json" "$F/same.json"
check "detectable: 8+8 samples 1 % apart catch the 5 % minimum effect" out_has "migration_throughput.*no change (p=.*  5 % (min effect)$"
check "detectable: info metrics are not judged" out_has "pages_scanned.*info (no better direction) *-$"
check "no repeat guidance when every metric catches 5 %" sh -c "! grep -q 'repeat guidance' '$T/out'"
run "$MMCERT" compare --min-effect 1% "$F/old.json" "$F/same.json"
check "--min-effect 1%: detectable now above 1 %" out_has "migration_throughput.*no change (p=.*  1\.[0-9]* %$"
check "--min-effect 1%: repeat guidance names the metric and a --repeat" out_has "^  MIG-1/migration_throughput \[MB/s\]: noise 1\.[0-9]* %, 8 a side catch [0-9.]* %; [0-9]* a side: --repeat [0-9]*$"
run "$MMCERT" compare --alpha 0.0001 "$F/old.json" "$F/same.json"
check "--alpha 0.0001: 8+8 can never reach it" out_has "migration_throughput.*never (8+8)$"
run "$MMCERT" compare "$F/single-a.json" "$F/single-b.json"
check "one sample a side: never" out_has "migration_throughput.*never (1+1)$"

run "$MMCERT" compare "$F/old.json" "$F/newfail.json"
check "newly failing check: exit 1" status_is 1
check "newly failing check named with its diagnostic" out_has "newly failing  MIG-1: every page reaches its home node \[MIG-1\]: 12 pages still remote"
check "newly failing case" out_has "newly failing  case MIG-1 (pass -> fail)"
run "$MMCERT" compare "$F/newfail.json" "$F/old.json"
check "newly passing: exit 0" sh -c "[ $rc -eq 0 ] && grep -q 'newly passing  MIG-1: every page' '$T/out'"

run "$MMCERT" compare "$F/single-a.json" "$F/single-b.json"
check "1 sample a side: cannot test, exit 0" sh -c "[ $rc -eq 0 ] && grep -q 'migration_throughput.*no change (1 sample: cannot test)' '$T/out'"
run "$MMCERT" compare "$F/single-a.json" "$F/single-slow.json"
check "1 sample, beyond 50 %: regressed, exit 1" sh -c "[ $rc -eq 1 ] && grep -q 'migration_throughput.*regressed (1 sample: beyond 50 %)' '$T/out'"
check "same seed: said" out_has "^seeds: both 17: figures the seed determines compare like with like$"
run "$MMCERT" compare "$F/single-a.json" "$F/single-slow-other-seed.json"
check "1 sample under another seed: not judged, exit 0" sh -c "[ $rc -eq 0 ] && grep -q 'migration_throughput.*no change (1 sample under another seed: cannot test)' '$T/out'"
check "another seed: said, with what to do" out_has "^seeds: old 17, new 19: a metric with one sample on a side is not judged.*--seed 17 or --repeat$"
run "$MMCERT" compare --single-effect off "$F/single-a.json" "$F/single-slow.json"
check "--single-effect off: one sample not judged, exit 0" sh -c "[ $rc -eq 0 ] && grep -q 'migration_throughput.*no change (1 sample: cannot test)' '$T/out'"
run "$MMCERT" compare --single-effect sometimes "$F/single-a.json" "$F/single-slow.json"
check "--single-effect sometimes: exit 2, names off" sh -c "[ $rc -eq 2 ] && grep -q 'e.g. 50%, or off' '$T/err'"
# A figure the seed determines: the same value in all 8 repetitions of the
# old run; one new sample under the same seed, 10 % off, is a change.
python3 - "$F/old.json" "$T" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
m = d["cases"][0]["metrics"]
m.append({"name": "periods_to_converge", "unit": "periods", "better": "lower", "samples": [4.0] * 8})
m.append({"name": "perf.cycles", "unit": "count", "better": "", "samples": [], "value": None,
          "unsupported": "no PMU: perf_event_open cycles refused"})
json.dump(d, open(sys.argv[2] + "/det-old.json", "w"))
d["run_id"] = "det-new"
m[-2]["samples"] = [4.4]
json.dump(d, open(sys.argv[2] + "/det-new.json", "w"))
d["run_id"] = "det-same"
m[-2]["samples"] = [4.0]
json.dump(d, open(sys.argv[2] + "/det-same.json", "w"))
PY
run "$MMCERT" compare --single-effect off "$T/det-old.json" "$T/det-new.json"
check "same seed, old never varied: one new sample 10 % worse is regressed" sh -c "[ $rc -eq 1 ] && grep -q 'periods_to_converge.*regressed (1 sample: same seed, old always 4)' '$T/out'"
check "unsupported on both sides: said with the reason, never nan" sh -c "grep -q 'perf.cycles \[count\] *unsupported *unsupported *- *not compared (old unsupported: no PMU' '$T/out' && ! grep -q nan '$T/out'"
run "$MMCERT" compare --single-effect off "$T/det-old.json" "$T/det-same.json"
check "same seed, same value: no change" sh -c "[ $rc -eq 0 ] && grep -q 'periods_to_converge.*no change (1 sample: same seed, same value)' '$T/out'"

run "$MMCERT" compare "$F/old.json" "$F/topo2.json"
check "different topologies: exit 2" status_is 2
check "different topologies: says why and how to force" err_has "different topologies.*4 nodes.*2 nodes.*--force"
check "different topologies: nothing on stdout" out_empty
run "$MMCERT" compare --force "$F/old.json" "$F/topo2.json"
check "--force: compared with a warning" sh -c "[ $rc -eq 0 ] && grep -q 'warning: --force' '$T/out'"
run "$MMCERT" compare "$F/old.json" "$F/full.json"
check "different modes: exit 2, says why" sh -c "[ $rc -eq 2 ] && grep -q 'different modes (OLD: quick; NEW: full)' '$T/err'"

run "$MMCERT" compare "$F/old.json" "$F/not-json.json"
check "not JSON: exit 2" status_is 2
check "not JSON: names the file and the position" err_has "not-json.json: not valid JSON at line 1"
run "$MMCERT" compare "$F/truncated.json" "$F/old.json"
check "truncated: exit 2, says truncated" sh -c "[ $rc -eq 2 ] && grep -q 'OLD .*truncated.json: truncated JSON' '$T/err'"
run "$MMCERT" compare "$F/old.json" "$F/schema1.json"
check "other schema version: exit 2, names both versions" sh -c "[ $rc -eq 2 ] && grep -q 'schema_version 1, this mmcert reads version 2' '$T/err'"
check "bad input: nothing on stdout" out_empty
run "$MMCERT" compare "$F/old.json" "$T/missing.json"
check "missing file: exit 2" sh -c "[ $rc -eq 2 ] && grep -q 'missing.json: cannot open' '$T/err'"
run "$MMCERT" compare "$F/old.json" "$T"
check "a directory: exit 2, not a regular file" sh -c "[ $rc -eq 2 ] && grep -q 'not a regular file' '$T/err'"
run "$MMCERT" compare "$F/old.json"
check "one argument: exit 2" sh -c "[ $rc -eq 2 ] && grep -q 'expected OLD and NEW' '$T/err'"
run "$MMCERT" compare --alpha 2 "$F/old.json" "$F/same.json"
check "--alpha 2: exit 2" sh -c "[ $rc -eq 2 ] && grep -q 'alpha .2.: expected a number between 0 and 1' '$T/err'"
run "$MMCERT" compare --min-effect lots "$F/old.json" "$F/same.json"
check "--min-effect lots: exit 2" status_is 2

# History selections.
"$MMCERT" results import --db "$T/h.db" "$F/old.json" "$F/same.json" "$F/slow.json" >/dev/null 2>&1
run "$MMCERT" compare --db "$T/h.db" db:version=0.1.0 db:version=0.1.1
check "db selections: 0.1.0 (2 runs pooled) vs 0.1.1 regressed" sh -c "[ $rc -eq 1 ] && grep -q '2 runs' '$T/out' && grep -q 'migration_throughput.*(n=16).*regressed' '$T/out'"
run "$MMCERT" compare --db "$T/h.db" db:impl=nobody "$F/old.json"
check "empty selection: exit 2, says so" sh -c "[ $rc -eq 2 ] && grep -q 'db:impl=nobody.*no run selected' '$T/err'"
run "$MMCERT" compare --db "$T/h.db" 'db:run=%' "$F/old.json"
check "run=% is a prefix, not a LIKE pattern: selects nothing" sh -c "[ $rc -eq 2 ] && grep -q 'db:run=%.*no run selected' '$T/err'"
run "$MMCERT" compare --db "$T/h.db" db:run=fixture-sa "$F/old.json"
check "run=PREFIX selects by prefix" sh -c "[ $rc -eq 0 ] && grep -q '^old: db:run=fixture-sa .*1 run$' '$T/out'"
run "$MMCERT" compare --db "$T/h.db" db:colour=blue "$F/old.json"
check "unknown selection key: exit 2, lists the keys" sh -c "[ $rc -eq 2 ] && grep -q \"key 'colour' is unknown; allowed: impl, version\" '$T/err'"
run "$MMCERT" compare --db "$T/none.db" db:impl=reference "$F/old.json"
check "selection without a database: exit 2" sh -c "[ $rc -eq 2 ] && grep -q 'no such database' '$T/err'"

# Two real runs of unchanged code.
REF=$MMCERT_BUILD/libmmref.so
"$MMCERT" run --impl "$REF" --case 'SET-*' --repeat 3 --json "$T/r1.json" >/dev/null 2>&1
"$MMCERT" run --impl "$REF" --case 'SET-*' --repeat 3 --json "$T/r2.json" >/dev/null 2>&1
run "$MMCERT" compare "$T/r1.json" "$T/r2.json"
check "two runs of the same code: exit 0" status_is 0
check "two runs of the same code: wall time shown, informational" out_has "SET-1/wall_time \[s\].*info (no better direction)"
check "two runs of the same code: no change" out_has "^verdict: no change: 0 regressed, 0 newly failing, 0 improved, 0 newly passing$"
done_testing
