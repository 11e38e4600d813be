# variants.t — cases declare their variants in the case table (case.h,
# "Variants"): `mmcert list` shows them with the clock forms, `list
# --variants` one row per variant; `--case CASE/VARIANT` runs one variant,
# `--case CASE` all; each variant is a test point of its own in the TAP
# stream and the results file, and a failure names its variant. The twin
# numa2-memory-not-committed (reference-impl/twin.h) fails NUMA-2 where VMs
# whose CPU and memory pull apart run (equal nodes) and passes it on the
# unequal machine (homes differ in cores: that workload does not run
# there), so its certificate must name NUMA-2/builtin-4 and not
# NUMA-2/unequal-nodes.
. "$(dirname "$0")/lib.sh"
REF=$MMCERT_BUILD/libmmref.so
TWIN=$MMCERT_BUILD/tests/twins/numa2-memory-not-committed.so
cd "$T" || exit 1

run "$MMCERT" list
check "list: a CLOCKS and a VARIANTS column" out_has "^CASE  *SPEC IDS  *NEEDS  *CLOCKS  *VARIANTS  *TITLE"
check "list: NUMA-2's clock forms and variants" \
	out_has "^NUMA-2  *NUMA-2  *PLACEMENT  *stepped,live builtin-2,builtin-4,builtin-8,unequal-nodes,run-topology "
check "list: a case without variants says -" out_has "^SET-1  *SET-1  *-  *stepped,live -  *every documented"
check "list: a stepped-only case" out_has "^ALLOC-2  .* stepped  *-  "
run "$MMCERT" list --variants
check "list --variants: exit 0" status_is 0
check "list --variants: one row per variant" \
	out_has "^NUMA-2/unequal-nodes  *NUMA-2  *stepped,live 1/2/4 GiB nodes"
check "list --variants: NUMA-3's too" out_has "^NUMA-3/seeded-8  *NUMA-3 NUMA-1  *stepped,live 8 nodes"
check "list --variants: a case without variants once" out_has "^SET-1  *SET-1  *stepped,live every"
check "list --variants: 5 rows of NUMA-2" sh -c '[ "$(grep -c "^NUMA-2/" "$1")" -eq 5 ]' - "$T/out"
run "$MMCERT" list --bogus
check "list --bogus: exit 2, the arguments named" sh -c '[ '$rc' -eq 2 ] && grep -q -- "--spec or --variants" "$1"' - "$T/err"

# One variant: one test point; NUMA-2 is then not shown (its other variants
# were not selected), never shown on a part of its machines.
run "$MMCERT" run --impl "$REF" --case NUMA-2/builtin-4 --topology builtin:2 --seed 3 --no-perf \
	--json "$T/one.json"
check "--case NUMA-2/builtin-4: INCOMPLETE, exit 4" status_is 4
check "--case NUMA-2/builtin-4: one test point" out_has "^1\.\.1$"
check "--case NUMA-2/builtin-4: it passed, named" out_has "^ok 1 - NUMA-2/builtin-4 .*(4 equal nodes)"
check "--case NUMA-2/builtin-4: its subtest named" out_has "^    # Subtest: NUMA-2/builtin-4$"
check "--case NUMA-2/builtin-4: NUMA-2 not shown, the others not selected" \
	out_has "^# not shown  *NUMA-2  *\[not selected\] case NUMA-2/builtin-2 not selected; case NUMA-2/builtin-8 not selected"
check "--case NUMA-2/builtin-4: the JSON names case and variant" \
	sh -c 'grep -q "\"id\": \"NUMA-2/builtin-4\"" "$1" && grep -q "\"case\": \"NUMA-2\"" "$1" && grep -q "\"variant\": \"builtin-4\"" "$1"' - "$T/one.json"
run "$MMCERT" results show "$T/one.json"
check "results show reads a file with variants" status_is 0
run "$MMCERT" run --impl "$REF" --case 'NUMA-2/nope' --no-perf
check "--case NUMA-2/nope: exit 2" status_is 2
check "--case NUMA-2/nope: says how to list variants" err_has "'NUMA-2/nope' matches no case.*list --variants"
run "$MMCERT" run --impl "$REF" --case 'SET-1/x' --no-perf
check "--case SET-1/x (a case without variants): exit 2" status_is 2

# A failure names its variant; a variant that passed is not blamed.
run "$MMCERT" run --impl "$TWIN" --case NUMA-2/builtin-4 --case NUMA-2/unequal-nodes --topology builtin:2 \
	--seed 3 --no-perf --json "$T/twin.json"
check "twin: NOT CERTIFIED, exit 1" status_is 1
check "twin: NUMA-2/builtin-4 failed" out_has "^not ok 1 - NUMA-2/builtin-4 "
check "twin: NUMA-2/unequal-nodes passed" out_has "^ok 2 - NUMA-2/unequal-nodes "
check "twin: the certificate names the failing variant and its check" \
	out_has "^# FAILED  *NUMA-2  *case NUMA-2/builtin-4: check 'builtin:4, CPU and memory apart: memory load"
check "twin: ... and not the variant that passed" sh -c '! grep -q "FAILED.*NUMA-2/unequal-nodes" "$1"' - "$T/out"
check "twin: the summary lists each variant" err_has "^  NUMA-2/builtin-4  *fail "
done_testing
