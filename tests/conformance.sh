#!/bin/sh
# conformance.sh — `make conformance`: regenerate doc/conformance.md, the
# conformance matrix (mmcert report --matrix): what ESXi documents (the SPEC
# ids), what the reference does and what the Linux kernel does, side by side.
#
# Columns: the reference on this machine, combined with the built-in
# emulated 4-node topology when this machine has one node (as `make suite`,
# `mmcert certify`); the Linux implementation on this machine (it runs only
# on the machine's own nodes); and, when `make check-numa` left them in
# <build>/numa/, both implementations' runs in the 4-node guest.
# Results files go to <build>/conformance/. A run's certificate verdict
# (exit 0, 1, 4) is the matrix's content, not this script's failure; exit 2
# when a run wrote no results file or the matrix could not be written.
# CONFORMANCE_REFERENCE: results files of reference runs already made here
# (CI passes `make suite`'s: the same quick runs, so not run twice, ~100 s
# on 2 cores); certified together when there are several.
# CONFORMANCE_LINUX: a results file of the Linux implementation's whole run
# here already made (CI passes make check's, tests/cli/linux-run.t: minutes
# of real time waiting for ksmd, not run twice).
set -u
mmcert=${1:?usage: conformance.sh PATH/TO/mmcert [OUT.md]}
out=${2:-doc/conformance.md}
given=${CONFORMANCE_REFERENCE:-}
build=$(cd "$(dirname "$mmcert")" && pwd)
dir=$build/conformance
mkdir -p "$dir" || exit 2
nodes=$(ls -d /sys/devices/system/node/node[0-9]* 2>/dev/null | wc -l)

run() { # results file, then mmcert run arguments
	json=$1
	shift
	rm -f "$json"
	echo "# conformance: mmcert run $* --json $json"
	"$mmcert" run --mode quick --json "$json" "$@" >"$json.tap" 2>&1
	echo "# exit $? ($(tail -n 1 "$json.tap"))"
	# A broken case is the harness or the implementation failing, not a
	# verdict: listed (the matrix says which ids it left unjudged).
	grep -B1 '^# BROKEN' "$json.tap" | grep -v '^--' | sed 's/^/#   /'
	[ -s "$json" ] || { echo "conformance: mmcert run $* wrote no results (see $json.tap)" >&2; exit 2; }
}

if [ -n "$given" ]; then
	refs=
	for f in $given; do
		[ -s "$f" ] || { echo "conformance: CONFORMANCE_REFERENCE: $f is not a results file" >&2; exit 2; }
		refs="$refs $f"
		echo "# conformance: the reference's run $f (given)"
	done
else
	run "$dir/reference-here.json"
	refs=$dir/reference-here.json
	if [ "$nodes" -le 1 ]; then
		run "$dir/reference-builtin4.json" --topology builtin:4
		refs="$refs $dir/reference-builtin4.json"
	fi
fi
# shellcheck disable=SC2086
set -- $refs
ref=$1
if [ $# -gt 1 ]; then
	"$mmcert" certify "$@" --json "$dir/reference.json" >"$dir/reference-certify.txt" 2>&1
	[ -s "$dir/reference.json" ] || { echo "conformance: mmcert certify failed (see $dir/reference-certify.txt)" >&2; exit 2; }
	ref=$dir/reference.json
fi
linux=${CONFORMANCE_LINUX:-}
if [ -n "$linux" ]; then
	[ -s "$linux" ] || { echo "conformance: CONFORMANCE_LINUX: $linux is not a results file" >&2; exit 2; }
	echo "# conformance: the Linux implementation's run $linux (given)"
else
	linux=$dir/linux-here.json
	run "$linux" --impl "$build/libmmlinux.so"
fi
files="$ref $linux"
for guest in "$build/numa/results.json" "$build/numa/results-linux.json"; do
	[ -s "$guest" ] && files="$files $guest" && echo "# conformance: adding the 4-node guest's $guest"
done
# shellcheck disable=SC2086
"$mmcert" report --matrix $files -o "$out"
