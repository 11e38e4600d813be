#!/bin/sh
# run-suite.sh — the main job behind `make suite`.
#
# Runs the conformance suite in quick mode against the reference
# implementation on this machine's topology and, when this machine has a
# single NUMA node (so NUMA placement would mean nothing), once more on a
# built-in emulated 4-node topology, saying so. Each run prints its TAP on
# stdout and writes a JSON result under results/runs/. Exit status: the worst
# of the runs (0 all passed or skipped, 1 a check failed, 2 bad usage).
set -u
mmcert=${1:?usage: run-suite.sh PATH/TO/mmcert [mmcert run options...]}
shift
here=$(cd "$(dirname "$0")/.." && pwd)
outdir=${MMCERT_RESULTS_DIR:-$here/results/runs}
mkdir -p "$outdir" || exit 2
stamp=$(date -u +%Y%m%dT%H%M%SZ)

nodes=$(ls -d /sys/devices/system/node/node[0-9]* 2>/dev/null | wc -l)
[ "$nodes" -ge 1 ] || nodes=1

worst=0
summary=
run_one() { # label, then mmcert run arguments
	label=$1
	shift
	json="$outdir/$stamp-reference-$label.json"
	echo "# mmcert suite: $label ($*)"
	"$mmcert" run --mode quick --json "$json" "$@"
	rc=$?
	[ "$rc" -gt "$worst" ] && worst=$rc
	summary="$summary$(printf '%-28s exit %d  %s' "$label" "$rc" "$json")
"
}

run_one this-machine "$@"
if [ "$nodes" -le 1 ]; then
	echo "# this machine has a single NUMA node: running again on the built-in emulated 4-node topology"
	run_one emulated-4-nodes --topology builtin:4 "$@"
fi

echo "# ---- summary ----"
printf '%s' "$summary" | sed 's/^/# /'
exit "$worst"
