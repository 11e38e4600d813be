# cases.t — the cases catch what they exist to catch: each
# deliberately wrong implementation (tests/impls/liar_*.c: the reference with
# one lie) fails the case aimed at it while the honest reference passes it.
# Emulated 2-node topology, so page attribution goes through /proc/self/maps.
. "$(dirname "$0")/lib.sh"

case_verdict() { # impl case: run one case, keep the status
	run "$MMCERT" run --impl "$1" --topology builtin:2 --case "$2" --json "$T/r.json"
}

case_verdict "$MMCERT_BUILD/libmmref.so" NUMA-1
check "reference: NUMA-1 passes" nothing_failed
check "reference: NUMA-1 passes, its TAP line" out_has "^ok 1 - NUMA-1"
case_verdict "$IMPLS/liar_home.so" NUMA-1
check "home nodes misreported: NUMA-1 fails" status_is 1
check "home nodes misreported: the probe check names it" out_has "not ok .*first-touched page on home node"

case_verdict "$MMCERT_BUILD/libmmref.so" SEC-1
check "reference: SEC-1 passes" nothing_failed
case_verdict "$IMPLS/liar_dirty.so" SEC-1
check "frames not zeroed: SEC-1 fails" status_is 1
check "frames not zeroed: the zero check names it" out_has "not ok .*every page zero when first written"

case_verdict "$MMCERT_BUILD/libmmref.so" INT-1
check "reference: INT-1 passes" nothing_failed
case_verdict "$IMPLS/liar_lose.so" INT-1
check "writes lost: INT-1 fails" status_is 1
check "writes lost: wl_verify names it" out_has "not ok .*holds the last version written"
# Every VM piled on one node (liar_pile) must fail NUMA-2's balance checks,
# also when memory-only nodes are left out of the balance (synthetic: two
# nodes with CPUs, two memory-only).
case_verdict "$IMPLS/liar_pile.so" NUMA-2
check "VMs piled on one node: NUMA-2 fails" status_is 1
check "VMs piled on one node: the memory balance check names it" out_has "not ok .*builtin:2, mixed: memory load"
run "$MMCERT" run --impl "$IMPLS/liar_pile.so" --topology 'synthetic:pack:2 [numa] [numa] core:2 pu:1;memory=256M' \
	--case NUMA-2 --json "$T/r.json"
check "VMs piled on one node, memory-only nodes: NUMA-2 fails" status_is 1
check "VMs piled on one node, memory-only nodes: memory balance over the home nodes fails" \
	out_has "not ok .*run topology, mixed: memory load of each of the 2 nodes that can be homes"
run "$MMCERT" run --topology 'synthetic:pack:2 [numa] [numa] core:2 pu:1;memory=256M' \
	--case NUMA-2 --case NUMA-9 --case INT-1 --json "$T/r.json"
check "reference, memory-only nodes: NUMA-2, NUMA-9 and INT-1 pass" nothing_failed
done_testing
