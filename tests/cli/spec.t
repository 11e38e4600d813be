# spec.t — the specification inside mmcert (doc/spec.md, compiled in by
# suite/spec_gen.awk): `mmcert explain` against golden output, globs and bad
# ids, `mmcert list --spec`, the generator's refusals, and every check
# doc/spec.md quotes still printed by some case.
#
# MMCERT_REGENERATE=1 (or MMCERT_REGEN_GOLDEN=1) rewrites
# tests/golden/explain-NUMA-11.txt from this build; review the diff.
. "$(dirname "$0")/lib.sh"
SRC=$(cd "$(dirname "$0")/../.." && pwd)
DOC=$SRC/doc/spec.md
GOLDEN=$SRC/tests/golden/explain-NUMA-11.txt
AWK=${AWK:-awk}

# same_as FILE: stdout equals FILE; on a difference, the diff as diagnostics.
same_as() {
	cmp -s "$T/out" "$1" && return 0
	diff -u "$1" "$T/out" | head -n 40 | sed 's/^/# /'
	return 1
}

run "$MMCERT" explain NUMA-11
if [ -n "${MMCERT_REGENERATE:-}${MMCERT_REGEN_GOLDEN:-}" ]; then
	cp "$T/out" "$GOLDEN"
	echo "# rewrote $GOLDEN"
fi
check "explain NUMA-11: exit 0" status_is 0
check "explain NUMA-11 is tests/golden/explain-NUMA-11.txt (MMCERT_REGENERATE=1 rewrites it)" \
	same_as "$GOLDEN"

run "$MMCERT" explain 'TPS-*'
check "explain 'TPS-*': exit 0" status_is 0
check "explain 'TPS-*': the eight TPS ids" [ "$(grep -c '^TPS-[1-8] · ' "$T/out")" -eq 8 ]
run "$MMCERT" explain tps-3 SEC-2
check "explain tps-3 SEC-2: case-insensitive, both ids, in spec order" \
	[ "$(grep '^[A-Z]*-[0-9]* · ' "$T/out" | cut -d' ' -f1 | tr '\n' ' ')" = "TPS-3 SEC-2 " ]
check "explain TPS-3: names its case with the case table's title" \
	out_has '^  TPS-3  scan pacing by ShareScanTime'

run "$MMCERT" explain TPS-4
check "explain TPS-4: its variants, with clock forms and params" \
	out_has "^    TPS-4/builtin-4  *stepped  *4 equal nodes (param 'builtin:4')$"
check "explain TPS-4: the live form's variant" out_has "^    TPS-4/run-topology  *live  *the run's topology"

run "$MMCERT" explain FOO-1
check "explain FOO-1: exit 2" status_is 2
check "explain FOO-1: the message names the id and how to list them" \
	err_has "no SPEC id matches 'FOO-1'.*'mmcert list --spec'"
check "explain FOO-1: nothing on stdout" out_empty
run "$MMCERT" explain TPS-3 'NOPE-*'
check "explain TPS-3 'NOPE-*': exit 2, nothing printed for TPS-3" sh -c '[ '"$rc"' -eq 2 ] && [ ! -s "$1" ]' - "$T/out"
run "$MMCERT" explain NUMA-8b
check "explain NUMA-8b (a case id): exit 2, says which SPEC id it checks" \
	sh -c '[ '"$rc"' -eq 2 ] && grep -q "is a case; it checks NUMA-8" "$1"' - "$T/err"
run "$MMCERT" explain
check "explain without an id: exit 2 with an example" sh -c '[ '"$rc"' -eq 2 ] && grep -q "mmcert explain TPS-3" "$1"' - "$T/err"
run "$MMCERT" explain --bogus
check "explain --bogus: exit 2" status_is 2
run "$MMCERT" explain --help
check "explain --help: exit 0, usage on stdout" sh -c '[ '"$rc"' -eq 0 ] && grep -q "^Usage: mmcert explain" "$1"' - "$T/out"
run "$MMCERT" help
check "mmcert help documents explain and list --spec" sh -c 'grep -q "^  explain " "$1" && grep -q "list --spec" "$1"' - "$T/out"

run "$MMCERT" list --spec
check "list --spec: exit 0" status_is 0
grep '^### ' "$DOC" | cut -d' ' -f2 >"$T/doc-ids"
tail -n +2 "$T/out" | cut -d' ' -f1 >"$T/list-ids"
check "list --spec: every id of doc/spec.md, in its order, one a line" cmp -s "$T/doc-ids" "$T/list-ids"
check "list --spec: 50 ids (SPEC's SET..SEC)" [ "$(wc -l <"$T/list-ids")" -eq 50 ]
check "list --spec: INT-1 with the four cases that name it" \
	out_has '^INT-1  *INT-1,SWAP-2,SWAP-ENOSPC,INT-1-full '

# The generator: doc/spec.md compiles; each kind of mistake stops the build
# with doc/spec.md:LINE.
gen() { # FILE: run the generator on FILE
	run "$AWK" -f "$SRC/suite/spec_gen.awk" "$1"
}
gen "$DOC"
check "generator: doc/spec.md compiles (exit 0, a C table)" sh -c '[ '"$rc"' -eq 0 ] && grep -q "const suite_spec_t suite_spec\[\]" "$1"' - "$T/out"
sed 's/^- \*\*Settings\.\*\* `Numa\.RebalancePeriod` (2000 ms); `Numa\.MigImbalanceThreshold`/- **Settings.** `Numa.RebalancePeriod` (3000 ms); `Numa.MigImbalanceThreshold`/' "$DOC" >"$T/bad.md"
gen "$T/bad.md"
check "generator: a default unlike the settings table is refused, naming both" \
	sh -c '[ '"$rc"' -ne 0 ] && grep -q "bad.md:[0-9]*: NUMA-4: .*Numa.RebalancePeriod as .3000 ms.*default is .2000 ms" "$1"' - "$T/err"
sed 's/`Mem\.MemZipMaxPct` (10 %/`Mem.MemZipMaxPc` (10 %/' "$DOC" >"$T/bad.md"
gen "$T/bad.md"
check "generator: an unknown setting name is refused" \
	sh -c '[ '"$rc"' -ne 0 ] && grep -q "ZIP-1: Settings names Mem.MemZipMaxPc, which neither settings table defines" "$1"' - "$T/err"
sed 's/^### SEC-2 /### SEC-1 /' "$DOC" >"$T/bad.md"
gen "$T/bad.md"
check "generator: a duplicate id is refused" sh -c '[ '"$rc"' -ne 0 ] && grep -q "SEC-1 appears twice" "$1"' - "$T/err"
awk '/^### ZIP-1 /{z=1} z && /^- \*\*Checks/{z=0; skip=1; next} skip && /^  - /{next} {skip=0; print}' "$DOC" >"$T/bad.md"
gen "$T/bad.md"
check "generator: an entry without Checks is refused" sh -c '[ '"$rc"' -ne 0 ] && grep -q "ZIP-1: the entry has no Checks field" "$1"' - "$T/err"

# Quoted checks are checks the cases print.
run perl "$SRC/tests/spec-checks.pl" "$DOC" "$SRC"/suite/cases/*.c
check "every check doc/spec.md quotes is printed by a case" status_is 0
if [ "$rc" -ne 0 ]; then sed 's/^/# /' "$T/out"; fi
sed 's/`every page of the moved VM on node <node> (probe \/proc\/self\/maps)`/`every page of the moved VM teleported to node <node>`/' "$DOC" >"$T/bad.md"
run perl "$SRC/tests/spec-checks.pl" "$T/bad.md" "$SRC"/suite/cases/*.c
check "a quoted check no case prints is found, with its line" \
	sh -c '[ '"$rc"' -eq 1 ] && grep -q "bad.md:[0-9]*: MIG-1: .every page of the moved VM teleported" "$1"' - "$T/out"
done_testing
