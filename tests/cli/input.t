# input.t — bad input to `mmcert run` is refused before anything runs or is
# written: exit 2 and a message naming the input and what is allowed. A
# topology file is read in a child: one that crashes hwloc is refused too.
. "$(dirname "$0")/lib.sh"
IMPL=$IMPLS/minimal.so
CRASH=$(cd "$(dirname "$0")/../fixtures" && pwd)/topo-crash.xml
cd "$T" || exit 1

run "$MMCERT" run --impl "$IMPL" --case 'NOPE-*'
check "unknown case glob: exit 2" status_is 2
check "unknown case glob: says how to see the cases" err_has "'NOPE-\*' matches no case; 'mmcert list'"
check "unknown case glob: no TAP" out_empty

run "$MMCERT" run --impl "$IMPL" --topology "$T/none.xml"
check "missing topology file: exit 2" status_is 2
check "missing topology file: named" err_has "$T/none.xml"

# A corrupt export that crashes hwloc itself (tests/fixtures/topo-crash.xml):
# read in a child, so a refusal, not mmcert's death (it ended with 139).
run "$MMCERT" topology --topology "$CRASH"
check "XML that crashes hwloc: exit 2" status_is 2
check "XML that crashes hwloc: says so, naming the file" err_has "hwloc crashed reading .*topo-crash.xml (signal 11, Segmentation fault): the file is corrupt"
run "$MMCERT" run --impl "$IMPL" --topology "$CRASH"
check "XML that crashes hwloc, run: exit 2, no TAP" sh -c "[ $rc -eq 2 ] && [ ! -s '$T/out' ]"

# Huge synthetic topologies are refused from the string, before hwloc builds
# them ('node:10000 pu:1' was built for a minute, then refused).
run timeout 20 "$MMCERT" topology --topology 'synthetic:node:10000 pu:1'
check "10000 synthetic nodes: refused at once (exit 2, not the 20 s timeout), the limit named" sh -c "[ $rc -eq 2 ] && grep -q \"10000 NUMA nodes at level 'node:10000'; mmcert supports at most 64\" '$T/err'"
run timeout 20 "$MMCERT" topology --topology 'synthetic:node:2 core:100000 pu:100'
check "20 million synthetic PUs: refused at once, the limit named" sh -c "[ $rc -eq 2 ] && grep -q \"100000 objects under each parent at level 'core:100000'; mmcert builds at most 1024\" '$T/err'"
# Within the old limit (65536 PUs) hwloc took over 30 s for 4096 children
# under one parent (found by tests/fuzz/fuzz_synthetic.c): at most 1024
# under a parent, 4096 PUs in all.
run timeout 20 "$MMCERT" topology --topology 'synthetic:node:4 pu:4096'
check "4096 PUs under each node: refused at once, the limit named" sh -c "[ $rc -eq 2 ] && grep -q \"4096 objects under each parent at level 'pu:4096'; mmcert builds at most 1024 (and 4096 PUs in all)\" '$T/err'"
# Levels without a space between them: hwloc reads 'node:40pu:818' as node:40
# then pu:818 (32720 PUs, 9.5 s to build); the check read one level (found
# by fuzz_synthetic in CI).
run timeout 20 "$MMCERT" topology --topology 'synthetic:node:40pu:818'
check "levels run together: refused at once, the limit named" sh -c "[ $rc -eq 2 ] && grep -q \"more than 4096 objects at level 'pu:818'\" '$T/err'"
# A level without a type (hwloc picks it): 'synthetic:482048' ran 30 s.
run timeout 20 "$MMCERT" topology --topology 'synthetic:482048'
check "a count without a type: refused at once, the limit named" sh -c "[ $rc -eq 2 ] && grep -q \"at level '482048'\" '$T/err'"
run timeout 20 "$MMCERT" topology --topology 'synthetic:node:64 core:16 pu:8'
check "8192 synthetic PUs: refused at once, the limit named" sh -c "[ $rc -eq 2 ] && grep -q 'at most 4096 PUs' '$T/err'"
run timeout 20 "$MMCERT" topology --topology 'synthetic:node:64 core:16 pu:4'
check "4096 synthetic PUs in 64 nodes: built" sh -c "[ $rc -eq 0 ] && grep -q '^nodes: 64 (emulated), cores: 1024, PUs: 4096' '$T/out'"

echo "just text" >"$T/notxml.xml"
run "$MMCERT" run --impl "$IMPL" --topology "$T/notxml.xml"
check "non-XML topology: exit 2" status_is 2
check "non-XML topology: named" err_has "$T/notxml.xml"

# hwloc's built-in XML parser (no libhwloc-plugins; HWLOC_LIBXML_IMPORT=0
# forces it) refuses comments: the message names the package to install.
printf '<?xml version="1.0"?>\n<topology version="2.0">\n<!-- hand-edited -->\n</topology>\n' >"$T/comment.xml"
run env HWLOC_LIBXML_IMPORT=0 "$MMCERT" topology --topology "$T/comment.xml"
check "XML comments without libxml2: exit 2" status_is 2
check "XML comments without libxml2: names libhwloc-plugins" err_has "comments.*libhwloc-plugins"

run "$MMCERT" run --impl "$IMPL" --set Mem.NoSuchThing=1
check "--set unknown setting: exit 2" status_is 2
check "--set unknown setting: named" err_has "unknown setting 'Mem.NoSuchThing'"
check "--set unknown setting: no TAP" out_empty

run "$MMCERT" run --impl "$IMPL" --set Numa.RebalancePeriod=50
check "--set out of range: exit 2" status_is 2
check "--set out of range: names setting and range" err_has "Numa.RebalancePeriod.*50.*100\.\.60000"

run "$MMCERT" run --impl "$IMPL" --set Numa.RebalancePeriod=fast
check "--set non-integer: exit 2" status_is 2
check "--set non-integer: says NAME=VALUE" err_has "NAME=VALUE"
# The value is digits and an optional sign only (strtoll took ' 100'), the
# name a setting's characters (a newline in it reached the terminal).
run "$MMCERT" run --impl "$IMPL" --set 'Numa.RebalancePeriod= 100'
check "--set value with a blank: exit 2, says what a VALUE is" sh -c "[ $rc -eq 2 ] && grep -q 'VALUE must be an integer' '$T/err' && [ ! -s '$T/out' ]"
run "$MMCERT" run --impl "$IMPL" --set "$(printf 'Numa.Rebalance\nPeriod=100')"
check "--set name with a newline: exit 2, the text not echoed" sh -c "[ $rc -eq 2 ] && grep -q 'holds a control character' '$T/err' && [ \$(wc -l <'$T/err') -le 2 ]"

run "$MMCERT" run --impl "$IMPL" --seed -3
check "negative seed: exit 2" status_is 2
run "$MMCERT" run --impl "$IMPL" --mode slow
check "--mode slow: exit 2 naming quick or full" err_has "expected quick or full"
run "$MMCERT" run --impl "$IMPL" --profile esx-5
check "--profile unknown: exit 2" status_is 2
run "$MMCERT" run --impl "$IMPL" --timeout-scale 0
check "--timeout-scale 0: exit 2" status_is 2
run "$MMCERT" run --impl "$IMPL" --host-memory lots
check "--host-memory lots: exit 2" status_is 2
check "--host-memory lots: named" err_has "lots"
run "$MMCERT" run --impl "$IMPL" --json "$T/no/dir/r.json"
check "--json in a missing directory: exit 2" status_is 2
check "no results directory was made by refused runs" [ ! -e "$T/results" ]
done_testing
