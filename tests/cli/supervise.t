# supervise.t — what an implementation can do to mmcert's processes, and
# what an interrupted mmcert leaves behind (suite/supervise.c, impl_load.c):
# - an object whose constructor crashes or hangs, or whose name points
#   nowhere, is refused with one line (exit 2): mmcert never loads it itself;
# - helpers an implementation moves out of the case's process group are
#   killed when the case ends and reported (TAP and stderr);
# - killed with SIGKILL, mmcert takes its running child along (no orphan
#   under init), and the next mmcert removes the files the dead one left;
# - interrupted with INT, TERM or HUP, it removes its temporary files
#   (swap-like files an implementation wrote under $TMPDIR) before it dies;
# - garbage on a case's record pipe breaks the case and says so;
# - page() returning NULL without an error is named as such;
# - `mmcert bench` runs each benchmark in its own process: an implementation
#   that crashes in one keeps the figures of the others and the results file.
. "$(dirname "$0")/lib.sh"
cd "$T" || exit 1

# The pids whose parent is $1 (from /proc: no procps needed).
children_of() {
	for f in /proc/[0-9]*/stat; do
		s=$(cat "$f" 2>/dev/null) || continue
		# shellcheck disable=SC2086
		set -- ${s##*) }
		[ "$2" = "$want" ] && { p=${f#/proc/}; echo "${p%/stat}"; }
	done
}
alive() { [ -d "/proc/$1" ] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }
# wait_for TEST...: poll (bounded, 20 s) until TEST holds; never a fixed sleep.
wait_for() {
	i=0
	while ! "$@" && [ $i -lt 2000 ]; do
		i=$((i + 1))
		sleep 0.01
	done
	"$@"
}
none_alive() {
	for p in "$@"; do alive "$p" && return 1; done
	return 0
}
empty_dir() { [ -z "$(ls -A "$1")" ]; }

# ---- objects mmcert must not load itself
run "$MMCERT" run --impl "$IMPLS/crash_ctor.so"
check "constructor crashes: exit 2 (mmcert itself did not crash)" status_is 2
check "constructor crashes: says so and where" err_has "crash_ctor.so: inspecting it crashed with signal 11 (Segmentation fault) while loading it (dlopen runs its constructors); mmcert did not load it"
check "constructor crashes: no TAP" out_empty
MMCERT_LOAD_TIMEOUT=1 run "$MMCERT" run --impl "$IMPLS/hang_ctor.so"
check "constructor hangs: exit 2 after the load timeout" sh -c "[ $rc -eq 2 ] && grep -q 'hang_ctor.so: inspecting it did not finish in 1 s (it hung while loading it' '$T/err'"
run "$MMCERT" run --impl "$IMPLS/bad_name.so"
check "name pointing nowhere: exit 2, named" sh -c "[ $rc -eq 2 ] && grep -q 'bad_name.so: name is not readable memory (pointer 0x10); expected a printable string' '$T/err'"
run "$MMCERT" bench access --impl "$IMPLS/crash_ctor.so"
check "bench refuses it the same way" sh -c "[ $rc -eq 2 ] && grep -q 'inspecting it crashed with signal 11' '$T/err'"

# ---- helpers that escape the case's process group
MMCERT_TEST_PIDFILE=$T/helpers run "$MMCERT" run --impl "$IMPLS/escape.so" --case SET-1 --json "$T/esc.json"
check "escaped helpers: the run still ends" status_is 0
check "escaped helpers: reported in the case's TAP" out_has "^    # 2 processes the implementation started left the case's process group and outlived it (killed): pid [0-9]* (.*), pid [0-9]*"
check "escaped helpers: and on stderr" err_has "^mmcert: case SET-1: 2 processes"
# shellcheck disable=SC2046
check "escaped helpers: none is left running" none_alive $(cat "$T/helpers")

# ---- SIGKILL: the running child dies with mmcert; the next start cleans up
mkdir "$T/tmp"
TMPDIR=$T/tmp MMCERT_TEST_PIDFILE=$T/made "$MMCERT" run --impl "$IMPLS/tmp_hang.so" --case SET-1 \
	--json "$T/k.json" >"$T/k.out" 2>"$T/k.err" &
mm=$!
wait_for test -s "$T/made"
want=$mm
kids=$(children_of)
check "SIGKILL: a child of mmcert is running (hung in host_create)" test -n "$kids"
kill -9 "$mm"
wait "$mm" 2>/dev/null
# shellcheck disable=SC2086
check "SIGKILL: the child died with mmcert (no orphan under init)" wait_for none_alive $kids
# shellcheck disable=SC2086
none_alive $kids || kill -9 $kids 2>/dev/null # an orphan must not outlive the test
check "SIGKILL: the swap-like file it wrote is still there" sh -c "ls '$T'/tmp/mmcert-run-*/*/mmcert-swap-test-*/vm0.vswp >/dev/null"
TMPDIR=$T/tmp run "$MMCERT" run --impl "$IMPLS/minimal.so" --case SET-1 --json "$T/next.json"
check "next start: removes the dead run's directory and says so" err_has "^mmcert: removed $T/tmp/mmcert-run-[0-9]*-[A-Za-z0-9]*, left by an earlier mmcert that did not end cleanly"
check "next start: nothing left in \$TMPDIR" empty_dir "$T/tmp"

# ---- INT, TERM, HUP: files removed before mmcert dies
for sig in INT TERM HUP; do
	rm -f "$T/made"
	TMPDIR=$T/tmp MMCERT_TEST_PIDFILE=$T/made "$MMCERT" run --impl "$IMPLS/tmp_hang.so" \
		--case SET-1 --json "$T/s.json" >"$T/s.out" 2>"$T/s.err" &
	mm=$!
	wait_for test -s "$T/made"
	want=$mm
	kids=$(children_of)
	kill -s "$sig" "$mm"
	wait "$mm" 2>/dev/null # the shell's own "Terminated" note, not mmcert's output
	st=$?
	check "SIG$sig: mmcert dies of it (status $st)" sh -c "[ $st -gt 128 ]"
	check "SIG$sig: nothing left in \$TMPDIR (the 1 MiB file included)" empty_dir "$T/tmp"
	# shellcheck disable=SC2086
	check "SIG$sig: its child is gone" wait_for none_alive $kids
done

# ---- what a case's child sends and says
run "$MMCERT" run --impl "$IMPLS/junk_pipe.so" --case SET-1 --timeout-scale 10
check "garbage on the record pipe: the case is broken, said so" out_has "^# BROKEN: the child sent a malformed record on its result pipe after 0 good ones (exit status 0)$"
run "$MMCERT" run --impl "$IMPLS/null_page.so" --case ALLOC-1 --timeout-scale 10
check "page() NULL without an error: the reason names it" out_has "# BROKEN: .*page(gpfn 0, write) returned NULL without an error message"

# ---- benchmarks, each in its own process
run "$MMCERT" bench access placement --impl "$IMPLS/crash_big.so" --json "$T/bench.json"
check "bench: a benchmark's crash is exit 1, not mmcert's own death" status_is 1
check "bench: the crash is named" err_has "^mmcert bench placement: broken: the benchmark's process was killed by signal 11 (Segmentation fault); the figures measured before are kept"
check "bench: the results file is written" sh -c "\"$MMCERT\" results show '$T/bench.json' >/dev/null"
check "bench: the other benchmark's figures are in it" sh -c "tr -d ' \n' <'$T/bench.json' | grep -q '\"id\":\"bench.access\".*\"verdict\":\"pass\".*\"name\":\"copythroughpage()(4KB)\"'"
check "bench: the crashed one is broken there, with the reason" sh -c "tr -d ' \n' <'$T/bench.json' | grep -q '\"id\":\"bench.placement\".*\"verdict\":\"broken\",\"reason\":\"thebenchmark.sprocesswaskilledbysignal11'"
done_testing
