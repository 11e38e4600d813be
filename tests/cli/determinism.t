# determinism.t — stepped-clock cases are reproducible from the seed: every
# case the reference runs on the stepped clock (those whose CLOCKS in mmcert
# list say "stepped" or "stepped,live": both forms pick stepped where it is
# offered), each variant of its stepped form (variants of the live form
# only, like the sharing cases' run-topology, are not run there: case.h,
# "Variants and clock forms"), run twice with one seed
# on an emulated 2-node host, gives the same verdicts, the same checks with
# the same diagnostics, and the same samples of every metric that is not a
# wall-clock measurement (units s, ms, us, ns or a rate per second).
# SEC-1 is left out: whether a fresh VM lands on frames an earlier one used
# is the kernel's page allocator's doing (the reference gives frames back
# to the kernel), not the seed's. Needs python3 to read the two results
# files; SKIP without it.
. "$(dirname "$0")/lib.sh"
cd "$T" || exit 1
REF=$MMCERT_BUILD/libmmref.so

if ! command -v python3 >/dev/null 2>&1; then
	echo "ok 1 # SKIP python3 not installed (configure --install-deps installs it)"
	echo "1..1"
	exit 0
fi
ids=$("$MMCERT" list | awk 'NF == 0 { exit } NR > 1 && / stepped(,live)? / && $1 != "SEC-1" { printf "--case %s ", $1 }')
check "mmcert list names stepped cases" test -n "$ids"
for i in 1 2; do
	# shellcheck disable=SC2086
	run "$MMCERT" run --impl "$REF" --topology builtin:2 --seed 7 --no-perf $ids --json "$T/r$i.json"
	check "run $i of the stepped cases passes" nothing_failed
done
run python3 - "$T/r1.json" "$T/r2.json" <<'PY'
import json, sys
def timed(unit):
    return unit in ("s", "ms", "us", "ns") or unit.endswith("/s")
def facts(path):
    doc = json.load(open(path))
    out = {"seed": doc["seed"]}
    for c in doc["cases"]:  # "id" names a variant: NUMA-2/builtin-4
        out[(c["id"], "verdict")] = c["verdict"]
        for k in c["checks"]:
            out[(c["id"], "check", k["name"])] = (k["verdict"], k["diag"])
        for m in c["metrics"]:
            if not timed(m["unit"]) and m["name"] != "wall_time":
                out[(c["id"], "metric", m["name"])] = m.get("samples")
    return out
a, b = facts(sys.argv[1]), facts(sys.argv[2])
diff = sorted(str(k) for k in set(a) | set(b) if a.get(k) != b.get(k))
print("compared", len(a), "facts;", len(diff), "differ")
for k in diff[:10]:
    print("differs:", k)
sys.exit(1 if diff else 0)
PY
check "same seed, same verdicts, checks and untimed metrics" status_is 0
check "... and something was compared" out_has "compared [1-9][0-9]* facts; 0 differ"
done_testing
exit 0
