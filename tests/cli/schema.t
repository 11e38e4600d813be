# schema.t — doc/results.schema.json (the documented schema) and mmcert's
# one reader (suite/results_schema.c, results_read.c) agree: a fresh run's
# results and the good fixtures pass both, the schema-1 fixture fails both,
# and so does each violation the reader once let through (a missing kernel,
# string totals, repeat -5, repetitions 0, a string duration_s, a bad class
# or hash); ~1600 mutants of a fresh run and a fixture get the same verdict
# from both (tests/cli/schema_mutate.py). Every command reads alike:
# `results import` refuses what `show` refuses, including a valid document
# followed by a NUL byte and junk, and text after the document is called
# that, not "truncated". The JSON Schema side needs python3 with the
# jsonschema module; SKIP without it.
. "$(dirname "$0")/lib.sh"
F=$(cd "$(dirname "$0")/../fixtures/results" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
SCHEMA=$(cd "$(dirname "$0")/../../doc" && pwd)/results.schema.json
cd "$T" || exit 1

"$MMCERT" run --impl "$MMCERT_BUILD/libmmref.so" --case 'SET-*' --repeat 2 --json "$T/run.json" >/dev/null 2>&1
"$MMCERT" bench access --impl "$MMCERT_BUILD/libmmref.so" --json "$T/bench.json" >/dev/null 2>&1
run "$MMCERT" results show "$T/run.json" "$T/bench.json" "$F/old.json" "$F/single-a.json"
check "mmcert's validator accepts a fresh run, a bench file and the fixtures" status_is 0
run "$MMCERT" results show "$F/schema1.json"
check "mmcert's validator refuses schema version 1" status_is 2

# ---- what the reader let through before, each refused by show and import
bad() { # NAME PYTHON-STATEMENT-ON-d: write $T/NAME.json from the fixture
	python3 - "$F/old.json" "$T/$1.json" "$2" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["run_id"] = sys.argv[2]
exec(sys.argv[3])
json.dump(d, open(sys.argv[2], "w"))
PY
}
bad nokernel 'del d["kernel"]'
bad strtotals 'd["totals"] = "lots"'
bad repeat-5 'd["repeat"] = -5'
bad reps0 'd["cases"][0]["repetitions"] = 0'
bad strdur 'd["duration_s"] = "60"'
bad badclass 'd["machine"]["class"] = "big-machine"'
bad badhash 'd["topology"]["hash"] = "md5:0"'
for f in nokernel:kernel strtotals:totals repeat-5:repeat reps0:repetitions strdur:duration_s \
	badclass:machine.class badhash:topology.hash; do
	name=${f%%:*} field=${f#*:}
	run "$MMCERT" results show "$T/$name.json"
	check "show refuses $name, naming $field" sh -c "[ $rc -eq 2 ] && grep -q 'not a valid mmcert results file: .*$field' '$T/err'"
	run "$MMCERT" results import --db "$T/h.db" "$T/$name.json"
	check "import refuses $name as show does" sh -c "[ $rc -eq 2 ] && grep -q 'not a valid mmcert results file: .*$field.*nothing imported' '$T/err'"
done
check "the history was never created with anything in it" sh -c "[ ! -s '$T/h.db' ] || [ \"\$('$MMCERT' results list --db '$T/h.db' | tail -n 1)\" = '0 runs' ]"

# A valid document, a NUL byte, junk: import used to stop at the NUL.
cp "$F/old.json" "$T/nul.json" && printf '\000garbage' >>"$T/nul.json"
run "$MMCERT" results import --db "$T/h.db" "$T/nul.json"
check "valid JSON + NUL + junk: import refuses it" sh -c "[ $rc -eq 2 ] && grep -q 'nul.json: text after the JSON document' '$T/err'"
run "$MMCERT" results show "$T/nul.json"
check "valid JSON + NUL + junk: show says the same" sh -c "[ $rc -eq 2 ] && grep -q 'nul.json: text after the JSON document at line' '$T/err'"
cp "$F/old.json" "$T/junk.json" && echo '{"more": 1}' >>"$T/junk.json"
run "$MMCERT" compare "$F/old.json" "$T/junk.json"
check "junk after the document is not called truncated" sh -c "[ $rc -eq 2 ] && grep -q 'text after the JSON document' '$T/err' && ! grep -q truncated '$T/err'"
run "$MMCERT" results show "$F/truncated.json"
check "a document that stops early is still called truncated" sh -c "[ $rc -eq 2 ] && grep -q 'truncated JSON' '$T/err'"

if python3 -c 'import jsonschema' 2>/dev/null; then
	validate() { # FILE: exit 0 when the JSON Schema accepts it
		python3 - "$SCHEMA" "$1" <<'PY'
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
errors = list(jsonschema.Draft202012Validator(schema).iter_errors(json.load(open(sys.argv[2]))))
for e in errors[:3]:
    print("#", "/".join(map(str, e.path)), e.message[:120])
sys.exit(1 if errors else 0)
PY
	}
	check "JSON Schema accepts a fresh run" validate "$T/run.json"
	check "JSON Schema accepts a fresh bench file" validate "$T/bench.json"
	for f in old slow newfail single-a; do
		check "JSON Schema accepts fixture $f" validate "$F/$f.json"
	done
	if validate "$F/schema1.json" >/dev/null; then
		n=$((n + 1)); echo "not ok $n - JSON Schema refuses schema version 1 (it accepted it)"
	else
		n=$((n + 1)); echo "ok $n - JSON Schema refuses schema version 1"
	fi
	for f in nokernel strtotals repeat-5 reps0 strdur badclass badhash; do
		if validate "$T/$f.json" >/dev/null; then
			n=$((n + 1)); echo "not ok $n - JSON Schema refuses $f too (it accepted it)"
		else
			n=$((n + 1)); echo "ok $n - JSON Schema refuses $f too"
		fi
	done
	mkdir "$T/mut"
	check "mutants: the JSON Schema and mmcert's reader agree on every one" \
		python3 "$HERE/schema_mutate.py" "$SCHEMA" "$MMCERT" "$T/mut" "$F/old.json" "$T/run.json"
else
	for d in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15; do
		n=$((n + 1))
		echo "ok $n # SKIP python3 jsonschema module not installed"
	done
fi
done_testing
