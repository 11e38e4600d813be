# ci.t — the suite's TAP in CI dashboards (doc/ci.md): Debian 12's prove
# turns a saved `mmcert run` TAP stream into JUnit XML
# (TAP::Formatter::JUnit, libtap-formatter-junit-perl) and into an HTML page
# (TAP::Formatter::HTML, libtap-formatter-html-perl), and a failing run
# shows up as a failure in the JUnit XML with prove exiting 1.
. "$(dirname "$0")/lib.sh"
cd "$T" || exit 1
REF=$MMCERT_BUILD/libmmref.so

has_formatter() { perl -M"$1" -e 1 2>/dev/null; }
skip() {
	n=$((n + 1))
	echo "ok $n # SKIP $1"
}

"$MMCERT" run --impl "$REF" --case 'SET-*' --json "$T/ok.json" >"$T/run.tap" 2>/dev/null
"$MMCERT" run --impl "$MMCERT_BUILD/tests/impls/wrong_default.so" --case 'SET-*' \
	--json "$T/bad.json" >"$T/fail.tap" 2>/dev/null

if has_formatter TAP::Formatter::JUnit; then
	run prove --formatter TAP::Formatter::JUnit --exec cat "$T/run.tap"
	check "JUnit: prove exits 0 on a passing run" status_is 0
	check "JUnit: XML with the case as a testcase" out_has '<testcase name="1 - SET-1 every documented setting'
	check "JUnit: no failures" out_has 'failures="0"'
	run prove --formatter TAP::Formatter::JUnit --exec cat "$T/fail.tap"
	check "JUnit: prove exits 1 on a failing run" status_is 1
	check "JUnit: the failure is in the XML" out_has '<failure'
	check "JUnit: the failing run counts one failure" out_has 'failures="1"'
else
	for d in 1 2 3 4 5; do skip "TAP::Formatter::JUnit missing (libtap-formatter-junit-perl)"; done
fi

if has_formatter TAP::Formatter::HTML; then
	TAP_FORMATTER_HTML_OUTFILE=$T/tap.html run prove -q --formatter TAP::Formatter::HTML \
		--exec cat "$T/run.tap"
	check "HTML: prove exits 0" status_is 0
	check "HTML: page written to TAP_FORMATTER_HTML_OUTFILE" grep -q '<html' "$T/tap.html"
	check "HTML: the case is on the page" grep -q 'SET-1 every documented setting' "$T/tap.html"
else
	for d in 1 2 3; do skip "TAP::Formatter::HTML missing (libtap-formatter-html-perl)"; done
fi
done_testing
