# history.t — the results history on both backends: an SQLite
# file and a database on the throw-away PostgreSQL server that make check
# starts (tests/pg-server.sh; without the server binaries the PostgreSQL
# half SKIPs with the reason). On each: imports are idempotent (a run
# imported twice is one row) and all or nothing; six processes importing
# overlapping sets at once leave every run exactly once; compare and report
# read db: selections through --db and through MMCERT_DB; a version-1
# history is migrated to the current version by the first open, a newer one
# refused. PostgreSQL only: a server that is down or refuses the user is a
# clear error (exit 2) that never shows the password; a server that refuses
# a statement half-way (no privilege on the samples table) leaves nothing
# imported; a database whose mmcert schema is not a history is refused.
. "$(dirname "$0")/lib.sh"
F=$(cd "$(dirname "$0")/../fixtures/results" && pwd)
cd "$T" || exit 1

# Twelve distinct runs (run ids c00..c11) made from one fixture.
python3 - "$F/old.json" "$T" <<'EOF' || exit 1
import json, sys
src, out = sys.argv[1], sys.argv[2]
doc = json.load(open(src))
for i in range(12):
    doc["run_id"] = "c%02d" % i
    doc["start_time"] = "2026-11-23T10:%02d:00Z" % i
    json.dump(doc, open("%s/c%02d.json" % (out, i), "w"))
EOF

# The history schema of version 1, as mmcert 0.1.0 made it.
V1="CREATE TABLE schema_version(version INTEGER NOT NULL);
CREATE TABLE runs(id INTEGER PRIMARY KEY, run_id TEXT NOT NULL UNIQUE, content_hash TEXT NOT NULL UNIQUE, file TEXT, imported_at TEXT NOT NULL, impl TEXT NOT NULL, version TEXT NOT NULL, abi INTEGER, machine_class TEXT NOT NULL, hostname TEXT, topology_hash TEXT NOT NULL, topology_summary TEXT, mode TEXT NOT NULL, mmcert_version TEXT, seed INTEGER, repeat INTEGER, start_time TEXT NOT NULL, end_time TEXT, pass INTEGER, fail INTEGER, skip INTEGER, broken INTEGER, doc TEXT NOT NULL);
CREATE TABLE checks(run INTEGER NOT NULL REFERENCES runs(id), case_id TEXT NOT NULL, check_id TEXT, name TEXT NOT NULL, spec_ids TEXT, verdict TEXT NOT NULL, diag TEXT);
CREATE TABLE samples(run INTEGER NOT NULL REFERENCES runs(id), case_id TEXT NOT NULL, metric TEXT NOT NULL, unit TEXT, better TEXT, idx INTEGER NOT NULL, value REAL NOT NULL);
INSERT INTO schema_version VALUES(1);"

# sql BACKEND DB STATEMENTS: run SQL on a history, print the rows.
sql() {
	if [ "$1" = sqlite ]; then
		sqlite3 "$2" "$3"
	else
		"$MMCERT_TEST_PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 "$2" -c "SET search_path TO mmcert, public" -c "$3"
	fi
}

# new_db BACKEND NAME: a fresh, empty history location, printed.
new_db() {
	if [ "$1" = sqlite ]; then
		echo "$T/$2.db"
		return
	fi
	"$MMCERT_TEST_PG_BIN/psql" -X -q "$MMCERT_TEST_PG" -c "DROP DATABASE IF EXISTS $2 WITH (FORCE)" -c "CREATE DATABASE $2" >/dev/null 2>&1
	echo "${MMCERT_TEST_PG%/*}/$2"
}

backend_tests() {
	B=$1
	DB=$(new_db "$B" "hist_$$")
	run "$MMCERT" results import --db "$DB" "$F/old.json" "$F/slow.json"
	check "$B: import two files" sh -c "[ $rc -eq 0 ] && grep -q '^2 imported, 0 already present' '$T/out'"
	run "$MMCERT" results import --db "$DB" "$F/old.json"
	check "$B: the same run again: skipped" sh -c "[ $rc -eq 0 ] && grep -q 'skipped: run fixture-old is already in the history' '$T/out'"
	check "$B: ... one row" [ "$(sql "$B" "$DB" "SELECT count(*) FROM runs WHERE run_id = 'fixture-old'")" = 1 ]
	run "$MMCERT" results import --db "$DB" "$F/same.json" "$F/truncated.json"
	check "$B: batch with a truncated file: exit 2, nothing imported" sh -c "[ $rc -eq 2 ] && grep -q 'truncated.json: truncated JSON.*nothing imported' '$T/err'"
	run "$MMCERT" results list --db "$DB"
	check "$B: ... the good file of the batch is not there either" out_has "^2 runs$"
	run "$MMCERT" results list --db "$DB" --version 0.1.1
	check "$B: list --version 0.1.1" sh -c "grep -q '^1 run$' '$T/out' && grep -q 'fixture-slow' '$T/out'"

	# Six importers at once, overlapping sets: each run lands once.
	i=0
	pids=
	while [ $i -lt 6 ]; do
		a=$(((i * 2) % 12)) b=$(((i * 2 + 1) % 12)) c=$(((i * 2 + 5) % 12)) d=$(((i * 2 + 7) % 12))
		"$MMCERT" results import --db "$DB" "$(printf '%s/c%02d.json' "$T" $a)" \
			"$(printf '%s/c%02d.json' "$T" $b)" "$(printf '%s/c%02d.json' "$T" $c)" \
			"$(printf '%s/c%02d.json' "$T" $d)" >"$T/imp$i.out" 2>"$T/imp$i.err" &
		pids="$pids $!"
		i=$((i + 1))
	done
	bad=0
	for p in $pids; do wait "$p" || bad=$((bad + 1)); done
	rc=$bad
	cat "$T"/imp*.err >"$T/err"
	cat "$T"/imp*.out >"$T/out"
	check "$B: six concurrent importers all succeed" status_is 0
	total=$(sed -n 's/^\([0-9]*\) imported.*/\1/p' "$T"/imp*.out | awk '{s += $1} END {print s}')
	check "$B: ... importing 12 distinct runs between them ($total)" [ "$total" = 12 ]
	check "$B: ... each stored once" [ "$(sql "$B" "$DB" "SELECT count(*) FROM runs WHERE run_id LIKE 'c%'")" = 12 ]
	check "$B: ... with all their samples" [ "$(sql "$B" "$DB" "SELECT count(*) FROM samples s JOIN runs r ON s.run = r.id WHERE r.run_id LIKE 'c%'")" = $((12 * 24)) ]

	run "$MMCERT" compare --db "$DB" db:version=0.1.0 db:version=0.1.1
	check "$B: compare of two selections: regressed" sh -c "[ $rc -eq 1 ] && grep -q 'migration_throughput.*regressed' '$T/out'"
	MMCERT_DB=$DB run "$MMCERT" compare db:run=c0 db:version=0.1.1
	check "$B: MMCERT_DB names the history" sh -c "[ $rc -eq 1 ] && grep -q '10 runs' '$T/out'"
	MMCERT_DB=$DB run "$MMCERT" report db:run=c03 -o "$T/rep-$B"
	check "$B: report of a selection through MMCERT_DB" sh -c "[ $rc -eq 0 ] && grep -q 'runs pooled' '$T/rep-$B/index.html'"

	# Version 1 is migrated by the first open; a newer version is refused.
	V1DB=$(new_db "$B" "v1_$$")
	if [ "$B" = pg ]; then # what step 1 of the schema makes on PostgreSQL
		"$MMCERT_TEST_PG_BIN/psql" -X -q "$V1DB" -c "CREATE SCHEMA mmcert" >/dev/null
		sql "$B" "$V1DB" "$(echo "$V1" | sed 's/id INTEGER PRIMARY KEY/id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY/')"
	else
		sql "$B" "$V1DB" "$V1"
	fi
	run "$MMCERT" results import --db "$V1DB" "$F/old.json"
	check "$B: a version 1 history: migrated and imported into" sh -c "[ $rc -eq 0 ] && grep -q 'schema version 1 migrated to 2' '$T/err' && grep -q '^1 imported' '$T/out'"
	check "$B: ... now version 2, with the qualifications table" [ "$(sql "$B" "$V1DB" "SELECT version FROM schema_version"):$(sql "$B" "$V1DB" "SELECT count(*) FROM qualifications")" = "2:0" ]
	sql "$B" "$V1DB" "UPDATE schema_version SET version = 9"
	run "$MMCERT" results list --db "$V1DB"
	check "$B: a newer history: refused" sh -c "[ $rc -eq 2 ] && grep -q 'schema version 9, this mmcert reads versions 1..2' '$T/err'"
}

backend_tests sqlite

if [ -n "${MMCERT_TEST_PG:-}" ]; then
	backend_tests pg
	PG=$MMCERT_TEST_PG
	HOSTPORT=${PG#*@}
	HOSTPORT=${HOSTPORT%%/*}
	run "$MMCERT" results import --db "postgresql://mmcert:s3cret@127.0.0.1:1/x" "$F/old.json"
	check "pg: a server that is down: exit 2, says it cannot connect" sh -c "[ $rc -eq 2 ] && grep -q 'cannot connect: .*127.0.0.1.*is the server up' '$T/err'"
	check "pg: ... and never shows the password" sh -c "grep -q 'mmcert:\*\*\*@' '$T/err' && ! grep -q s3cret '$T/err'"
	MMCERT_DB="postgresql://127.0.0.1:1/x?password=s3cret" run "$MMCERT" results list
	check "pg: MMCERT_DB pointing at it: exit 2, password masked" sh -c "[ $rc -eq 2 ] && grep -q 'password=\*\*\*' '$T/err' && ! grep -q s3cret '$T/err'"
	run "$MMCERT" results list --db "postgresql://nosuchuser@$HOSTPORT/postgres"
	check "pg: a server that refuses the user: exit 2 with its reason" sh -c "[ $rc -eq 2 ] && grep -q 'role \"nosuchuser\" does not exist' '$T/err'"

	# A user that may insert runs but not samples: the server refuses half-way.
	RDB=$(new_db pg "refuse_$$")
	"$MMCERT" results import --db "$RDB" "$F/old.json" >/dev/null 2>&1
	"$MMCERT_TEST_PG_BIN/psql" -X -q "$RDB" -c "DROP ROLE IF EXISTS limited_$$" -c "CREATE ROLE limited_$$ LOGIN" \
		-c "GRANT USAGE ON SCHEMA mmcert TO limited_$$" -c "GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA mmcert TO limited_$$" \
		-c "REVOKE INSERT ON mmcert.samples FROM limited_$$" >/dev/null 2>&1
	LIMITED="postgresql://limited_$$@$HOSTPORT/refuse_$$"
	run "$MMCERT" results import --db "$LIMITED" "$F/same.json"
	check "pg: refused half-way (samples): exit 2, names the table" sh -c "[ $rc -eq 2 ] && grep -q 'permission denied for table samples.*nothing imported' '$T/err'"
	check "pg: ... nothing half-imported: the run is not there" [ "$(sql pg "$RDB" "SELECT count(*) FROM runs")" = 1 ]
	"$MMCERT_TEST_PG_BIN/psql" -X -q "$RDB" -c "CREATE SCHEMA other" -c "DROP SCHEMA mmcert CASCADE" -c "CREATE SCHEMA mmcert" -c "CREATE TABLE mmcert.t(x int)" >/dev/null 2>&1
	run "$MMCERT" results list --db "$RDB"
	check "pg: an mmcert schema that is not a history: refused" sh -c "[ $rc -eq 2 ] && grep -q 'not an mmcert history' '$T/err'"
	for d in "hist_$$" "v1_$$" "refuse_$$"; do
		"$MMCERT_TEST_PG_BIN/psql" -X -q "$PG" -c "DROP DATABASE IF EXISTS $d WITH (FORCE)" >/dev/null 2>&1
	done
	"$MMCERT_TEST_PG_BIN/psql" -X -q "$PG" -c "DROP ROLE IF EXISTS limited_$$" >/dev/null 2>&1
elif [ -n "${MMCERT_TEST_PG_BROKEN:-}" ]; then
	n=$((n + 1))
	echo "not ok $n - PostgreSQL server did not start: $MMCERT_TEST_PG_BROKEN"
else
	n=$((n + 1))
	echo "ok $n # SKIP PostgreSQL history tests: ${MMCERT_TEST_PG_SKIP:-MMCERT_TEST_PG not set (make check starts a server)}"
fi
done_testing
