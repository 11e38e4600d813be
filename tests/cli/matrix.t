# matrix.t — mmcert report --matrix: certificates side by side, one row per
# SPEC id (doc/conformance.md); bad input exits 2 and writes nothing.
. "$(dirname "$0")/lib.sh"

"$MMCERT" run --case SET-1 --json "$T/ref.json" >/dev/null 2>&1
"$MMCERT" run --impl "$IMPLS/minimal.so" --case SET-1 --json "$T/min.json" >/dev/null 2>&1
"$MMCERT" run --impl "$MMCERT_BUILD/libmmlinux.so" --case SET-1 --json "$T/lin.json" >/dev/null 2>&1
check "three runs wrote results" [ -s "$T/ref.json" ] && [ -s "$T/min.json" ] && [ -s "$T/lin.json" ]

run "$MMCERT" report --matrix "$T/ref.json" "$T/min.json" "$T/lin.json" -o "$T/m.md"
check "matrix of three: exit 0" status_is 0
check "says where it wrote" out_has "matrix: $T/m.md"
ids=$("$MMCERT" list --spec | grep -c '^[A-Z][A-Z]*-[0-9]')
rows=$(grep -c '^| [A-Z][A-Z]*-[0-9][0-9]* | ' "$T/m.md")
check "one row per SPEC id ($ids)" [ "$rows" -eq "$ids" ]
check "a column per certificate, named" grep -q '| 1: reference .* | 2: test-minimal .* | 3: linux .* |' "$T/m.md"
check "SET-1 shown for the reference" grep -q '^| SET-1 | [^|]* | \*\*shown\*\* |' "$T/m.md"
check "Linux's SET-1 cell names what it lacks" grep -q '^| SET-1 |.*Linux has no' "$T/m.md"
check "ids outside a --case run's scope say so" grep -q '^| TPS-1 |.*not in this certificate' "$T/m.md"
check "verdicts in the column table" grep -q '| 1 | reference .*| \(CERTIFIED\|INCOMPLETE\|NOT CERTIFIED\) |' "$T/m.md"
check "no cell breaks the table (no stray |)" awk -F'\\|' '/^\| [A-Z]+-[0-9]+ \|/ && NF != 7 {bad=1} END {exit bad}' \
	"$(sed 's/\\|/X/g' "$T/m.md" >"$T/m2.md"; echo "$T/m2.md")"

run "$MMCERT" report --matrix "$T/ref.json" "$T/missing.json" -o "$T/bad.md"
check "a missing file: exit 2" status_is 2
check "a missing file: named" err_has "missing.json"
check "a missing file: nothing written" [ ! -e "$T/bad.md" ]
echo '{"schema":"mmcert-results"}' >"$T/junk.json"
run "$MMCERT" report --matrix "$T/junk.json"
check "not a valid results file: exit 2" status_is 2
check "not a valid results file: named" err_has "junk.json"
run "$MMCERT" report --matrix
check "no file: exit 2 with a message" status_is 2
check "no file: says what is needed" err_has "at least one"
done_testing
