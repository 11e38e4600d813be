# certificate.t — a run ends with a certificate per SPEC id and answers with
# its verdict: 0 CERTIFIED, 1 NOT CERTIFIED, 4 INCOMPLETE; nothing passes by
# being skipped. `certify` combines runs; `compare` names SPEC ids whose
# status changed.
. "$(dirname "$0")/lib.sh"
REF=$MMCERT_BUILD/libmmref.so
cd "$T" || exit 1

# An implementation that runs VMs and nothing else: what it does is shown,
# the rest not shown with the flag named; exit 4, never 0.
run "$MMCERT" run --impl "$IMPLS/minimal.so" --no-perf --json "$T/min.json"
check "minimal: INCOMPLETE, exit 4" status_is 4
check "minimal: verdict printed" out_has "^# verdict: INCOMPLETE"
check "minimal: SET-1 shown" out_has "^# shown  *SET-1 "
check "minimal: ALLOC-1 shown (admission control on its own VMs)" out_has "^# shown  *ALLOC-1 "
check "minimal: SWAP-1 not shown, naming the flag" \
	out_has "^# not shown  *SWAP-1 .*\[capability\] .*MMC_CAP_SWAP"
check "minimal: INT-1 not shown for its clock" out_has "^# not shown  *INT-1 .*\[clock\]"
check "minimal: the JSON carries the certificate" \
	grep -q '"verdict": "INCOMPLETE"' "$T/min.json"

# An implementation whose power-on answers MMC_ENOTSUP (no flag allows it):
# broken, NOT CERTIFIED, exit 1 — never certified by skipping.
run "$MMCERT" run --impl "$IMPLS/novm.so" --no-perf --json "$T/novm.json"
check "no VMs: NOT CERTIFIED, exit 1" status_is 1
check "no VMs: ALLOC-1 failed, the power-on named" out_has "^# FAILED  *ALLOC-1 .*vm_power_on"

# --spec selects every case that names the id and certifies only it.
run "$MMCERT" run --impl "$REF" --spec 'SEC-*' --no-perf --json "$T/sec.json"
check "--spec SEC-*: CERTIFIED, exit 0" status_is 0
check "--spec SEC-*: SWAP-1 ran (it checks SEC-2)" out_has "^ok .* - SWAP-1 "
check "--spec SEC-*: the scope says it is a subset" out_has "^# scope: 2 SPEC ids only (--spec 'SEC-\*')"
run "$MMCERT" run --impl "$REF" --spec 'NOPE-*'
check "--spec matching nothing: exit 2" status_is 2
check "--spec matching nothing: says how to list ids" err_has "'NOPE-\*' matches no SPEC id"

# --case: an id also judged by an unselected case is not shown, not shown.
run "$MMCERT" run --impl "$REF" --case NUMA-1 --topology builtin:2 --no-perf --json "$T/n1.json"
check "--case NUMA-1: INCOMPLETE (NUMA-3 also judges NUMA-1)" status_is 4
check "--case NUMA-1: names the unselected case" out_has "not selected.*case NUMA-3 not selected"

# --clock forces a form; a case without it is not shown for its clock.
run "$MMCERT" run --impl "$REF" --case STATE-1 --clock live --no-perf --json "$T/live.json"
check "--clock live on a stepped-only case: not shown, exit 4" status_is 4
check "--clock live: the reason names the missing form" out_has "STATE-1 has no live form"
run "$MMCERT" run --impl "$REF" --clock fast
check "--clock fast: exit 2" status_is 2

# certify: NUMA-9 cannot be shown on one node, is shown on two emulated ones.
run "$MMCERT" run --impl "$REF" --spec NUMA-9 --topology 'synthetic:node:1 core:2 pu:1' \
	--no-perf --json "$T/one.json"
check "NUMA-9 on one node: INCOMPLETE" status_is 4
run "$MMCERT" run --impl "$REF" --spec NUMA-9 --topology builtin:2 --no-perf --json "$T/two.json"
check "NUMA-9 on two nodes: CERTIFIED" status_is 0
run "$MMCERT" certify "$T/one.json" "$T/two.json" --json "$T/both.json"
check "certify: combined CERTIFIED, exit 0" status_is 0
check "certify: the id shown" out_has "^# shown  *NUMA-9 "
check "certify --json: written" grep -q '"schema": "mmcert-certificate"' "$T/both.json"
run "$MMCERT" certify "$T/one.json"
check "certify one run alone: its own verdict (4)" status_is 4
run "$MMCERT" certify "$T/one.json" "$T/min.json"
check "certify of two implementations: exit 2" status_is 2
check "certify of two implementations: says why" err_has "covers one implementation"
echo '{"schema":"mmcert-results"' >"$T/cut.json"
run "$MMCERT" certify "$T/cut.json"
check "certify of a truncated file: exit 2" status_is 2
run "$MMCERT" certify
check "certify without files: exit 2" status_is 2

# compare names SPEC ids whose status changed and gates on a lost one.
run "$MMCERT" compare --force "$T/two.json" "$T/one.json"
check "compare: a shown id now not shown is listed" out_has "NUMA-9 *shown -> not shown"
check "compare: and gates (exit 1)" status_is 1
check "compare: the certificates' verdicts" out_has "certificate: CERTIFIED -> INCOMPLETE"
done_testing
