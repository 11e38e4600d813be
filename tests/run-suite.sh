#!/bin/sh
# run-suite.sh — the main job behind `make suite`.
#
# Runs the conformance suite in quick mode against the reference
# implementation on this machine's topology and, when this machine has a
# single NUMA node (so NUMA placement would mean nothing), once more on a
# built-in emulated 4-node topology, saying so. Each run prints its TAP on
# stdout and writes a JSON result under results/runs/. When a baseline for
# this machine class exists (results/baselines/<class>/reference-<version>
# [-emulated-4-nodes].json, written by `make baseline`), each run is compared
# against it with `mmcert compare --report-only` and the comparison printed
# as TAP comments: the baseline informs, it never changes the exit status.
# Then the runs' certificates are combined into one (`mmcert certify`): an
# id shown on the emulated topology and failed nowhere is shown, so a
# one-node machine still certifies the NUMA ids.
# Exit status: the combined certificate's (0 CERTIFIED, 1 NOT CERTIFIED,
# 4 INCOMPLETE), 2 on bad usage; a run that wrote no results file counts
# as NOT CERTIFIED.
set -u
mmcert=${1:?usage: run-suite.sh PATH/TO/mmcert [mmcert run options...]}
shift
here=$(cd "$(dirname "$0")/.." && pwd)
outdir=${MMCERT_RESULTS_DIR:-$here/results/runs}
basedir=${MMCERT_BASELINE_DIR:-$here/results/baselines}
mkdir -p "$outdir" || exit 2
stamp=$(date -u +%Y%m%dT%H%M%SZ)

nodes=$(ls -d /sys/devices/system/node/node[0-9]* 2>/dev/null | wc -l)
[ "$nodes" -ge 1 ] || nodes=1

worst=0
summary=
jsons=
run_one() { # label, then mmcert run arguments
	label=$1
	shift
	json="$outdir/$stamp-reference-$label.json"
	echo "# mmcert suite: $label ($*)"
	"$mmcert" run --mode quick --json "$json" "$@"
	rc=$?
	[ "$rc" -eq 2 ] && worst=2
	if [ -s "$json" ]; then
		jsons="$jsons $json"
	elif [ "$worst" -ne 2 ]; then
		worst=1
	fi
	summary="$summary$(printf '%-28s exit %d  %s' "$label" "$rc" "$json")
"
	compare_baseline "$label" "$json"
}

# The baseline of the same implementation version if there is one, else the
# newest version's: comparing a release against the last one is the point.
compare_baseline() { # label, results file
	[ -s "$2" ] || return 0
	class=$("$mmcert" results show "$2" 2>/dev/null | sed -n 's/^machine_class=//p')
	version=$("$mmcert" results show "$2" 2>/dev/null | sed -n 's/^version=//p')
	suffix=
	[ "$1" = this-machine ] || suffix=-$1
	dir=$basedir/$class
	base=$dir/reference-$version$suffix.json
	if [ ! -f "$base" ]; then
		if [ -n "$suffix" ]; then
			base=$(ls "$dir"/reference-*"$suffix".json 2>/dev/null | sort -V | tail -n 1)
		else
			base=$(ls "$dir"/reference-*.json 2>/dev/null | grep -v -e '-emulated-' | sort -V | tail -n 1)
		fi
	fi
	if [ -z "$base" ] || [ ! -f "$base" ]; then
		echo "# no baseline for machine class $class ($1): make baseline writes one"
		return 0
	fi
	echo "# ---- $1 against the baseline ${base#"$here"/} (report only) ----"
	"$mmcert" compare --report-only "$base" "$2" 2>&1 | sed 's/^/# /'
}

run_one this-machine "$@"
if [ "$nodes" -le 1 ]; then
	echo "# this machine has a single NUMA node: running again on the built-in emulated 4-node topology"
	run_one emulated-4-nodes --topology builtin:4 "$@"
fi

echo "# ---- summary ----"
printf '%s' "$summary" | sed 's/^/# /'
[ "$worst" -ne 0 ] && exit "$worst"
# shellcheck disable=SC2086
"$mmcert" certify $jsons
exit $?
