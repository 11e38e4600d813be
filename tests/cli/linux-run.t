# linux-run.t — the Linux implementation runs the whole suite with no case
# broken by the suite's own assumptions: every case either ran (passed, or
# failed where Linux does not do what its statement says) or is not shown
# with a reason; none is not shown for want of a live form where the case
# has one the implementation can run. Root with KSM only: without them the
# implementation lacks the mechanisms most cases judge. That the machine's
# knobs read the same after runs of the Linux implementation is borrow.t's
# and test_borrow's to show: this run does not take tests.lock (it lasts
# minutes, and the machine-state tests of a make check beside it would wait
# for it or skip), so it compares no knobs.
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -ne 0 ]; then
	echo "1..0 # SKIP not root: the Linux implementation's KSM, swap and zswap need root"
	exit 0
fi
if [ ! -w /sys/kernel/mm/ksm/run ]; then
	echo "1..0 # SKIP no KSM here (/sys/kernel/mm/ksm/run is not writable)"
	exit 0
fi
run "$MMCERT" run --impl "$MMCERT_BUILD/libmmlinux.so" --mode quick --seed 7 --json "$T/linux.json"
# Kept for make conformance (CONFORMANCE_LINUX): CI does not run it twice.
mkdir -p "$MMCERT_BUILD/check" && cp "$T/linux.json" "$MMCERT_BUILD/check/linux-run.json"
check "the run ended with a certificate (exit 1 or 4: Linux is not ESXi)" \
	sh -c "[ $rc -eq 1 ] || [ $rc -eq 4 ]"
check "no case broken" sh -c "! grep -q '^# BROKEN' '$T/out'"
grep -B1 '^# BROKEN' "$T/out" | sed 's/^/# /'
check "no SPEC id not shown for want of a live form" \
	sh -c "! grep -q '^# not shown .*\\[clock\\]' '$T/out'"
grep '^# not shown .*\[clock\]' "$T/out" | sed 's/^/# /'
check "every SPEC id shown, failed or not shown with a reason" \
	sh -c "! grep -E '^# (not shown) +[A-Z0-9-]+ *\$' '$T/out'"
check "every capability Linux lacks is explained (its why_not, up to 511 characters)" \
	sh -c "! grep -q 'lacks it)' '$T/out'"
grep 'lacks it)' "$T/out" | sed 's/^/# /'
sed -n '/^# ---- certificate/,/^# verdict/p' "$T/out" | sed 's/^/# /'
# Which cases took the time (the summary on stderr).
sed -n '/^  case /,/^  pass /p' "$T/err" | awk '$4 + 0 >= 10 { print "# " $0 }'
done_testing
