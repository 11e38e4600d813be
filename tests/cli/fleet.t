# fleet.t — `mmcert report --fleet` finds the odd machine of a class
# From one real `mmcert qualify --quick` report and one real
# `mmcert bench move` results file of this machine, simulated machines are
# made by changing the hostname and scaling every figure a little
# (deterministically, within 2 %):
#   class A (this machine's shape, one node): a1, a2 as measured; a3
#     doctored like a bad DIMM: latency x1.6, bandwidth x0.6, the engine's
#     move_range rate x0.7;
#   class B (two nodes, firmware distances 10/21): b1, b2 with a remote
#     latency 1.5x local and migration between the nodes (the same
#     move_pages figures on both: the 1 % floor of the rule at work); b3
#     with a slow link: remote latency x2.2 and move_pages x0.4.
#   class C (one node): hostile strings wherever the files allow them
#     (quotes, backquotes, '$', '@', '<' in hostnames, metric names and
#     units; newlines in a qualify report's hostname and start time); c3
#     doctored like a3.
# Each class's report flags its doctored machine and no other, never shows
# the other class's machines, states k, and draws its plots; file= narrows
# qualifications and runs; no hostile string forges a summary line, runs a
# command or reaches a gnuplot script unsanitised; the same on the
# PostgreSQL history when make check started a server. Bad usage: no class,
# an empty class, an unknown key, a file instead of a selection, a class
# nobody has, a file= nothing came from, no -o, a bad --mad-k.
. "$(dirname "$0")/lib.sh"
cd "$T" || exit 1
REF=$MMCERT_BUILD/libmmref.so

"$MMCERT" qualify --quick -o "$T/q" >"$T/q.out" 2>&1
"$MMCERT" bench move --impl "$REF" --repeat 3 --json "$T/move.json" >"$T/move.out" 2>&1
check "a real qualification report and a real bench file to start from" \
	sh -c "[ -s '$T/q/qualify.json' ] && [ -s '$T/move.json' ]"

python3 - "$T/q/qualify.json" "$T/move.json" "$T" <<'EOF' || exit 1
import copy, json, os, sys
qsrc, rsrc, out = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), sys.argv[3]
n = 0

def scaled(m, f):
    return [[None if x is None else x * f for x in row] for row in m]

def machine(host, cls, q, r, jitter, lat=1.0, bw=1.0, eng=1.0):
    tag = host[:2]  # the files' names: a hostile hostname is no file name
    global n
    n += 1
    q = copy.deepcopy(q)
    r = copy.deepcopy(r)
    for d in (q, r):
        d["run_id"] = "%032x" % (0xf1ee7000 + n)
        d["machine"]["hostname"] = host
        d["machine"]["class"] = cls
    q["latency"]["ns_per_load"] = scaled(q["latency"]["ns_per_load"], jitter * lat)
    for k in ("copy_gb_per_s", "triad_gb_per_s"):
        q["bandwidth"][k] = scaled(q["bandwidth"][k], jitter * bw)
    for c in r["cases"]:
        for m in c["metrics"]:
            f = jitter * (eng if m["name"].startswith("move_range") else 1.0)
            m["samples"] = [x * f for x in m["samples"]]
            m["value"] = sorted(m["samples"])[len(m["samples"]) // 2]
    json.dump(q, open("%s/q-%s.json" % (out, tag), "w"))
    json.dump(r, open("%s/r-%s.json" % (out, tag), "w"))
    return q

A = "1c-1g-1n-fleet-test-a"
machine("a1", A, qsrc, rsrc, 1.00)
machine("a2", A, qsrc, rsrc, 1.02)
machine("a3", A, qsrc, rsrc, 0.99, lat=1.6, bw=0.6, eng=0.7)

# Class B: two nodes, built on the same report's figures.
two = copy.deepcopy(qsrc)
local = qsrc["latency"]["ns_per_load"][0][0]
cp, tr = qsrc["bandwidth"]["copy_gb_per_s"][0][0], qsrc["bandwidth"]["triad_gb_per_s"][0][0]
two["topology"]["nnodes"] = 2
two["topology"]["firmware_distances"] = [[10, 21], [21, 10]]
two["topology"]["distances_from_firmware"] = True
two["latency"]["ns_per_load"] = [[local, 1.5 * local], [1.5 * local, local]]
two["bandwidth"]["copy_gb_per_s"] = [[cp, 0.6 * cp], [0.6 * cp, cp]]
two["bandwidth"]["triad_gb_per_s"] = [[tr, 0.6 * tr], [0.6 * tr, tr]]
two["migration"]["pairs"] = [{"from": 0, "to": 1, "measured": True, "gb_per_s": 2.0},
                             {"from": 1, "to": 0, "measured": True, "gb_per_s": 2.1}]
B = "2c-2g-2n-fleet-test-b"
machine("b1", B, two, rsrc, 1.01)
machine("b2", B, two, rsrc, 0.985)
slow = copy.deepcopy(two)
slow["latency"]["ns_per_load"][0][1] *= 2.2
slow["latency"]["ns_per_load"][1][0] *= 2.2
for p in slow["migration"]["pairs"]:
    p["gb_per_s"] *= 0.4
machine("b3", B, slow, rsrc, 1.0)

# Class C: hostile strings where a results file allows them (quotes,
# backquotes, '$', '@', '<' in hostnames, metric names and units) and where
# only a qualify report does (newlines in a hostname and a start time: c4,
# a qualification only, figures as c1's); c3 doctored like a3.
def hostile_run(r):
    r = copy.deepcopy(r)
    for c in r["cases"]:
        for m in c["metrics"]:
            m["name"] += " 'q' \"dq\" `touch PWNED-name` $(touch PWNED-dollar) @pwn"
            m["unit"] += "'`"
    return r
C = "3c-3g-1n-fleet-test-c"
hr = hostile_run(rsrc)
machine("c1'\"`touch PWNED-c1`<script>x</script>", C, qsrc, hr, 1.0)
machine("c2 $(touch PWNED-c2) @pwn $x", C, qsrc, hr, 1.015)
machine("c3';system(\"touch PWNED-c3\");'", C, qsrc, hr, 0.99, lat=1.6, bw=0.6, eng=0.7)
q4 = machine("c4", C, qsrc, hr, 1.0)
q4["machine"]["hostname"] = "c4'\n!touch PWNED-c4\nset output 'pwn.png'\n  c1 forged: ok"
q4["start_time"] = "2026-01-01\n  c2 forged: ok"
json.dump(q4, open("%s/q-c4.json" % out, "w"))
os.remove("%s/r-c4.json" % out)
EOF

fleet_tests() { # BACKEND WHERE
	B=$1 DB=$2
	run "$MMCERT" results import --db "$DB" "$T"/q-*.json "$T"/r-*.json
	check "$B: ten machines' qualifications and runs imported" out_has "^19 imported"
	run "$MMCERT" report --fleet --db "$DB" db:machine=1c-1g-1n-fleet-test-a -o "$T/fa-$B"
	check "$B: class A: report written" sh -c "[ $rc -eq 0 ] && [ -s '$T/fa-$B/index.html' ]"
	check "$B: class A: the rule and k are stated" out_has "|x - median| > 3.5 x max(1.4826 MAD, 1 % of |median|)"
	check "$B: class A: the doctored machine flagged" out_has "^  a3 .*FLAGGED"
	check "$B: class A: its latency, worse" out_has "^    latency 0->0 \[ns\]: .*(worse)$"
	check "$B: class A: its bandwidth, worse" out_has "^    copy bandwidth 0->0 \[GB/s\]: .*(worse)$"
	check "$B: class A: its engine rate, worse" out_has "^    bench.move/move_range per CPU-second \[pages/s\]: .*(worse)$"
	check "$B: class A: the others not flagged" sh -c "grep -q '^  a1 .*: ok$' '$T/out' && grep -q '^  a2 .*: ok$' '$T/out'"
	check "$B: class A: no machine of class B in it" sh -c "! grep -q '^  b[123] ' '$T/out' && ! grep -q '>b[123]<' '$T/fa-$B/index.html'"
	check "$B: class A: the page states k" grep -q "k = 3.5" "$T/fa-$B/index.html"
	run "$MMCERT" report --fleet --db "$DB" db:machine=2c-2g-2n-fleet-test-b -o "$T/fb-$B"
	check "$B: class B: the slow link flagged" out_has "^  b3 .*FLAGGED"
	check "$B: class B: remote latency and move_pages between the nodes" sh -c "grep -q '^    latency 0->1 \[ns\]: .*(worse)$' '$T/out' && grep -q '^    move_pages(2) 0->1 \[GB/s\]: .*(worse)$' '$T/out'"
	check "$B: class B: local latency not flagged" sh -c "! grep -q '^    latency 0->0' '$T/out'"
	check "$B: class B: b1 and b2 not flagged" sh -c "grep -q '^  b1 .*: ok$' '$T/out' && grep -q '^  b2 .*: ok$' '$T/out'"
	check "$B: class B: rank agreement computed for every machine" grep -q "distance-rank agreement (Spearman rho).*<td>3</td>" "$T/fb-$B/index.html"
	run "$MMCERT" report --fleet --db "$DB" --mad-k 100 db:machine=2c-2g-2n-fleet-test-b -o "$T/fk-$B"
	check "$B: --mad-k 100: nothing flagged, k stated" sh -c "[ $rc -eq 0 ] && ! grep -q FLAGGED '$T/out' && grep -q '> 100 x' '$T/out'"
	# file= narrows qualifications and runs alike (the imported file's name).
	run "$MMCERT" report --fleet --db "$DB" "db:machine=1c-1g-1n-fleet-test-a,file=$T/q-" -o "$T/fq-$B"
	check "$B: file= of the qualification reports: a3 flagged, no run read" qual_only
	run "$MMCERT" report --fleet --db "$DB" "db:machine=1c-1g-1n-fleet-test-a,file=$T/r-" -o "$T/fr-$B"
	check "$B: file= of the runs: a3 flagged on the engine, no qualification read" runs_only
	run "$MMCERT" report --fleet --db "$DB" db:machine=3c-3g-1n-fleet-test-c -o "$T/fc-$B"
	D=$T/fc-$B
	check "$B: hostile strings: report written" sh -c "[ $rc -eq 0 ] && [ -s '$D/index.html' ]"
	check "$B: hostile strings: exactly the doctored machine flagged" only_c3
	check "$B: hostile strings: one summary line per machine, none forged" four_lines
	check "$B: hostile strings: no command ran" no_pwned
	check "$B: hostile strings: no quote, backquote, \$, @ or new command in a gnuplot script" clean_scripts
	check "$B: hostile strings: one record a line in the data files" clean_data
	check "$B: hostile strings: escaped in the page" sh -c "! grep -q '<script>' '$D/index.html' && grep -q '&lt;script&gt;' '$D/index.html'"
}

qual_only() {
	[ "$rc" -eq 0 ] && grep -q '^  a3 .* 0 runs: FLAGGED' "$T/out" &&
		grep -q '^  a1 .* 0 runs: ok$' "$T/out" && ! grep -q 'bench\.move/' "$T/out"
}
runs_only() {
	[ "$rc" -eq 0 ] && grep -q '^  a3  *no qualification, 1 run: FLAGGED' "$T/out" &&
		grep -q '^    bench\.move/move_range per CPU-second' "$T/out" && ! grep -q '^    latency' "$T/out"
}
only_c3() { [ "$(grep -c FLAGGED "$T/out")" -eq 1 ] && grep -q '^  c3.*FLAGGED' "$T/out"; }
four_lines() {
	[ "$(grep -c '^  [^ ]' "$T/out")" -eq 4 ] && ! grep -q '^  c[12] forged' "$T/out" &&
		! grep -q '^!' "$T/out" && ! grep -q '^set ' "$T/out"
}
no_pwned() { [ -z "$(find "$T" "$PWD" -maxdepth 3 \( -name 'PWNED*' -o -name pwn.png \) 2>/dev/null)" ]; }
clean_scripts() { # every hostile string is in a title or label: quoted, with nothing to escape
	ls "$D"/*.gp >/dev/null 2>&1 || return 0 # no gnuplot, no scripts (the plots check says so)
	! grep -n -e '[`$@"]' -e '^!' -e 'pwn\.png' "$D"/*.gp
}
clean_data() {
	! grep -q -e '^!' -e '^set ' -e '^  c[12] forged' -e '[`$@]' "$D"/*.dat 2>/dev/null
}

fleet_tests sqlite "$T/h.db"
if [ -n "${MMCERT_GNUPLOT:-}" ] || command -v gnuplot >/dev/null 2>&1; then
	check "plots: the z-scores of both kinds and the flagged figures" sh -c "[ -s '$T/fa-sqlite/fleet-z-qualify.png' ] && [ -s '$T/fa-sqlite/fleet-z-suite.png' ] && [ -s '$T/fa-sqlite/fleet-figure-0.png' ] && grep -q 'fleet-figure-0.png' '$T/fa-sqlite/index.html'"
else
	n=$((n + 1))
	echo "ok $n # SKIP gnuplot not installed: no plots to check"
fi

if [ -n "${MMCERT_TEST_PG:-}" ]; then
	"$MMCERT_TEST_PG_BIN/psql" -X -q "$MMCERT_TEST_PG" -c "DROP DATABASE IF EXISTS fleet_$$ WITH (FORCE)" -c "CREATE DATABASE fleet_$$" >/dev/null 2>&1
	fleet_tests pg "${MMCERT_TEST_PG%/*}/fleet_$$"
	"$MMCERT_TEST_PG_BIN/psql" -X -q "$MMCERT_TEST_PG" -c "DROP DATABASE IF EXISTS fleet_$$ WITH (FORCE)" >/dev/null 2>&1
else
	n=$((n + 1))
	echo "ok $n # SKIP fleet report on PostgreSQL: ${MMCERT_TEST_PG_SKIP:-${MMCERT_TEST_PG_BROKEN:-MMCERT_TEST_PG not set}}"
fi

run "$MMCERT" report --fleet --db "$T/h.db" db:impl=reference -o "$T/x"
check "--fleet without a machine class: exit 2, says so" sh -c "[ $rc -eq 2 ] && grep -q 'name the machine class' '$T/err'"
run "$MMCERT" report --fleet --db "$T/h.db" "$T/move.json" -o "$T/x"
check "--fleet with a file: exit 2" sh -c "[ $rc -eq 2 ] && grep -q 'expected a history selection' '$T/err'"
run "$MMCERT" report --fleet --db "$T/h.db" db:machine=9c-9g-9n-nobody -o "$T/x"
check "--fleet of a class nobody has: exit 2" sh -c "[ $rc -eq 2 ] && grep -q 'no machine of class 9c-9g-9n-nobody' '$T/err'"
run "$MMCERT" report --fleet --mad-k -1 --db "$T/h.db" db:machine=x -o "$T/x"
check "--mad-k -1: exit 2" sh -c "[ $rc -eq 2 ] && grep -q 'mad-k' '$T/err'"
done_testing
