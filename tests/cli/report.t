# report.t — `mmcert report SIDE -o DIR`: index.html with the
# check and metric tables, one PNG per series group (migration, sharing,
# wss, memstate) and per metric trend from the history; without gnuplot the
# page says plots were skipped and why; bad input exits 2 with no page.
# Hostile files: a case id or series unit holding a newline and a gnuplot
# shell command ("X\n!touch FILE\n#") is refused by the reader (exit 2, the
# field named) before anything runs; quotes, backquotes, '@' and '$' that a
# file may hold never reach a gnuplot script as such.
. "$(dirname "$0")/lib.sh"
F=$(cd "$(dirname "$0")/../fixtures/results" && pwd)
cd "$T" || exit 1

is_png() { [ "$(head -c 8 "$1" | od -An -c | tr -d ' \n')" = '211PNG\r\n032\n' ]; }

"$MMCERT" results import --db "$T/h.db" "$F/old.json" "$F/same.json" "$F/slow.json" >/dev/null 2>&1
run "$MMCERT" report "$F/slow.json" -o "$T/rep" --db "$T/h.db"
check "report: exit 0" status_is 0
check "report: index.html written" test -s "$T/rep/index.html"
check "report: check table with SPEC ids" grep -q '<td>migration stays under the pacing cap</td><td>MIG-1 MIG-4</td>' "$T/rep/index.html"
check "report: metric table with median and IQR" grep -q '<td>migration_throughput</td><td>MB/s</td><td>higher</td><td>8</td>' "$T/rep/index.html"
check "report: facts name the machine class and topology hash" sh -c "grep -q '2c-24g-1n-amd-epyc' '$T/rep/index.html' && grep -q 'xxh64:00000000feedf00d' '$T/rep/index.html'"
if [ -x /usr/bin/gnuplot ] || command -v gnuplot >/dev/null 2>&1; then
	check "report: 4 series plots (migration, sharing, wss, memstate)" sh -c "[ \$(ls '$T'/rep/series-*.png | wc -l) -eq 4 ]"
	check "report: series plots are PNG files" sh -c "for p in '$T'/rep/series-*.png; do head -c 8 \"\$p\" | od -An -c | tr -d ' \n' | grep -q 'PNG'; done"
	check "report: sharing savings drawn against the expected fraction" grep -q "sharing/expected_fraction" "$T/rep/series-1.gp"
	check "report: wss estimate drawn against the truth" sh -c "grep -q 'wss/estimate' '$T/rep/series-2.gp' && grep -q 'wss/true' '$T/rep/series-2.gp'"
	check "report: trend per metric over 2 versions" sh -c "[ \$(ls '$T'/rep/trend-*.png | wc -l) -eq 3 ] && grep -q '0.1.1' '$T/rep/trend-0.dat'"
	check "report: the first trend is a PNG" is_png "$T/rep/trend-0.png"
	check "report: the page shows every plot" sh -c "[ \$(grep -c '<img src=' '$T/rep/index.html') -eq 7 ]"
else
	for d in 1 2 3 4 5 6 7; do
		n=$((n + 1))
		echo "ok $n # SKIP gnuplot not installed (package gnuplot-nox)"
	done
fi

MMCERT_GNUPLOT=/nonexistent/gnuplot run "$MMCERT" report "$F/old.json" -o "$T/noplot" --db "$T/h.db"
check "no gnuplot: exit 0" status_is 0
check "no gnuplot: the page says plots were skipped and why" grep -q 'plots skipped: gnuplot /nonexistent/gnuplot is not executable' "$T/noplot/index.html"
check "no gnuplot: no PNG" sh -c "! ls '$T'/noplot/*.png >/dev/null 2>&1"
check "no gnuplot: said on stderr too" err_has "plots skipped"

run "$MMCERT" report "$F/old.json" -o "$T/nohist" --db "$T/absent.db"
check "--db missing: exit 2" sh -c "[ $rc -eq 2 ] && grep -q 'no such database' '$T/err' && [ ! -e '$T/nohist/index.html' ]"
mkdir "$T/empty" && cd "$T/empty" || exit 1
run "$MMCERT" report "$F/old.json" -o "$T/nodb"
check "no history at the default path: report without trends" sh -c "[ $rc -eq 0 ] && grep -q 'trends across versions skipped' '$T/nodb/index.html'"
cd "$T" || exit 1

# ---- hostile files
python3 - "$F/old.json" "$T" <<'PY'
import json, sys
t = sys.argv[2]
d = json.load(open(sys.argv[1]))
d["run_id"] = "inject-id"
d["cases"][0]["id"] = "X\n!touch %s/PWNED-id\n#" % t
json.dump(d, open(t + "/inject-id.json", "w"))
d = json.load(open(sys.argv[1]))
d["run_id"] = "inject-unit"
d["cases"][0]["series"][0]["unit"] = "u\n!touch %s/PWNED-unit\n#" % t
json.dump(d, open(t + "/inject-unit.json", "w"))
# Printable but gnuplot-special: quotes, backquotes, macros, data blocks.
d = json.load(open(sys.argv[1]))
q = "'; system('touch %s/PWNED-q'); ` touch %s/PWNED-bq` @x $y\"" % (t, t)
d["run_id"] = "quoted"
d["cases"][0]["id"] = "Q" + q
d["cases"][0]["series"][0]["unit"] = q
d["cases"][0]["metrics"][0]["name"] = q
d["implementation"]["version"] = "9" + q
json.dump(d, open(t + "/quoted.json", "w"))
PY
run "$MMCERT" report "$T/inject-id.json" -o "$T/inj1" --db "$T/h.db"
check "newline + gnuplot command in a case id: exit 2" status_is 2
check "newline in a case id: the field and the character named" err_has "inject-id.json: not a valid mmcert results file: cases\[0\].id: control character U+000A at byte 1"
check "newline in a case id: nothing ran, no page" sh -c "[ ! -e '$T/PWNED-id' ] && [ ! -e '$T/inj1/index.html' ]"
run "$MMCERT" report "$T/inject-unit.json" -o "$T/inj2" --db "$T/h.db"
check "newline + gnuplot command in a series unit: exit 2, nothing ran" sh -c "[ $rc -eq 2 ] && grep -q 'cases\[0\].series\[0\].unit: control character' '$T/err' && [ ! -e '$T/PWNED-unit' ]"
run "$MMCERT" results import --db "$T/h.db" "$T/inject-unit.json"
check "the hostile file is not imported either" sh -c "[ $rc -eq 2 ] && grep -q 'nothing imported' '$T/err'"
"$MMCERT" results import --db "$T/h.db" "$T/quoted.json" >/dev/null 2>&1
run "$MMCERT" report "$T/quoted.json" -o "$T/quoted" --db "$T/h.db"
check "quotes, backquotes, @ and \$ in ids, units, names and versions: report written" status_is 0
check "... and no command ran" sh -c "! ls '$T'/PWNED-* >/dev/null 2>&1"
check "... and none of them reached a script" sh -c "! grep -l \"[\\\`@\$]\\|system('\" '$T'/quoted/*.gp '$T'/quoted/*.dat"

run "$MMCERT" report "$F/truncated.json" -o "$T/bad"
check "truncated results: exit 2, no page" sh -c "[ $rc -eq 2 ] && grep -q 'truncated JSON' '$T/err' && [ ! -e '$T/bad/index.html' ]"
: >"$T/afile"
run "$MMCERT" report "$F/old.json" -o "$T/afile"
check "-o names a file: exit 2" sh -c "[ $rc -eq 2 ] && grep -q 'a file of that name exists' '$T/err'"
run "$MMCERT" report "$F/old.json"
check "no -o: exit 2" status_is 2
run "$MMCERT" report --db "$T/h.db" db:version=0.1.0 -o "$T/sel"
check "report of a history selection" sh -c "[ $rc -eq 0 ] && grep -q 'runs pooled</td><td>2' '$T/sel/index.html'"
# A metric no run could measure (perf counters without a PMU): its reason
# in the table, not statistics of nothing ("nan").
python3 - "$F/old.json" "$T/unsup.json" <<'EOPY'
import json, sys
d = json.load(open(sys.argv[1]))
d["cases"][0]["metrics"].append({"name": "perf.cycles", "unit": "count", "better": "", "samples": [],
                                 "value": None, "unsupported": "no PMU: perf_event_open refused"})
json.dump(d, open(sys.argv[2], "w"))
EOPY
MMCERT_GNUPLOT=/nonexistent/gnuplot run "$MMCERT" report "$T/unsup.json" -o "$T/unsup" --db "$T/h.db"
check "unsupported metric: its reason in the table, no nan" sh -c "[ $rc -eq 0 ] && grep -q '<td>perf.cycles</td><td>count</td><td></td><td>0</td><td>unsupported: no PMU: perf_event_open refused</td><td>-</td><td>-</td>' '$T/unsup/index.html' && ! grep -qw nan '$T/unsup/index.html'"
done_testing
