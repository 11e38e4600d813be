# cases.t — the issue-3 cases catch what they exist to catch: each
# deliberately wrong implementation (tests/impls/liar_*.c: the reference with
# one lie) fails the case aimed at it while the honest reference passes it.
# Emulated 2-node topology, so page attribution goes through /proc/self/maps.
. "$(dirname "$0")/lib.sh"

case_verdict() { # impl case: run one case, keep the status
	run "$MMCERT" run --impl "$1" --topology builtin:2 --case "$2" --json "$T/r.json"
}

case_verdict "$MMCERT_BUILD/libmmref.so" NUMA-1
check "reference: NUMA-1 passes" status_is 0
case_verdict "$IMPLS/liar_home.so" NUMA-1
check "home nodes misreported: NUMA-1 fails" status_is 1
check "home nodes misreported: the probe check names it" out_has "not ok .*first-touched page on home node"

case_verdict "$MMCERT_BUILD/libmmref.so" SEC-1
check "reference: SEC-1 passes" status_is 0
case_verdict "$IMPLS/liar_dirty.so" SEC-1
check "frames not zeroed: SEC-1 fails" status_is 1
check "frames not zeroed: the zero check names it" out_has "not ok .*every page zero when first written"

case_verdict "$MMCERT_BUILD/libmmref.so" INT-1
check "reference: INT-1 passes" status_is 0
case_verdict "$IMPLS/liar_lose.so" INT-1
check "writes lost: INT-1 fails" status_is 1
check "writes lost: wl_verify names it" out_has "not ok .*holds the last version written"
done_testing
