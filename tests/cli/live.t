# live.t — the live-clock forms of the cases are right: the reference, which
# has both clocks, passes every one of them when --clock live forces it.
# A live form that assumes the stepped clock, emulated nodes or node-named
# pools, or judges with a tolerance tighter than its
# documented period allows, fails here on a correct implementation. Quick
# mode (the live forms shorten periods through the reference's own
# Ref.*UnitMs settings); on this machine's topology, then the cases that
# need two nodes or more on builtin:4.
. "$(dirname "$0")/lib.sh"

# A live form ran when it passed, or ended not shown for what it found on
# this machine (machine: ksmd busy with other processes' memory; unprobed:
# the kernel gave a fresh VM no frame of the one before), never for want of
# a form. Every case selected either ran its live form and passed, or has no live
# form (not shown [clock]) or needs what the topology lacks; none failed or
# broke, and at least `want` cases ran live.
live_ok() {
	want=$1
	! grep -q '^not ok' "$T/out" &&
		[ "$(grep -c '^ok .*\[live clock\]' "$T/out")" -ge "$want" ]
}

run "$MMCERT" run --clock live --seed 7 --json "$T/here.json"
check "reference, --clock live, this machine: no live form failed or broke" live_ok 25
# What failed, on stderr too when something did (prove shows it without -v).
# Each failing check with the diagnostics under it (not the passing cases'
# comments).
show_failures() {
	awk '/^(    )?not ok/ { show = 1; print; next }
		/^(    )?ok/ || /# Subtest:/ { show = 0; next }
		show && /^ *#/ && !/# metric/ { print }' "$T/out" | head -n 60 | sed 's/^/# /' >&2
}
show_failures
# The rebalancer scenarios' live forms build their own 2-node topology
# (numa_live.h), so this run has them whatever the machine's. A case with
# variants passes as its variants of the live form (TPS-1/run-topology,
# NUMA-8b/at-thresholds, ...); its stepped-only ones are not run.
check "the live forms of TPS-1..3, TPS-5..8, BAL-1, SWAP-2, ZIP-1, SWAP-ENOSPC, WSS-1..3, ALLOC-6, SEC-1, NUMA-8b, SET-2, NUMA-4..7, NUMA-10, NUMA-12, MIG-1, MIG-3, MIG-5 ran" \
	sh -c "for id in TPS-1 TPS-2 TPS-3 TPS-5 TPS-6 TPS-7 TPS-8 BAL-1 SWAP-2 ZIP-1 SWAP-ENOSPC WSS-1 WSS-2 WSS-3 ALLOC-6 SEC-1 NUMA-8b SET-2 NUMA-4 NUMA-5 NUMA-6 NUMA-7 NUMA-10 NUMA-12 MIG-1 MIG-3 MIG-5; do
		grep -q -E \"^ok [0-9]* - \$id(/[a-z0-9-]+)? .*(\\[live clock\\]|# SKIP not shown \\((machine|unprobed)\\))\" '$T/out' ||
			{ echo \"# \$id\"; exit 1; }
	done"

run "$MMCERT" run --clock live --topology builtin:4 --case 'TPS-4' --case 'MIG-4' --case 'INT-1' \
	--seed 7 --json "$T/b4.json"
check "reference, --clock live, builtin:4: TPS-4, MIG-4 and INT-1 live pass" live_ok 3
show_failures

# The live forms have the stepped forms' power: broken twins of the reference
# (reference-impl/twin.h, the kill matrix runs them stepped) fail them too.
# Each pair: the twin, then the case whose live form must fail a check of
# the twin's SPEC id. A run the machine leaves not shown (exit 4: threads
# kept off the CPU, so the parts that would fail cannot be told) is run once
# more with another seed; a pass is never retried.
TWINS=$MMCERT_BUILD/tests/twins
for pair in alloc6-events-do-not-recompute:ALLOC-6 alloc6-recomputed-at-every-wss-tick:ALLOC-6 \
	numa12-locality-ignores-cpu:NUMA-12 numa12-moves-only-reported:NUMA-12 \
	numa10-margins-dropped:NUMA-10 \
	set2-period-read-once:SET-2 set2-period-changes-period-under-way:SET-2 \
	set2-rebalancer-keeps-period-reports-change:SET-2; do
	twin=${pair%%:*} id=${pair#*:}
	for seed in 7 8; do
		run "$MMCERT" run --impl "$TWINS/$twin.so" --clock live --case "$id" --seed $seed \
			--no-perf --json "$T/$twin.json"
		[ "$rc" -eq 4 ] || break
	done
	check "twin $twin: $id's live form fails it" \
		sh -c "[ $rc -eq 1 ] && grep -q '^    not ok [0-9]* - live: ' '$T/out'"
done

# A case without a live form says why, in the list and in the certificate.
run "$MMCERT" list
check "list: every case without a live form gives its reason" \
	sh -c "sed -n '/^Without a live form/,\$p' '$T/out' | grep -q '^STATE-1 ' &&
		! grep -q '(no reason given)' '$T/out'"
run "$MMCERT" run --clock live --case STATE-1 --seed 7
check "certificate: not shown [clock] with the case's reason" \
	out_has "^# not shown  STATE-1 *\\[clock\\] case STATE-1/minfree-256m: case STATE-1 has no live form (--clock live): its free-memory curve"
check "certificate: variants that share the reason say it once" \
	sh -c "[ \$(grep '^# not shown  STATE-1' '$T/out' | grep -o 'has no live form' | wc -l) -eq 1 ] &&
		grep -q 'case STATE-1/curve: the same' '$T/out'"
done_testing
