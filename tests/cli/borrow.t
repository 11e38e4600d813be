# borrow.t — machine-wide kernel state is borrowed, never changed: every
# KSM, zswap, NUMA-balancing, transparent-hugepage and DAMON kdamond state
# knob and the list of swap areas read the same after runs of the Linux
# implementation as before, and nothing is left in the borrow state. (A run
# killed with SIGKILL and given back by the next mmcert: test_linux_impl.)
# Root only: without root nothing is borrowed.
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -ne 0 ]; then
	echo "1..0 # SKIP not root: nothing machine-wide is borrowed"
	exit 0
fi

snapshot() {
	for f in /sys/kernel/mm/ksm/* /sys/module/zswap/parameters/* \
		/proc/sys/kernel/numa_balancing /sys/kernel/mm/transparent_hugepage/enabled \
		/sys/kernel/mm/transparent_hugepage/defrag /sys/kernel/mm/damon/admin/kdamonds/*/state; do
		case $f in
		# counters the kernel moves by itself, not settings
		*/full_scans | */pages_* | */general_profit | */ksm_zero_pages | \
			*/stable_node_* | */pages_scanned) ;;
		*) [ -r "$f" ] && printf '%s=%s\n' "$f" "$(cat "$f" 2>/dev/null)" ;;
		esac
	done
	sed 1d /proc/swaps | awk '{print "swap=" $1}'
}

# The same lock as machine_quiet() (tests/unit/machine_state.h): another make check's
# machine tests wait, and nobody's borrow may be open while the knobs are compared.
lockdir=${MMCERT_BORROW_DIR:-/run/mmcert}
mkdir -p "$lockdir"
exec 8>"$lockdir/tests.lock"
flock -w 300 8 || { echo "1..0 # SKIP another run holds $lockdir/tests.lock"; exit 0; }
waited=0
while [ -e "$lockdir/borrow.state" ] && [ $waited -lt 600 ]; do
	sleep 0.1
	waited=$((waited + 1))
done
[ -e "$lockdir/borrow.state" ] && { echo "1..0 # SKIP a borrow of another run stayed open"; exit 0; }
snapshot >"$T/before"
run "$MMCERT" run --impl "$MMCERT_BUILD/libmmlinux.so" --case 'SET-1' --case 'SEC-1' \
	--json "$T/r.json"
snapshot >"$T/after"
check "linux run (SET-1, SEC-1) completed" [ -s "$T/r.json" ]
check "every knob and the swap list read the same after the run" cmp -s "$T/before" "$T/after"
diff "$T/before" "$T/after" | sed 's/^/# /'
state=${MMCERT_BORROW_DIR:-/run/mmcert}/borrow.state
check "no borrow state left behind" [ ! -e "$state" ]
done_testing
