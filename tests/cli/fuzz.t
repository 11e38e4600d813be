# fuzz.t — the committed fuzz corpus as a regression test: every fuzz
# target (tests/fuzz/fuzz_*.c) linked with tests/fuzz/replay.c by the
# ordinary compiler runs each input under tests/fuzz/corpus/<target>/, so
# an input that once broke a parser (committed after the fix) keeps
# checking it without clang. A broken property aborts the replay.
# Under sanitizers the same inputs run at the start of every `make
# fuzz-run` (CI): libFuzzer runs its whole corpus first.
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CORPUS=$ROOT/tests/fuzz/corpus

for src in "$ROOT"/tests/fuzz/fuzz_*.c; do
	t=$(basename "$src" .c)
	check "$t: has a corpus" sh -c "ls '$CORPUS/$t'/* >/dev/null 2>&1"
	run "$MMCERT_BUILD/fuzz-replay/$t" "$CORPUS/$t"
	check "$t: every input of its corpus replays ($(ls "$CORPUS/$t" 2>/dev/null | wc -l) inputs)" \
		sh -c "[ $rc -eq 0 ] && grep -q '^[1-9][0-9]* inputs replayed$' '$T/out'"
done

done_testing
