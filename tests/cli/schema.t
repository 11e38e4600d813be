# schema.t — doc/results.schema.json (the documented schema) and mmcert's
# own validator (suite/results_read.c) agree: a fresh run's results and the
# good fixtures pass both, the schema-1 fixture fails both. The JSON Schema
# side needs python3 with the jsonschema module; SKIP without it.
. "$(dirname "$0")/lib.sh"
F=$(cd "$(dirname "$0")/../fixtures/results" && pwd)
SCHEMA=$(cd "$(dirname "$0")/../../doc" && pwd)/results.schema.json
cd "$T" || exit 1

"$MMCERT" run --impl "$MMCERT_BUILD/libmmref.so" --case 'SET-*' --repeat 2 --json "$T/run.json" >/dev/null 2>&1
"$MMCERT" bench access --impl "$MMCERT_BUILD/libmmref.so" --json "$T/bench.json" >/dev/null 2>&1
run "$MMCERT" results show "$T/run.json" "$T/bench.json" "$F/old.json" "$F/single-a.json"
check "mmcert's validator accepts a fresh run, a bench file and the fixtures" status_is 0
run "$MMCERT" results show "$F/schema1.json"
check "mmcert's validator refuses schema version 1" status_is 2

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
else
	for d in 1 2 3 4 5 6 7; do
		n=$((n + 1))
		echo "ok $n # SKIP python3 jsonschema module not installed"
	done
fi
done_testing
