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
# Unless a --seed is given, each run uses its baseline's seed, so figures
# the seed determines (stepped-clock metrics) compare like with like, and
# the comparison judges only what its samples support (--single-effect off:
# one sample is judged only against a baseline that never varied); both are
# said in the output.
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
user_seed=no
for a in "$@"; do
	case $a in --seed | --seed=*) user_seed=yes ;; esac
done
class=$("$mmcert" topology 2>/dev/null | sed -n 's/^machine class: //p')
version=$(cat "$here/VERSION" 2>/dev/null)

# The baseline of the same implementation version if there is one, else the
# newest version's: comparing a release against the last one is the point.
find_baseline() { # label
	suffix=
	[ "$1" = this-machine ] || suffix=-$1
	dir=$basedir/$class
	base=$dir/reference-$version$suffix.json
	[ -n "$class" ] && [ -f "$base" ] && return 0
	if [ -n "$suffix" ]; then
		base=$(ls "$dir"/reference-*"$suffix".json 2>/dev/null | sort -V | tail -n 1)
	else
		base=$(ls "$dir"/reference-*.json 2>/dev/null | grep -v -e '-emulated-' | sort -V | tail -n 1)
	fi
	[ -n "$class" ] && [ -n "$base" ] && [ -f "$base" ]
}

run_one() { # label, then mmcert run arguments
	label=$1
	shift
	json="$outdir/$stamp-reference-$label.json"
	seed_args=
	if find_baseline "$label"; then
		seed=$("$mmcert" results show "$base" 2>/dev/null | sed -n 's/^seed=//p')
		if [ "$user_seed" = no ] && [ -n "$seed" ]; then
			seed_args="--seed $seed"
			echo "# seed $seed: the baseline's (${base#"$here"/}), so figures the seed determines compare like with like"
		fi
	else
		base=
	fi
	echo "# mmcert suite: $label ($*${seed_args:+ $seed_args})"
	# shellcheck disable=SC2086
	"$mmcert" run --mode quick --json "$json" $seed_args "$@"
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

compare_baseline() { # label, results file
	[ -s "$2" ] || return 0
	if [ -z "$base" ]; then
		echo "# no baseline for machine class ${class:-(unknown)} ($1): make baseline writes one"
		return 0
	fi
	echo "# ---- $1 against the baseline ${base#"$here"/} (report only) ----"
	"$mmcert" compare --report-only --single-effect off "$base" "$2" 2>&1 | sed 's/^/# /'
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
