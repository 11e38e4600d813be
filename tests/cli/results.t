# results.t — `mmcert run --repeat`, progress, and the history:
# --repeat N keeps every sample and folds repetitions into one case; the
# progress line appears on a terminal (script(1)) and never otherwise;
# `results import` stores runs once (a duplicate is detected), is all or
# nothing (a bad file, a locked or corrupt database leave it unchanged, exit
# 2); `results list` filters by implementation, version and machine class.
. "$(dirname "$0")/lib.sh"
F=$(cd "$(dirname "$0")/../fixtures/results" && pwd)
cd "$T" || exit 1
REF=$MMCERT_BUILD/libmmref.so

# ---- repetitions
run "$MMCERT" run --impl "$REF" --case SET-1 --repeat 3 --json "$T/r.json"
check "--repeat 3: exit 0" status_is 0
check "--repeat 3: three test points" out_has "^ok 3 - SET-1 .*(repetition 3 of 3)$"
check "--repeat 3: plan of 3" out_has "^1\.\.3$"
check "--repeat 3: one case in the JSON with 3 repetitions" grep -q '"repetitions": 3' "$T/r.json"
check "--repeat 3: wall_time keeps 3 samples" sh -c "tr -d ' \n' < '$T/r.json' | grep -q '\"name\":\"wall_time\",\"unit\":\"s\",\"better\":\"\",\"samples\":\[[0-9.e-]*,[0-9.e-]*,[0-9.e-]*\]'"
check "--repeat 3: schema 2 with run id and machine class" sh -c "grep -q '\"schema_version\": 2' '$T/r.json' && grep -q '\"run_id\": \"[0-9a-f]\{32\}\"' '$T/r.json' && grep -q '\"class\": \"[0-9]*c-[0-9]*g-[0-9]*n-' '$T/r.json'"
check "--repeat 3: topology hash recorded" grep -q '"hash": "xxh64:[0-9a-f]\{16\}"' "$T/r.json"
check "stderr not a terminal: no progress line" sh -c "! grep -q 'case 1 of' '$T/err'"
run "$MMCERT" run --impl "$REF" --repeat 0
check "--repeat 0: exit 2" sh -c "[ $rc -eq 2 ] && grep -q \"repeat '0': expected an integer 1..1000\" '$T/err'"

if command -v script >/dev/null 2>&1; then
	script -q -c "'$MMCERT' run --impl '$REF' --case SET-1 --repeat 2 --json '$T/tty.json' >/dev/null" /dev/null >"$T/tty.out" 2>&1
	check "stderr a terminal: 'case n of m' progress" grep -q 'mmcert: case 2 of 2, [0-9]*:[0-9][0-9] elapsed, running SET-1 (repetition 2 of 2)' "$T/tty.out"
else
	n=$((n + 1))
	echo "ok $n # SKIP script(1) not installed: cannot give mmcert a terminal"
fi

# ---- import and list
DB=$T/h.db
run "$MMCERT" results import --db "$DB" "$F/old.json" "$F/slow.json"
check "import two files: exit 0" status_is 0
check "import two files: both imported" out_has "^2 imported, 0 already present"
run "$MMCERT" results import --db "$DB" "$F/old.json"
check "same run again: detected and skipped" sh -c "[ $rc -eq 0 ] && grep -q 'skipped: run fixture-old is already in the history' '$T/out'"
run "$MMCERT" results list --db "$DB"
check "list: 2 runs" out_has "^2 runs$"
run "$MMCERT" results list --db "$DB" --version 0.1.1
check "list --version 0.1.1: the slow run only" sh -c "grep -q '^1 run$' '$T/out' && grep -q 'fixture-slow' '$T/out'"
run "$MMCERT" results list --db "$DB" --impl reference --machine 2c-24g-1n-amd-epyc
check "list --impl --machine: both" out_has "^2 runs$"
run "$MMCERT" results list --db "$DB" --machine 64c-512g-8n-other
check "list --machine other: none" out_has "^0 runs$"

# ---- all or nothing
run "$MMCERT" results import --db "$DB" "$F/same.json" "$F/truncated.json"
check "batch with a truncated file: exit 2" status_is 2
check "batch with a truncated file: names it, says nothing imported" err_has "truncated.json: truncated JSON.*nothing imported"
run "$MMCERT" results list --db "$DB"
check "batch with a bad file: the good one was not imported either" out_has "^2 runs$"
run "$MMCERT" results import --db "$DB" "$F/schema1.json"
check "other schema version: exit 2" sh -c "[ $rc -eq 2 ] && grep -q 'schema_version 1' '$T/err'"
run "$MMCERT" results import --db "$DB" "$F/not-json.json"
check "not JSON: exit 2" sh -c "[ $rc -eq 2 ] && grep -q 'not valid JSON' '$T/err'"

# ---- a locked database: a second connection holds a write transaction
if command -v sqlite3 >/dev/null 2>&1 && command -v mkfifo >/dev/null 2>&1; then
	mkfifo "$T/sql"
	sqlite3 "$DB" <"$T/sql" >"$T/holder.out" 2>&1 &
	holder=$!
	exec 3>"$T/sql"
	echo "BEGIN IMMEDIATE; INSERT INTO schema_version VALUES(99); SELECT 'holding';" >&3
	# Wait for the lock to be held (bounded), never a fixed sleep.
	i=0
	while ! grep -q holding "$T/holder.out" && [ $i -lt 500 ]; do
		i=$((i + 1))
		sleep 0.01
	done
	run "$MMCERT" results import --db "$DB" "$F/same.json"
	check "locked database: exit 2" status_is 2
	check "locked database: says locked and what to do" err_has "database is locked.*try again"
	echo "ROLLBACK;" >&3
	exec 3>&-
	wait "$holder"
	run "$MMCERT" results list --db "$DB"
	check "locked database: left as it was" out_has "^2 runs$"
	run "$MMCERT" results import --db "$DB" "$F/same.json"
	check "after the lock is gone: import works" out_has "^1 imported"
else
	for d in "locked: exit 2" "locked: message" "locked: unchanged" "locked: import after"; do
		n=$((n + 1))
		echo "ok $n # SKIP sqlite3 or mkfifo missing: $d"
	done
fi

# ---- corrupt, foreign and missing databases
printf 'this is not a database, just garbage bytes %0512d\n' 0 >"$T/garbage.db"
cp "$T/garbage.db" "$T/garbage.orig"
run "$MMCERT" results import --db "$T/garbage.db" "$F/old.json"
check "garbage database: exit 2" status_is 2
check "garbage database: says it is not a database" err_has "garbage.db.*not a database"
check "garbage database: file untouched" cmp -s "$T/garbage.db" "$T/garbage.orig"
run "$MMCERT" results list --db "$T/garbage.db"
check "garbage database, list: exit 2" status_is 2
sqlite3 "$T/foreign.db" "CREATE TABLE t(x);" 2>/dev/null
run "$MMCERT" results import --db "$T/foreign.db" "$F/old.json"
check "someone else's SQLite database: exit 2, not an mmcert history" sh -c "[ $rc -eq 2 ] && grep -q 'not an mmcert history' '$T/err'"
sqlite3 "$T/v9.db" "CREATE TABLE schema_version(version INTEGER); INSERT INTO schema_version VALUES(9);" 2>/dev/null
run "$MMCERT" results list --db "$T/v9.db"
check "history of another schema version: exit 2" sh -c "[ $rc -eq 2 ] && grep -q 'schema version 9, this mmcert reads versions 1..2' '$T/err'"
run "$MMCERT" results list --db "$T/absent.db"
check "list without a database: exit 2, says how to make one" sh -c "[ $rc -eq 2 ] && grep -q 'no such database.*mmcert results import' '$T/err' && [ ! -e '$T/absent.db' ]"
run "$MMCERT" results import
check "import without files: exit 2" status_is 2
run "$MMCERT" results frobnicate
check "unknown subcommand: exit 2" sh -c "[ $rc -eq 2 ] && grep -q \"unknown subcommand 'frobnicate'\" '$T/err'"

# ---- default results names are never reused (one-second names were: runs
# in the same second, one after the other or at once, left one file)
mkdir "$T/uniq" && cd "$T/uniq" || exit 1
mkdir -p results/runs
now=$(date -u +%s)
for s in 0 1 2 3 4 5 6 7 8 9; do # an earlier run in this second and the next ones
	: >"results/runs/$(date -u -d "@$((now + s))" +%Y%m%d-%H%M%S)-test-minimal.json"
done
run "$MMCERT" run --impl "$IMPLS/minimal.so" --case SET-1
check "a name taken in this second: the run picks -2, the earlier file stays empty" sh -c "grep -q '^results: results/runs/[0-9-]*-test-minimal-2.json$' '$T/err' && [ \$(find results/runs -name '*-test-minimal.json' -size +0 | wc -l) -eq 0 ]"
rm -f results/runs/*
for i in 1 2 3 4; do
	"$MMCERT" run --impl "$IMPLS/minimal.so" --case SET-1 >/dev/null 2>"$T/c$i" &
done
wait
check "four runs at once: four results files" sh -c "[ \$(ls results/runs/*.json | wc -l) -eq 4 ]"
check "four runs at once: four different names said" sh -c "[ \$(cat '$T'/c[1-4] | grep '^results: ' | sort -u | wc -l) -eq 4 ]"
cd "$T" || exit 1

# ---- options wherever they stand; once when they take one value
run "$MMCERT" results import "$F/old.json" --db "$T/after.db"
check "import FILE --db PATH: into PATH" sh -c "[ $rc -eq 0 ] && grep -q 'into $T/after.db' '$T/out'"
check "import FILE --db PATH: the default history untouched" test ! -e "$T/results/history.db"
run "$MMCERT" results list --db "$T/after.db" --db "$T/other.db"
check "--db twice: refused, exit 2" sh -c "[ $rc -eq 2 ] && grep -q \"option '--db' given twice\" '$T/err'"
run "$MMCERT" results import --db "$T/fresh.db" "$F/old.json" "$F/truncated.json"
check "a failed import into a new history leaves no file, and says so" sh -c "[ $rc -eq 2 ] && grep -q 'nothing imported: no history was made' '$T/err' && [ ! -e '$T/fresh.db' ]"
run "$MMCERT" run --impl "$IMPLS/minimal.so" --case SET-1 --json "$T/a.json" --json "$T/b.json"
check "run --json twice: refused before running" sh -c "[ $rc -eq 2 ] && [ ! -s '$T/out' ] && grep -q \"option '--json' given twice\" '$T/err'"
run "$MMCERT" run --impl "$IMPLS/minimal.so" --case SET-1 --case SET-2 --json "$T/two.json"
check "run --case twice: both cases (a list)" sh -c "[ $rc -ne 2 ] && grep -q '^1\.\.2$' '$T/out'"
run "$MMCERT" compare "$F/old.json" --report-only "$F/same.json"
check "compare OLD --report-only NEW: the option read" status_is 0
run "$MMCERT" run --impl "$IMPLS/minimal.so" --case SET-1 --json /proc/mmcert-results.json
check "--json into an unwritable directory: exit 2 before anything ran" sh -c "[ $rc -eq 2 ] && [ ! -s '$T/out' ] && grep -q 'cannot write in /proc' '$T/err'"

# Default database path: results/history.db under the working directory.
run "$MMCERT" results import "$F/old.json"
check "default database results/history.db" sh -c "[ $rc -eq 0 ] && [ -s '$T/results/history.db' ]"
done_testing
