#!/bin/sh
# baseline.sh — refresh the committed baselines (`make baseline`).
#
# Runs the quick suite against the reference implementation BASELINE_REPEAT
# times per case (default 5, so later comparisons have samples to test) on
# this machine's topology and, on a single-node machine, on the built-in
# emulated 4-node topology too (as tests/run-suite.sh does), and writes
#   results/baselines/<machine class>/reference-<version>.json
#   results/baselines/<machine class>/reference-<version>-emulated-4-nodes.json
# (machine class and version read back from the run with `mmcert results
# show`). Commit the files. Exit status: 0 written, 1 a run failed (its
# results are not made a baseline), 2 bad usage.
set -u
mmcert=${1:?usage: baseline.sh PATH/TO/mmcert [mmcert run options...]}
shift
here=$(cd "$(dirname "$0")/.." && pwd)
repeat=${BASELINE_REPEAT:-5}
basedir=${MMCERT_BASELINE_DIR:-$here/results/baselines} # tests point it elsewhere
tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT INT TERM

nodes=$(ls -d /sys/devices/system/node/node[0-9]* 2>/dev/null | wc -l)
[ "$nodes" -ge 1 ] || nodes=1

field() { # FILE KEY: a value from `mmcert results show`
	"$mmcert" results show "$1" | sed -n "s/^$2=//p"
}

make_one() { # suffix, then mmcert run arguments
	suffix=$1
	shift
	json=$tmp/run$suffix.json
	echo "# baseline run$suffix: mmcert run --mode quick --repeat $repeat $*"
	if ! "$mmcert" run --mode quick --repeat "$repeat" --json "$json" "$@" >"$tmp/tap" 2>"$tmp/err"; then
		cat "$tmp/err" >&2
		echo "baseline.sh: the run failed; no baseline written" >&2
		exit 1
	fi
	class=$(field "$json" machine_class)
	version=$(field "$json" version)
	impl=$(field "$json" impl)
	dir=$basedir/$class
	mkdir -p "$dir" || exit 2
	cp "$json" "$dir/$impl-$version$suffix.json" || exit 2
	echo "# wrote $dir/$impl-$version$suffix.json"
}

make_one "" "$@"
if [ "$nodes" -le 1 ]; then
	make_one -emulated-4-nodes --topology builtin:4 "$@"
fi
