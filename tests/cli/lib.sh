# lib.sh — helpers for the CLI tests (tests/cli/*.t): POSIX sh printing TAP.
# Sourced, not run. Needs $MMCERT (the binary) and $MMCERT_BUILD (the build
# directory, for build/tests/impls/*.so and libmmref.so).
: "${MMCERT:?set MMCERT to the mmcert binary}"
: "${MMCERT_BUILD:=$(dirname "$MMCERT")}"
IMPLS=$MMCERT_BUILD/tests/impls
T=$(mktemp -d) || exit 1
trap 'rm -rf "$T"' EXIT INT TERM
n=0
rc=0

# run CMD...: run it, keep stdout in $T/out, stderr in $T/err, status in $rc.
run() {
	"$@" >"$T/out" 2>"$T/err"
	rc=$?
}

# check DESCRIPTION TEST...: one TAP line; on failure, show what ran.
check() {
	desc=$1
	shift
	n=$((n + 1))
	if "$@"; then
		echo "ok $n - $desc"
	else
		echo "not ok $n - $desc"
		# On stderr as well as in the TAP stream: prove shows a test's
		# stderr without -v, so a CI log names what failed.
		{
			echo "# $desc: exit status $rc; stderr:"
			head -n 5 "$T/err" | sed 's/^/#   /'
			echo "# stdout:"
			head -n 5 "$T/out" | sed 's/^/#   /'
		} | tee /dev/stderr
	fi
}

status_is() { [ "$rc" -eq "$1" ]; }
# A run of a subset where nothing failed: 0 CERTIFIED, or 4 INCOMPLETE when
# another, unselected case also judges one of its SPEC ids.
nothing_failed() { [ "$rc" -eq 0 ] || [ "$rc" -eq 4 ]; }
err_has() { grep -q -e "$1" "$T/err"; }
out_has() { grep -q -e "$1" "$T/out"; }
out_empty() { [ ! -s "$T/out" ]; }
done_testing() { echo "1..$n"; }
