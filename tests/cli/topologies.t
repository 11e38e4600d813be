# topologies.t — placement on machines whose nodes differ: the reference
# passes NUMA-1/2/3/9 on a 3-node machine of 1, 2 and 4 GiB with gapped OS
# node ids (tests/fixtures/topo-gapped-ids.xml), and NUMA-2 on every real
# machine of ../shared/topologies (hwloc's test exports: restricted cpusets,
# memory-only KNL nodes, 24 nodes...) when that folder is beside the checkout
# or MMCERT_TOPOLOGIES names one. NUMA-2 itself also builds a 1/2/4 GiB
# machine with a memory-only node; these are the machines users bring.
. "$(dirname "$0")/lib.sh"
src=$(cd "$(dirname "$0")/../.." && pwd)

run "$MMCERT" run --topology "$src/tests/fixtures/topo-gapped-ids.xml" --case NUMA-1 \
	--case NUMA-2 --case NUMA-3 --case NUMA-9 --no-perf --json "$T/r.json"
check "1/2/4 GiB nodes, ids 0/2/5: NUMA-1, -2, -3, -9 pass" status_is 0
check "... NUMA-2 judged the memory balance of every node" \
	out_has "ok .*run topology, mixed: memory load of every node within"

dir=${MMCERT_TOPOLOGIES:-}
for d in "$src/../shared/topologies" "$src/../../shared/topologies"; do
	[ -z "$dir" ] && [ -d "$d" ] && dir=$d
done
if [ -n "$dir" ] && [ -d "$dir" ]; then
	for xml in "$dir"/*.xml; do
		run "$MMCERT" run --topology "$xml" --case NUMA-2 --no-perf --json "$T/r.json"
		check "$(basename "$xml"): NUMA-2 passes" status_is 0
	done
else
	echo "# real-machine topologies not tried: ../shared/topologies is not beside the checkout" \
		"(MMCERT_TOPOLOGIES=DIR points at hwloc XML exports)"
fi
done_testing
