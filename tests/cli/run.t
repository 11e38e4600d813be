# run.t — `mmcert run` end to end: SET-1 passes against the reference
# implementation and a minimal correct one, fails against a wrong default,
# and a crashing or hanging implementation costs one `not ok` (exit 1) while
# the run goes on to its totals and results. stdout is TAP prove accepts.
. "$(dirname "$0")/lib.sh"
cd "$T" || exit 1
REF=$MMCERT_BUILD/libmmref.so

# tap_parses FILE: prove parses it as TAP (version 13 header, plan, lines).
tap_parses() { prove --exec cat "$1" >/dev/null 2>&1; }
# only_tap FILE: every line is TAP: header, plan, result, comment, or an
# indented subtest line; nothing else leaked onto stdout.
only_tap() {
	! grep -v -E '^(TAP version 13|1\.\.[0-9]+|(not )?ok [0-9]+( .*)?|#.*|    .*)$' "$1" >/dev/null
}

run "$MMCERT" run --case 'SET-*' --impl "$REF" --seed 7 --json "$T/ref.json"
check "SET-* against libmmref.so: exit 0" status_is 0
check "SET-1 is ok" out_has "^ok 1 - SET-1 "
check "TAP version 13 header first" sh -c "head -n 1 '$T/out' | grep -qx 'TAP version 13'"
check "seed printed in the header" out_has "^# seed: 7$"
check "subtests indented with their own plan" out_has "^    1\.\.[0-9]"
check "totals line" out_has "^# Totals: pass:[1-9][0-9]* fail:0 skip:0 broken:0$"
check "prove accepts the output" tap_parses "$T/out"
check "stdout is only TAP" only_tap "$T/out"
check "summary table on stderr" err_has "SET-1 *pass"
check "results JSON written with the seed" grep -q '"seed": 7,' "$T/ref.json"
check "results JSON lists the reference" grep -q '"name": "reference"' "$T/ref.json"

run "$MMCERT" run --case SET-1 --impl "$IMPLS/minimal.so" --seed 8
check "default results path under results/runs/" sh -c "ls '$T'/results/runs/*-test-minimal.json >/dev/null"
check "minimal implementation passes SET-1" status_is 0

run "$MMCERT" run --case SET-1 --impl "$IMPLS/minimal.so" --set Mem.IdleTax=50 --json "$T/set.json"
check "--set in range: exit 0" status_is 0
check "--set value recorded in the JSON" sh -c "grep -A3 '\"name\": \"Mem.IdleTax\"' '$T/set.json' | grep -q '\"value\": 50'"

run "$MMCERT" run --case SET-1 --impl "$IMPLS/noisy.so" --json "$T/noisy.json"
check "implementation printing to stdout: still passes" status_is 0
check "implementation printing to stdout: stdout is only TAP" only_tap "$T/out"
check "implementation printing to stdout: the noise went to stderr" err_has "noise from host_create"

run "$MMCERT" run --case SET-1 --impl "$IMPLS/wrong_default.so" --json "$T/wd.json"
check "wrong default: exit 1" status_is 1
check "wrong default: the failing check is reported" out_has "^    not ok [0-9]* - Numa.RebalancePeriod is 2000 by default"
check "wrong default: its diagnostic" out_has "expected 2000, saw 1000"
check "wrong default: prove accepts the output" sh -c "prove --exec cat '$T/out' 2>&1 | grep -q 'Failed 1/1'"

run "$MMCERT" run --case SET-1 --impl "$IMPLS/crash_create.so" --json "$T/crash.json"
check "crashing implementation: exit 1" status_is 1
check "crashing implementation: not ok" out_has "^not ok 1 - SET-1 "
# Under AddressSanitizer its SIGSEGV handler reports and exits 1 instead.
check "crashing implementation: signal or exit named" out_has "BROKEN: child \(killed by signal 11\|exited with status 1\)"
check "crashing implementation: stdout is only TAP" only_tap "$T/out"
check "crashing implementation: run reaches its totals" out_has "^# Totals: pass:0 fail:0 skip:0 broken:1$"
check "crashing implementation: results still written" grep -q '"verdict": "broken"' "$T/crash.json"

run "$MMCERT" run --impl "$IMPLS/crash_on_set.so" --json "$T/cos.json"
check "crash mid-case: exit 1" status_is 1
check "crash mid-case: checks before the crash kept in TAP" out_has "^    ok 1 - Numa.RebalanceEnable exists$"
check "crash mid-case: not ok" out_has "^not ok 1 - SET-1 "
check "crash mid-case: checks kept in the JSON" grep -q '"name": "Numa.RebalanceEnable exists"' "$T/cos.json"

start=$(date +%s)
run "$MMCERT" run --case SET-1 --impl "$IMPLS/hang_create.so" --timeout-scale 0.05 --json "$T/hang.json"
end=$(date +%s)
check "hanging implementation: exit 1" status_is 1
check "hanging implementation: not ok with TIMEOUT" out_has "^not ok 1 - SET-1 .* # TIMEOUT after 1.5 s"
check "hanging implementation: totals" out_has "^# Totals: pass:0 fail:0 skip:0 broken:1$"
check "hanging implementation: ended by the timeouts, not later" [ $((end - start)) -le 10 ]
# '[h]' keeps this check's own command line from matching itself.
check "hanging implementation: no child left" sh -c "! ps -eo args | grep -q '[h]ang_create.so .*$T/hang.json'"
done_testing
