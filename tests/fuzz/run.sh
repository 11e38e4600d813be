#!/bin/sh
# run.sh — `make fuzz-run`: each fuzz target (tests/fuzz/fuzz_*.c, built
# by `make fuzz` into DIR) for SECONDS on its committed corpus.
#
# New inputs libFuzzer finds go to a scratch copy, never into the tree: a
# run changes nothing committed. An input that breaks a property, crashes
# or takes longer than 10 s is kept under DIR/crashes/ with the command
# that reproduces it; once the bug is fixed, commit the input under
# tests/fuzz/corpus/<target>/ and `make check` replays it ever after.
# Exit status: 0 nothing found, 1 a target found something (every target
# still runs), 2 bad usage or nothing built.
set -u
dir=${1:?usage: run.sh DIR SECONDS}
secs=${2:?usage: run.sh DIR SECONDS}
here=$(cd "$(dirname "$0")" && pwd)
case $secs in '' | *[!0-9]*) echo "run.sh: SECONDS '$secs' must be a whole number" >&2; exit 2 ;; esac
targets=$(ls "$dir"/fuzz_* 2>/dev/null)
[ -n "$targets" ] || { echo "run.sh: no fuzz targets in $dir (make fuzz builds them)" >&2; exit 2; }
scratch=$(mktemp -d) || exit 2
trap 'rm -rf "$scratch"' EXIT INT TERM HUP
mkdir -p "$dir/crashes" || exit 2
worst=0
for bin in $targets; do
	t=$(basename "$bin")
	corpus=$here/corpus/$t
	[ -d "$corpus" ] || { echo "run.sh: $t has no corpus ($corpus)" >&2; worst=1; continue; }
	mkdir -p "$scratch/$t"
	start=$(date +%s)
	# The scratch directory first: libFuzzer writes what it finds into the
	# first corpus directory and only reads the others. -rss_limit_mb: the
	# machine is shared. Each target's output in its log; the verdict here.
	"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=1024 -print_final_stats=1 \
		-artifact_prefix="$dir/crashes/$t-" "$scratch/$t" "$corpus" >"$scratch/$t.log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$scratch/$t.log" | tail -n 1)
	cov=$(sed -n 's/.*cov: \([0-9]*\).*/\1/p' "$scratch/$t.log" | tail -n 1)
	took=$(($(date +%s) - start))
	if [ "$rc" -eq 0 ]; then
		printf 'fuzz %-20s ok: %s inputs in %ss, coverage %s edges\n' "$t" "${runs:-?}" "$took" "${cov:-?}"
		continue
	fi
	worst=1
	found=$(ls -t "$dir/crashes/$t-"* 2>/dev/null | head -n 1)
	printf 'fuzz %-20s FOUND SOMETHING (exit %d) after %ss\n' "$t" "$rc" "$took"
	grep -m 12 -e 'ERROR:' -e 'property broken' -e 'SUMMARY' -e '#[0-9] 0x' "$scratch/$t.log" | sed 's/^/    /'
	[ -n "$found" ] && printf '    input kept: %s\n    reproduce:  %s %s\n' "$found" "$bin" "$found"
done
exit "$worst"
